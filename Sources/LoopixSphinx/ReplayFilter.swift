// A bounded replay filter for one key epoch, shared by a node's workers.
import CLoopixSphinx

/// Remembers the replay tags of one key epoch in fixed memory; refuses new tags once full (fail closed).
public final class ReplayFilter: @unchecked Sendable {
    // Safe to share: the C filter serialises every access with its own mutex.
    let pointer: OpaquePointer

    /// A filter that holds `capacity` tags with at most `falsePositiveRate` false positives when full.
    public init(capacity: UInt64, falsePositiveRate: Double = 1e-6, epoch: UInt64 = 0) throws(SphinxError) {
        try Sphinx.initialize()
        var p: OpaquePointer? = nil
        try check(lsx_replay_filter_create(&p, capacity, falsePositiveRate, epoch))
        pointer = p!
    }

    /// The capacity for `packetsPerSecond` over a key epoch of `epochSeconds`, with 25 % headroom.
    public static func capacity(packetsPerSecond: Double, epochSeconds: Double) -> UInt64 {
        lsx_replay_filter_capacity_for(packetsPerSecond, epochSeconds)
    }

    deinit { lsx_replay_filter_destroy(pointer) }

    /// Records a tag: throws `.replay` if it was there, `.replayFilterFull` when saturated.
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
