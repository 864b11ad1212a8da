// All the packet memory a node will ever use, allocated once: packets move through the pipeline
// as non-copyable buffer handles, so no stage allocates per packet, memory cannot grow under any
// load, and the compiler checks that each buffer has exactly one owner.
import NIOConcurrencyHelpers

/// A packet buffer's number in the slab.
public typealias PacketSlot = UInt32

/// A fixed pool of equal packet buffers with a free list; thread-safe.
///
/// `@unchecked Sendable`: the buffer memory is only reached through a `PacketBuffer`, of which
/// there is exactly one per slot in use (taken from the free list under the lock, given back by
/// its `deinit`); the free list itself is guarded by `lock`.
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

    // Every `PacketBuffer` holds its slab, so this runs only once all slots are back.
    deinit {
        base.deallocate()
    }

    /// A free buffer, owned by the caller until it drops it; nil if every buffer is in use.
    func acquire() -> PacketBuffer? {
        guard let slot = lock.withLock({ free.popLast() }) else { return nil }
        return PacketBuffer(slot: slot, slab: self)
    }

    /// Only `PacketBuffer.deinit` gives slots back, so each is released exactly once.
    fileprivate func release(_ slot: PacketSlot) {
        lock.withLock { free.append(slot) }
    }

    /// Buffers currently owned by some stage.
    public var inUse: Int {
        lock.withLock { capacity - free.count }
    }

    @inline(__always)
    fileprivate func memory(_ slot: PacketSlot) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + Int(slot) * stride, count: packetBytes)
    }

    /// Bytes of packet memory held, whether in use or not.
    public var memoryBytes: Int { stride * capacity }
}

/// The one handle to one buffer of a slab. It moves from stage to stage (read → crypto queue →
/// worker → delay scheduler → outbound link or sink) and cannot be copied; whichever stage ends
/// the packet's way simply lets go of it, and `deinit`, the one release point, returns the slot.
struct PacketBuffer: ~Copyable, Sendable {
    let slot: PacketSlot
    private let slab: PacketSlab

    fileprivate init(slot: PacketSlot, slab: PacketSlab) {
        self.slot = slot
        self.slab = slab
    }

    /// The packet's bytes; valid while this handle lives.
    @inline(__always)
    var bytes: UnsafeMutableRawBufferPointer { slab.memory(slot) }

    deinit {
        slab.release(slot)
    }
}
