// One replay filter per key epoch, sized so that it cannot fill inside its epoch, kept in a file
// so that a restarted node still refuses what it processed before, and retired with its key.
import Foundation
import LoopixSphinx
import NIOConcurrencyHelpers

/// The replay filters of a node's key epochs. `folder` holds a file per epoch
/// (`replay-<epoch>.filter`, mode 0600); with `liveDirectory` (a memory filesystem such as a
/// folder under /dev/shm) the working copy lives there while the node runs and the file is
/// written whole at `closeAll()` (docs/c-api.md, "Replay filter": what survives what). Without a
/// folder the filters live in memory only (tests; a node that may lose them on a restart).
public final class EpochReplayFilters: Sendable {
    public let folder: URL?
    public let liveDirectory: String?
    /// Packets per second the node is rated for; a filter holds that rate over its key's life
    /// (the epoch and its grace period), with the core's 25 % headroom.
    public let ratedPacketsPerSecond: Double
    public let falsePositiveRate: Double
    private let open = NIOLockedValueBox<[UInt64: ReplayFilter]>([:])

    public init(folder: URL?, liveDirectory: String? = nil, ratedPacketsPerSecond: Double,
                falsePositiveRate: Double = 1e-6) throws {
        if let folder {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        self.folder = folder
        self.liveDirectory = liveDirectory
        self.ratedPacketsPerSecond = ratedPacketsPerSecond
        self.falsePositiveRate = falsePositiveRate
    }

    private func path(_ epoch: UInt64) -> String? { folder?.appendingPathComponent("replay-\(epoch).filter").path }

    /// The filter of `epoch`'s key, whose life is `seconds`: the one already open, the one its
    /// file holds (a restart), or a new one. Throws for a file that cannot be used as it is
    /// (`ReplayFilterFileError`): the epoch's key must then not be used.
    public func filter(for epoch: UInt64, lifetime seconds: Double) throws -> ReplayFilter {
        try open.withLockedValue { open in
            if let filter = open[epoch] { return filter }
            let capacity = ReplayFilter.capacity(packetsPerSecond: ratedPacketsPerSecond, epochSeconds: seconds)
            let filter: ReplayFilter
            if let path = path(epoch) {
                filter = try ReplayFilter(file: path, liveDirectory: liveDirectory, capacity: capacity,
                                          falsePositiveRate: falsePositiveRate, epoch: epoch)
            } else {
                filter = try ReplayFilter(capacity: capacity, falsePositiveRate: falsePositiveRate, epoch: epoch)
            }
            open[epoch] = filter
            return filter
        }
    }

    /// Forgets the filters of epochs before `epoch` and removes their files (call only once their
    /// keys are gone: a filter removed while its key remains could be made again empty).
    public func retire(before epoch: UInt64) {
        let old = open.withLockedValue { open in
            let old = open.keys.filter { $0 < epoch }
            for e in old { open[e] = nil }
            return old
        }
        guard folder != nil else { return }
        let onDisk = ((try? FileManager.default.contentsOfDirectory(atPath: folder!.path)) ?? []).compactMap { name -> UInt64? in
            guard name.hasPrefix("replay-"), name.hasSuffix(".filter") else { return nil }
            return UInt64(name.dropFirst("replay-".count).dropLast(".filter".count))
        }
        for e in Set(old + onDisk) where e < epoch {
            if let path = path(e) { try? ReplayFilter.removeFile(at: path, liveDirectory: liveDirectory) }
        }
    }

    /// Graceful stop: every open filter stops recording and is made durable and clean.
    public func closeAll() throws {
        for filter in open.withLockedValue({ Array($0.values) }) { try filter.close() }
    }
}
