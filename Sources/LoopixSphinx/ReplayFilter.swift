// A bounded replay filter for one key epoch, shared by a node's workers.
import CLoopixSphinx

/// Remembers the replay tags of one key epoch in fixed memory; refuses new tags once full (fail closed).
/// Its memory is either the process's own or a file (`init(file:capacity:falsePositiveRate:epoch:)`)
/// whose tags survive a restart of the process.
public final class ReplayFilter: @unchecked Sendable {
    // Safe to share: the C filter makes inserts exact with its own striped locks and reads without one;
    // the file, if any, is only unmapped in deinit, when nothing can use the filter any more.
    let pointer: OpaquePointer
    /// The mapped file behind a file-backed filter; nil for a filter in process memory.
    let file: ReplayFilterFile?
    /// Where `close()` writes the filter when its mapped file is a live copy on a memory filesystem.
    let durablePath: String?

    /// A filter that holds `capacity` tags with at most `falsePositiveRate` false positives when full.
    public init(capacity: UInt64, falsePositiveRate: Double = 1e-6, epoch: UInt64 = 0) throws(SphinxError) {
        try Sphinx.initialize()
        var p: OpaquePointer? = nil
        try check(lsx_replay_filter_create(&p, capacity, falsePositiveRate, epoch))
        pointer = p!
        file = nil
        durablePath = nil
    }

    /// A filter over a mapped file that `pointer` was formatted or attached in, and the file that
    /// keeps it across a reboot if that is another one.
    init(pointer: OpaquePointer, file: ReplayFilterFile, durablePath: String? = nil) {
        self.pointer = pointer
        self.file = file
        self.durablePath = durablePath
    }

    /// The capacity for `packetsPerSecond` over a key epoch of `epochSeconds`, with 25 % headroom.
    public static func capacity(packetsPerSecond: Double, epochSeconds: Double) -> UInt64 {
        lsx_replay_filter_capacity_for(packetsPerSecond, epochSeconds)
    }

    // Destroys the object, then (the file's own deinit) unmaps and closes the file, which releases its lock.
    // Without `close()` first the file stays marked open: usable again in this boot, refused after a reboot.
    deinit { lsx_replay_filter_destroy(pointer) }

    /// Records a tag: throws `.replay` if it was there, `.replayFilterFull` when saturated (or closed).
    public func insert(_ tag: ReplayTag) throws(SphinxError) {
        try tag.storage.withUnsafeBytes { (t) throws(SphinxError) in try check(lsx_replay_filter_insert(pointer, t.u8)) }
    }

    public func contains(_ tag: ReplayTag) -> Bool {
        tag.storage.withUnsafeBytes { lsx_replay_filter_contains(pointer, $0.u8) != 0 }
    }

    /// Starts a new key epoch: forgets every tag if `epoch` differs from the current one.
    public func rotate(toEpoch epoch: UInt64) { lsx_replay_filter_rotate(pointer, epoch) }

    public var epoch: UInt64 { lsx_replay_filter_epoch(pointer) }
    public var count: UInt64 { lsx_replay_filter_count(pointer) }
    public var capacity: UInt64 { lsx_replay_filter_capacity(pointer) }
    public var memoryBytes: Int { lsx_replay_filter_memory_bytes(pointer) }
    /// The false-positive rate when full, computed for the filter's size.
    public var falsePositiveRate: Double { lsx_replay_filter_false_positive_rate(pointer) }
}
