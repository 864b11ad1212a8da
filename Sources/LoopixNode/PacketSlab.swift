// All the packet memory a node will ever use, allocated once: packets move through the pipeline
// as slot numbers, so no stage allocates per packet and memory cannot grow under any load.
import NIOConcurrencyHelpers

/// A packet buffer's number in the slab.
public typealias PacketSlot = UInt32

/// A fixed pool of equal packet buffers with a free list; thread-safe.
///
/// `@unchecked Sendable`: the buffer memory is only reached through a slot, and a slot has
/// exactly one owner at a time (taken from the free list under the lock, given back once);
/// the free list itself is guarded by `lock`.
public final class PacketSlab: @unchecked Sendable {
    public let packetBytes: Int
    public let capacity: Int
    private let stride: Int
    private let base: UnsafeMutableRawPointer
    private let lock = NIOLock()
    private var free: [PacketSlot]

    /// `capacity` buffers of `packetBytes` each.
    public init(packetBytes: Int, capacity: Int) {
        precondition(packetBytes > 0 && capacity > 0 && capacity < Int(UInt32.max), "bad slab size")
        self.packetBytes = packetBytes
        self.capacity = capacity
        self.stride = (packetBytes + 63) & ~63
        self.base = UnsafeMutableRawPointer.allocate(byteCount: stride * capacity, alignment: 64)
        self.free = (0..<PacketSlot(capacity)).reversed()
    }

    deinit {
        base.deallocate()
    }

    /// A free slot, or nil if every buffer is in use.
    public func acquire() -> PacketSlot? {
        lock.withLock { free.popLast() }
    }

    /// Gives a slot back; each slot must be released exactly once per acquire.
    public func release(_ slot: PacketSlot) {
        lock.withLock { free.append(slot) }
    }

    /// Gives back several slots under one lock.
    public func release(_ slots: some Sequence<PacketSlot>) {
        lock.withLock { free.append(contentsOf: slots) }
    }

    /// Slots currently owned by some stage.
    public var inUse: Int {
        lock.withLock { capacity - free.count }
    }

    /// The memory of a slot; valid while the caller owns the slot.
    @inline(__always)
    public func buffer(_ slot: PacketSlot) -> UnsafeMutableRawBufferPointer {
        precondition(Int(slot) < capacity, "slot out of range")
        return UnsafeMutableRawBufferPointer(start: base + Int(slot) * stride, count: packetBytes)
    }

    /// Bytes of packet memory held, whether in use or not.
    public var memoryBytes: Int { stride * capacity }
}
