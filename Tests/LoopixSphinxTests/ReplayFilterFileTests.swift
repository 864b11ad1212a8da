// The file-backed replay filter: what survives a restart, what a reboot refuses, and hostile files.
import CLoopixSphinx
import Foundation
@testable import LoopixSphinx
import Testing

/// A folder of its own for each test, removed afterwards.
private final class FilterFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String = "sphinx-7.filter") -> String { url.appendingPathComponent(name).path }
}

private func randomTags(_ n: Int) -> [ReplayTag] {
    (0..<n).map { _ in ReplayTag(storage: Bytes32(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })!) }
}

private let thisBoot = try! BootID.current()
private let otherBoot = thisBoot.map { $0 ^ 0x5a }

/// The filter of epoch 7 in `folder`'s file, opened in `boot`.
private func openFile(_ folder: FilterFolder, capacity: UInt64, boot: [UInt8] = thisBoot) throws -> ReplayFilter {
    try ReplayFilter(file: folder.path(), liveDirectory: nil, capacity: capacity, falsePositiveRate: 1e-6, epoch: 7,
                     bootID: boot)
}

/// Every one of `tags` is a replay to `filter`.
private func expectRefused(_ tags: [ReplayTag], by filter: ReplayFilter, sourceLocation: SourceLocation = #_sourceLocation) {
    for t in tags { #expect(throws: SphinxError.replay, sourceLocation: sourceLocation) { try filter.insert(t) } }
}

@Suite("Replay filter files")
struct ReplayFilterFileTests {
    @Test("the boot id: 16 bytes, not all zero, the same each time it is read")
    func bootID() throws {
        #expect(thisBoot.count == Int(lsx_replay_boot_id_bytes()))
        #expect(thisBoot.contains { $0 != 0 })
        #expect(try BootID.current() == thisBoot)
        #expect(BootID.parse(Array("6f1c3a55-0b9e-4b8e-9d3c-2f5e6a7b8c9d\n".utf8))?.count == 16)
        #expect(BootID.parse(Array("6f1c3a55-0b9e".utf8)) == nil)
        #expect(BootID.parse(Array("00000000-0000-0000-0000-000000000000".utf8)) == nil)
    }

    @Test("a new file is 0600, and a filter reopened after a clean close refuses every tag it recorded")
    func cleanClose() throws {
        let folder = try FilterFolder()
        let tags = randomTags(500)
        do {
            let f = try ReplayFilter(file: folder.path(), capacity: 10_000, epoch: 7) // the public form
            #expect(f.filePath == folder.path() && f.capacity == 10_000 && f.epoch == 7)
            for t in tags { try f.insert(t) }
            try f.close()
            #expect(throws: SphinxError.replayFilterFull) { try f.insert(randomTags(1)[0]) }
            #expect(f.contains(tags[0]))
        }
        let mode = try FileManager.default.attributesOfItem(atPath: folder.path())[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Closed cleanly: good in this boot and in any later one.
        let again = try openFile(folder, capacity: 10_000, boot: otherBoot)
        #expect(again.count == 500)
        expectRefused(tags, by: again)
        try again.insert(randomTags(1)[0])
    }

    @Test("released without close (as a killed process): this boot still refuses every tag, another boot refuses the file")
    func releasedWithoutClose() throws {
        let folder = try FilterFolder()
        let tags = randomTags(300)
        do {
            let f = try openFile(folder, capacity: 1000)
            for t in tags { try f.insert(t) }
        }
        // A reboot since: the page cache that held the newest tags is gone.
        #expect(throws: ReplayFilterFileError.mayHaveLostTags(path: folder.path())) {
            try openFile(folder, capacity: 1000, boot: otherBoot)
        }
        // The same boot: nothing was lost.
        let again = try openFile(folder, capacity: 1000)
        #expect(again.count == 300)
        expectRefused(tags, by: again)
    }

    @Test("a packet processed before a restart is a replay after it")
    func packetAcrossRestart() throws {
        let folder = try FilterFolder()
        let route = try TestRoute(geometry: .standard, length: 2, last: .drop(delayMicroseconds: 0))
        let packet = try Sphinx.createPacket(geometry: .standard, route: route.hops, message: [])
        do {
            let filter = try ReplayFilter(file: folder.path(), capacity: 1000, epoch: 7)
            let node = try PacketProcessor(geometry: .standard, secretKey: route.keys[0], replayFilter: filter)
            _ = try node.process(packet)
            #expect(throws: SphinxError.replay) { try node.process(packet) }
        }
        let filter = try ReplayFilter(file: folder.path(), capacity: 1000, epoch: 7)
        let restarted = try PacketProcessor(geometry: .standard, secretKey: route.keys[0], replayFilter: filter)
        #expect(throws: SphinxError.replay) { try restarted.process(packet) }
    }

    @Test("one process at a time, and a file in use is not removed")
    func inUse() throws {
        let folder = try FilterFolder()
        let f = try ReplayFilter(file: folder.path(), capacity: 1000, epoch: 7)
        #expect(throws: ReplayFilterFileError.inUse(path: folder.path())) {
            try ReplayFilter(file: folder.path(), capacity: 1000, epoch: 7)
        }
        #expect(throws: ReplayFilterFileError.inUse(path: folder.path())) { try ReplayFilter.removeFile(at: folder.path()) }
        try f.insert(randomTags(1)[0])
    }

    @Test("removing a retired filter's file, and a missing one")
    func remove() throws {
        let folder = try FilterFolder()
        do { _ = try ReplayFilter(file: folder.path(), capacity: 1000, epoch: 7) }
        try ReplayFilter.removeFile(at: folder.path())
        #expect(!FileManager.default.fileExists(atPath: folder.path()))
        try ReplayFilter.removeFile(at: folder.path())
        // Only the filter's own file was ever made: no temporary one is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path).isEmpty)
    }

    @Test("files it cannot use: another epoch's, cut short, overwritten, readable by others, not a filter")
    func hostileFiles() throws {
        let folder = try FilterFolder()
        let path = folder.path()
        do { try ReplayFilter(file: path, capacity: 1000, epoch: 7).close() }
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: ReplayFilterFileError.badLayout(path: path)) { try ReplayFilter(file: path, capacity: 1000, epoch: 8) }

        func replace(with bytes: Data, mode: Int = 0o600) throws {
            try? FileManager.default.removeItem(atPath: path)
            #expect(FileManager.default.createFile(atPath: path, contents: bytes, attributes: [.posixPermissions: mode]))
        }
        try replace(with: good.prefix(good.count - 64))
        #expect(throws: ReplayFilterFileError.badLayout(path: path)) { try ReplayFilter(file: path, capacity: 1000, epoch: 7) }
        try replace(with: good.prefix(10))
        #expect(throws: ReplayFilterFileError.badLayout(path: path)) { try ReplayFilter(file: path, capacity: 1000, epoch: 7) }
        try replace(with: Data())
        #expect(throws: ReplayFilterFileError.badLayout(path: path)) { try ReplayFilter(file: path, capacity: 1000, epoch: 7) }
        var corrupted = good
        corrupted[40] ^= 1 // inside the hash key
        try replace(with: corrupted)
        #expect(throws: ReplayFilterFileError.badLayout(path: path)) { try ReplayFilter(file: path, capacity: 1000, epoch: 7) }
        try replace(with: good, mode: 0o644)
        #expect(throws: ReplayFilterFileError.permissions(path: path, mode: 0o644)) {
            try ReplayFilter(file: path, capacity: 1000, epoch: 7)
        }
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        #expect(throws: ReplayFilterFileError.self) { try ReplayFilter(file: path, capacity: 1000, epoch: 7) }
        // The good bytes again: still a good filter.
        try FileManager.default.removeItem(atPath: path)
        try replace(with: good)
        #expect(try ReplayFilter(file: path, capacity: 1000, epoch: 7).count == 0)
    }

    @Test("sizes the core refuses are refused before any file is made")
    func badSizes() throws {
        let folder = try FilterFolder()
        #expect(throws: ReplayFilterFileError.sphinx(.invalidArgument)) {
            try ReplayFilter(file: folder.path(), capacity: 0, epoch: 7)
        }
        #expect(throws: ReplayFilterFileError.sphinx(.invalidArgument)) {
            try ReplayFilter(file: folder.path(), capacity: 100, falsePositiveRate: 0.9, epoch: 7)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path).isEmpty)
    }
}

/// A filter whose live copy is in a folder of its own (a memory filesystem in production), and whose
/// durable file is written only when it is closed.
@Suite("Replay filter files with a live copy")
struct ReplayFilterLiveCopyTests {
    /// A reboot, as a live copy sees one: the memory filesystem is empty again.
    private func reboot(_ folder: FilterFolder) throws {
        try FileManager.default.removeItem(at: folder.url.appendingPathComponent("live"))
    }

    private func open(_ folder: FilterFolder, boot: [UInt8] = thisBoot, epoch: UInt64 = 7) throws -> ReplayFilter {
        try ReplayFilter(file: folder.path(), liveDirectory: folder.path("live"), capacity: 2000,
                         falsePositiveRate: 1e-6, epoch: epoch, bootID: boot)
    }

    private func durableIsMarker(_ folder: FilterFolder) throws -> Bool {
        try Data(contentsOf: URL(fileURLWithPath: folder.path())) == Data(ReplayFilterDurableCopy.marker)
    }

    /// Records `count` new tags in a process that then closes the filter, or not (as if killed).
    private func record(_ count: Int, in folder: FilterFolder, closing: Bool) throws -> [ReplayTag] {
        let tags = randomTags(count)
        let f = try open(folder)
        for t in tags { try f.insert(t) }
        if closing { try f.close() }
        return tags
    }

    @Test("killed and restarted in the same boot: the live copy keeps every tag; after a reboot the key is refused")
    func killed() throws {
        let folder = try FilterFolder()
        let tags = try record(400, in: folder, closing: false)
        #expect(try durableIsMarker(folder))
        let again = try open(folder)
        #expect(again.filePath == folder.path("live") + "/sphinx-7.filter")
        expectRefused(tags, by: again)
        _ = consume again
        try reboot(folder)
        #expect(throws: ReplayFilterFileError.mayHaveLostTags(path: folder.path())) { try open(folder, boot: otherBoot) }
        // ... and every time after.
        #expect(throws: ReplayFilterFileError.mayHaveLostTags(path: folder.path())) { try open(folder, boot: otherBoot) }
    }

    @Test("closed cleanly: the durable file holds every tag across a reboot, and is a marker again once reopened")
    func cleanClose() throws {
        let folder = try FilterFolder()
        let tags = try record(400, in: folder, closing: true), later = randomTags(50)
        #expect(try !durableIsMarker(folder))
        let mode = try FileManager.default.attributesOfItem(atPath: folder.path())[.posixPermissions] as? Int
        #expect(mode == 0o600)
        try reboot(folder)
        do {
            let f = try open(folder, boot: otherBoot)
            #expect(f.count == 400)
            expectRefused(tags, by: f)
            // Live again: a power loss from now on must not find a clean file that lacks these.
            #expect(try durableIsMarker(folder))
            for t in later { try f.insert(t) }
        }
        try reboot(folder)
        #expect(throws: ReplayFilterFileError.mayHaveLostTags(path: folder.path())) { try open(folder) }
    }

    @Test("closed and reopened in the same boot: the live copy is used and the durable file marked live again")
    func reopenSameBoot() throws {
        let folder = try FilterFolder()
        let tags = try record(100, in: folder, closing: true)
        do {
            let f = try open(folder)
            expectRefused(tags, by: f)
            #expect(try durableIsMarker(folder))
        }
        try ReplayFilter.removeFile(at: folder.path(), liveDirectory: folder.path("live"))
        #expect(!FileManager.default.fileExists(atPath: folder.path()))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path("live")).isEmpty)
    }

    @Test("a durable file of another epoch, or overwritten, is refused; one a process maps alone is in use")
    func hostile() throws {
        let folder = try FilterFolder()
        do { try open(folder).close() }
        try reboot(folder)
        #expect(throws: ReplayFilterFileError.badLayout(path: folder.path())) { try open(folder, epoch: 8) }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: folder.path()))
        bytes[20] ^= 1
        try bytes.write(to: URL(fileURLWithPath: folder.path()))
        #expect(throws: ReplayFilterFileError.badLayout(path: folder.path())) { try open(folder) }
        try ReplayFilter.removeFile(at: folder.path(), liveDirectory: folder.path("live"))
        let alone = try ReplayFilter(file: folder.path(), capacity: 2000, epoch: 7)
        #expect(throws: ReplayFilterFileError.inUse(path: folder.path())) { try open(folder) }
        try alone.insert(randomTags(1)[0])
    }
}
