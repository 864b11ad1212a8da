// The provider's side of a pull: a request on a channel that authenticated the client, a
// constant-size answer, and deletion only on acknowledgement.
import Foundation
import LoopixNetwork
import LoopixNoise
import LoopixSphinx

/// Answers pulls from one provider's mailbox store. The Noise channel of a pull connection has
/// authenticated the client's static key; a mailbox is answered only to the key registered for
/// it. One `PullSession` per connection holds the handles of the last answer. Calls touch the
/// disk: run them off the event loops.
public final class PullService: Sendable {
    public let store: MailboxStore
    /// K: every answer holds exactly this many packets.
    public let pullSize: Int

    public init(store: MailboxStore, pullSize: Int) {
        precondition((1...PullFormat.maxPullSize).contains(pullSize), "pull size must be 1...\(PullFormat.maxPullSize)")
        self.store = store
        self.pullSize = pullSize
    }

    /// What one connection remembers between messages.
    public struct PullSession: Sendable {
        /// The client's static key, as the channel's handshake authenticated it.
        public let client: NoisePublicKey
        /// The mailbox of the answer that awaits its acknowledgement; nil while none does.
        fileprivate var mailbox: SphinxAddress?
        fileprivate var outstanding: [[UInt8]: Int64] = [:]

        public init(client: NoisePublicKey) { self.client = client }

        /// Real packets in the last answer that await acknowledgement.
        public var outstandingCount: Int { outstanding.count }
        /// Whether an answer awaits its acknowledgement.
        public var awaitsAcknowledgement: Bool { mailbox != nil }
    }

    static func randomBytes(_ n: Int) -> [UInt8] { SphinxAddress.random().bytes.prefix(n).map { $0 } }

    /// Answers a pull: the mailbox must be registered to the session's client key; then exactly K
    /// slots (oldest stored packets first, then dummies). An unknown mailbox and one of another
    /// client are both `.unauthenticated`, so nobody learns which ids exist.
    public func answer(_ request: PullRequest, session: inout PullSession) throws(PullRefusal) -> PullResponse {
        guard session.mailbox == nil else { throw .protocolViolation }
        let owner: NoisePublicKey?
        do { owner = try store.linkKey(for: request.mailbox) } catch { throw .unavailable }
        guard let owner, owner == session.client else { throw .unauthenticated }

        let stored: [StoredPacket]
        do { stored = try store.oldest(mailbox: request.mailbox, limit: pullSize) } catch { throw .unavailable }
        var slots: [PullResponse.Slot] = []
        slots.reserveCapacity(pullSize)
        session.outstanding = [:]
        session.mailbox = request.mailbox
        for p in stored {
            let handle = Self.randomBytes(PullFormat.handleBytes)
            session.outstanding[handle] = p.sequence
            slots.append(.init(handle: handle, packet: p.packet))
        }
        while slots.count < pullSize {
            slots.append(.init(handle: Self.randomBytes(PullFormat.handleBytes),
                               packet: Sphinx.createDummy(geometry: store.geometry)))
        }
        return PullResponse(slots: slots)
    }

    /// Applies an acknowledgement of the last answer: deletes the stored packets it names (dummies'
    /// handles name nothing); the session may pull again. Returns how many were deleted.
    public func acknowledge(_ ack: PullAcknowledgement, session: inout PullSession) throws(PullRefusal) -> Int {
        guard let mailbox = session.mailbox else { throw .protocolViolation }
        let sequences = ack.handles.compactMap { session.outstanding[$0] }
        let removed: Int
        do { removed = try store.remove(mailbox: mailbox, sequences: sequences) } catch { throw .unavailable }
        session.outstanding = [:]
        session.mailbox = nil
        return removed
    }
}

extension PullRefusal: Error {}
