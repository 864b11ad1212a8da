// How a client reaches its provider: send a packet, pull the mailbox. TCP in production, anything in tests.

/// The client's link to its own provider.
public protocol ClientTransport: Sendable {
    /// Hands one packet to the provider (queued; may drop when the link is down, counted by the transport).
    func send(_ packet: [UInt8]) async throws
    /// One authenticated pull: the provider's K packets go to `receive`, and only after it returns
    /// are they acknowledged (so a crash before that loses nothing), each only if `receive` said so
    /// at its position (a packet that could not be recorded stays in the mailbox).
    func pull(_ receive: @Sendable ([[UInt8]]) async -> [Bool]) async throws
    /// Closes the link.
    func close() async
}
