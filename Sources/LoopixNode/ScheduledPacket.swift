// A processed packet waiting for its delay: its buffer and plain numbers, so the scheduler's heap
// never allocates.
import LoopixSphinx

/// One packet in the delay scheduler: when it is due, where it goes, and the numbers for metrics.
struct ScheduledPacket: ~Copyable, Sendable {
    enum Destination: Sendable {
        /// Write to this link.
        case relay(LinkHandle)
        /// Hand to the delivery sink for this mailbox.
        case deliver(SphinxAddress)
    }

    /// Monotonic nanoseconds at which the packet may leave.
    var due: UInt64
    /// Monotonic nanoseconds at which the packet was read from the wire (or made, for a loop).
    var arrival: UInt64
    /// Monotonic nanoseconds at which a worker finished with it.
    var ready: UInt64
    var buffer: PacketBuffer
    var delayMicroseconds: UInt32
    var destination: Destination
}
