// The node's view of the Sphinx core: unwrap one layer of a packet, in place, without allocating.
import LoopixNetwork

/// What the core found in a packet's routing command.
public enum UnwrapOutcome: Sendable, Equatable {
    /// Forward the output packet to `next` after the delay.
    case relay(next: NodeID, delayMicroseconds: UInt32)
    /// Store the output packet in a mailbox after the delay (providers).
    case deliver(mailbox: Bytes32, delayMicroseconds: UInt32)
    /// Cover traffic: discard.
    case drop(delayMicroseconds: UInt32)
    /// This node is the destination; `message` is the byte range of the output that holds the
    /// message, nil if the payload check failed (tampered, or a reply only its creator can open).
    case final(messageID: Bytes32, message: Range<Int>?)
}

/// The reason the core refused a packet; thrown by value, so refusing allocates nothing.
public struct UnwrapFailure: Error, Sendable, Equatable {
    public var cause: DropCause
    public init(_ cause: DropCause) { self.cause = cause }
}

/// Unwraps one Sphinx layer; safe to call from many threads at once.
public protocol PacketUnwrapper: Sendable {
    /// Size of every packet this unwrapper takes and gives.
    var packetBytes: Int { get }
    /// Unwraps `input` into `output` (both `packetBytes`; they may be the same memory) and
    /// returns the routing command; no allocation.
    func unwrap(
        _ input: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(UnwrapFailure) -> UnwrapOutcome
}
