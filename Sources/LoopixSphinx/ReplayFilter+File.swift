// A replay filter kept in a file, so that a node restarted within a key epoch still refuses every
// packet it processed before (docs/c-api.md, "Replay filter", says what a power loss can lose).
import CLoopixSphinx

/// Why a replay filter's file could not be opened, closed or removed. Whatever the case, a node
/// must not use the epoch's key with a filter it could not open: it skips to the next epoch's key.
public enum ReplayFilterFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file was left open (never closed cleanly) in an earlier boot: tags recorded shortly before a
    /// power loss or a kernel crash may be missing from it. Its epoch's key must never be used again.
    case mayHaveLostTags(path: String)
    /// The file does not hold a valid filter of the epoch asked for (corrupted, cut short, another
    /// epoch's, or no filter at all).
    case badLayout(path: String)
    /// Another process has the file open (a second node on the same folder, or one still stopping).
    case inUse(path: String)
    /// Others than its owner may read or write the file.
    case permissions(path: String, mode: Int)
    /// A system call failed (`errno` as it reported it).
    case system(path: String, call: String, errno: Int32)
    /// The core refused the sizes or could not start.
    case sphinx(SphinxError)

    public var description: String {
        switch self {
        case .mayHaveLostTags(let path): "replay filter \(path) was not closed cleanly before a reboot: it may have lost tags"
        case .badLayout(let path): "replay filter \(path) is not a valid filter of this epoch"
        case .inUse(let path): "replay filter \(path) is in use by another process"
        case .permissions(let path, let mode): "replay filter \(path) has mode \(String(mode, radix: 8)); it must be 0600"
        case .system(let path, let call, let code): "replay filter \(path): \(call) failed (errno \(code))"
        case .sphinx(let error): "replay filter: \(error)"
        }
    }
}

extension ReplayFilter {
    /// The filter of key epoch `epoch` kept in the file at `path`: its tags as it recorded them, or a
    /// new empty filter of `capacity` tags in a new file (mode 0600) when there is none. The file is
    /// locked for this process and mapped MAP_SHARED, so that the tags recorded before this process is
    /// killed are still there for the next one; `close()` makes them durable across a reboot too.
    ///
    /// With `liveDirectory` (a memory filesystem that outlives the process but not the boot, such as
    /// a folder in /dev/shm), the mapped file lives there instead, under the same name, and `path`
    /// holds only a marker until `close()` writes the whole filter to it: the kernel then never
    /// writes the filter's pages back to the disk while it runs, and no insert pays for a page the
    /// writeback has write-protected. What survives what is the same in both forms.
    ///
    /// Throws, and the node must not use the epoch's key, for a file it cannot use as it is
    /// (`.mayHaveLostTags` after a power loss or kernel crash, `.badLayout`, `.inUse`, ...).
    public convenience init(
        file path: String, liveDirectory: String? = nil, capacity: UInt64, falsePositiveRate: Double = 1e-6,
        epoch: UInt64
    ) throws(ReplayFilterFileError) {
        try self.init(file: path, liveDirectory: liveDirectory, capacity: capacity,
                      falsePositiveRate: falsePositiveRate, epoch: epoch, bootID: BootID.current())
    }

    /// The same, in boot `bootID` (tests play a reboot with another id).
    convenience init(
        file path: String, liveDirectory: String?, capacity: UInt64, falsePositiveRate: Double, epoch: UInt64,
        bootID: [UInt8]
    ) throws(ReplayFilterFileError) {
        do throws(SphinxError) { try Sphinx.initialize() } catch { throw .sphinx(error) }
        let live = liveDirectory.map { Self.livePath(for: path, in: $0) } ?? path
        // Two attempts: another process may publish the file between our look and our own publication.
        for _ in 0..<2 {
            if let file = try ReplayFilterFile.openExisting(live) {
                let pointer = try Self.attach(file, epoch: epoch, bootID: bootID)
                if live != path { try Self.markLive(path, pointer) }
                self.init(pointer: pointer, file: file, durablePath: live != path ? path : nil)
                return
            }
            let made: (ReplayFilterFile, OpaquePointer)?
            if live == path {
                made = try Self.create(path, capacity: capacity, falsePositiveRate: falsePositiveRate, epoch: epoch,
                                       bootID: bootID)
            } else {
                try ReplayFilterFile.makeFolder(liveDirectory!)
                made = try Self.createLive(live, from: path, capacity: capacity, falsePositiveRate: falsePositiveRate,
                                           epoch: epoch, bootID: bootID)
            }
            if let (file, pointer) = made {
                self.init(pointer: pointer, file: file, durablePath: live != path ? path : nil)
                return
            }
        }
        throw .inUse(path: live)
    }

    /// Removes the file of a retired filter (once its epoch's key is gone: with the key still on the
    /// disk, a filter removed too early could be made again empty), and its live copy if it has one
    /// in `liveDirectory`. Nothing if there is none; `.inUse` while a process has it open.
    public static func removeFile(at path: String, liveDirectory: String? = nil) throws(ReplayFilterFileError) {
        if let liveDirectory { try ReplayFilterFile.remove(livePath(for: path, in: liveDirectory)) }
        try ReplayFilterFile.remove(path)
    }

    /// Stops recording and, for a file-backed filter, marks the file clean once every tag is on the
    /// disk (written there whole first when the mapped file is a live copy), so that it can be used
    /// again after a reboot. Every insert from now on is refused (`.replayFilterFull`); lookups go
    /// on. The mapping itself goes when the filter is released, because workers may still hold it.
    /// A filter released without `close()` stays usable in this boot only, like one whose process
    /// was killed.
    public func close() throws(ReplayFilterFileError) {
        lsx_replay_filter_seal(pointer)
        guard let file else { return }
        if let durablePath {
            do throws(SphinxError) { try check(lsx_replay_filter_mark_clean(pointer)) } catch { throw .sphinx(error) }
            try ReplayFilterDurableCopy.replace(durablePath, with: UnsafeRawBufferPointer(start: file.base,
                                                                                          count: file.length))
            return
        }
        try file.syncAll()
        do throws(SphinxError) { try check(lsx_replay_filter_mark_clean(pointer)) } catch { throw .sphinx(error) }
        try file.sync(bytes: Int(lsx_replay_filter_header_bytes()))
    }

    /// The file behind this filter (its live copy, if it has one), or nil for one in process memory.
    public var filePath: String? { file?.path }

    private static func livePath(for path: String, in directory: String) -> String {
        let name = path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Before the first tag goes into a live copy, the durable file says it is live (and so, after
    /// a reboot, that the tags since the last clean close are gone).
    private static func markLive(_ path: String, _ pointer: OpaquePointer) throws(ReplayFilterFileError) {
        do throws(ReplayFilterFileError) {
            try ReplayFilterDurableCopy.writeMarker(path)
        } catch {
            lsx_replay_filter_destroy(pointer)
            throw error
        }
    }

    private static func attach(_ file: ReplayFilterFile, epoch: UInt64, bootID: [UInt8]) throws(ReplayFilterFileError)
        -> OpaquePointer
    {
        var p: OpaquePointer? = nil
        let rc = bootID.withUnsafeBytes { lsx_replay_filter_attach(&p, file.base, file.length, epoch, $0.u8) }
        switch rc {
        case 0: break
        case LSX_ERR_REPLAY_LOST.rawValue: throw .mayHaveLostTags(path: file.path)
        case LSX_ERR_REPLAY_LAYOUT.rawValue: throw .badLayout(path: file.path)
        default: throw .sphinx(SphinxError(code: rc))
        }
        // Open in this boot, on the disk, before the first tag: a clean mark must never outlive the
        // tags recorded after it.
        do throws(ReplayFilterFileError) {
            try file.sync(bytes: Int(lsx_replay_filter_header_bytes()))
        } catch {
            lsx_replay_filter_destroy(p)
            throw error
        }
        return p!
    }

    /// A new filter file at `path`, or nil if another process published one first.
    private static func create(
        _ path: String, capacity: UInt64, falsePositiveRate: Double, epoch: UInt64, bootID: [UInt8]
    ) throws(ReplayFilterFileError) -> (ReplayFilterFile, OpaquePointer)? {
        let length = lsx_replay_filter_layout_bytes(capacity, falsePositiveRate)
        guard length > 0 else { throw .sphinx(.invalidArgument) }
        let file = try ReplayFilterFile.createUnpublished(path, length: length)
        var p: OpaquePointer? = nil
        do throws(ReplayFilterFileError) {
            let rc = bootID.withUnsafeBytes {
                lsx_replay_filter_format(&p, file.base, file.length, capacity, falsePositiveRate, epoch, $0.u8)
            }
            guard rc == 0 else { throw .sphinx(SphinxError(code: rc)) }
            // The header (open in this boot) and the file's size and name are on the disk before the
            // first tag, so that a filter that recorded anything is never found missing after a crash.
            try file.sync(bytes: Int(lsx_replay_filter_header_bytes()))
            guard try file.publish() else {
                lsx_replay_filter_destroy(p)
                return nil
            }
            return (file, p!)
        } catch {
            lsx_replay_filter_destroy(p)
            file.discardUnpublished()
            throw error
        }
    }

    /// A new live copy at `live`: the filter `durable` holds if it was closed cleanly, else a new one
    /// when there is no durable file at all; nil if another process published a live copy first.
    private static func createLive(
        _ live: String, from durable: String, capacity: UInt64, falsePositiveRate: Double, epoch: UInt64,
        bootID: [UInt8]
    ) throws(ReplayFilterFileError) -> (ReplayFilterFile, OpaquePointer)? {
        let contents = try ReplayFilterDurableCopy.read(durable)
        let file: ReplayFilterFile
        var p: OpaquePointer? = nil
        switch contents {
        case .marker:
            // Live in a boot that is gone, and never closed: what it recorded last is lost.
            throw .mayHaveLostTags(path: durable)
        case .none:
            let length = lsx_replay_filter_layout_bytes(capacity, falsePositiveRate)
            guard length > 0 else { throw .sphinx(.invalidArgument) }
            file = try ReplayFilterFile.createUnpublished(live, length: length)
            let rc = bootID.withUnsafeBytes {
                lsx_replay_filter_format(&p, file.base, file.length, capacity, falsePositiveRate, epoch, $0.u8)
            }
            guard rc == 0 else {
                file.discardUnpublished()
                throw .sphinx(SphinxError(code: rc))
            }
        case .filter(let descriptor, let length):
            defer { ReplayFilterDurableCopy.release(descriptor) }
            guard length >= Int(lsx_replay_filter_header_bytes()) else { throw .badLayout(path: durable) }
            file = try ReplayFilterFile.createUnpublished(live, length: length)
            do throws(ReplayFilterFileError) {
                try ReplayFilterDurableCopy.load(file.base, from: descriptor, length: length, path: durable)
                p = try attach(file, epoch: epoch, bootID: bootID)
            } catch {
                file.discardUnpublished()
                switch error {
                case .mayHaveLostTags: throw .mayHaveLostTags(path: durable)
                case .badLayout: throw .badLayout(path: durable)
                default: throw error
                }
            }
        }
        do throws(ReplayFilterFileError) {
            // Published before the marker replaces a clean copy: a crash between the two leaves
            // either the live copy (this boot) or the clean copy (with nothing recorded since).
            guard try file.publish() else {
                lsx_replay_filter_destroy(p)
                return nil
            }
        } catch {
            lsx_replay_filter_destroy(p)
            file.discardUnpublished()
            throw error
        }
        try markLive(durable, p!)
        return (file, p!)
    }
}
