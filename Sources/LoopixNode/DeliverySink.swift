// Where a node puts packets addressed to it rather than to a next hop: the provider's mailbox
// store plugs in here; a mix needs none.
import LoopixSphinx

/// Receives DELIVER packets when their delay has passed; called on an event loop, so it must
/// copy what it keeps and return without blocking.
public protocol DeliverySink: Sendable {
    func deliver(mailbox: SphinxAddress, packet: UnsafeRawBufferPointer)
}

/// Receives FINAL packets that are not this node's own loops (a client's messages, tests).
/// Called on a worker thread; it must copy what it keeps and return without blocking.
/// `message` is nil when the payload check failed.
public protocol FinalSink: Sendable {
    func receive(messageID: SphinxAddress, message: UnsafeRawBufferPointer?)
}
