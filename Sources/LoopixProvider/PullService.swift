// The provider's side of a pull: challenge, authentication, a constant-size answer, acknowledgement.
import Foundation
import LoopixNetwork
import LoopixSphinx

/// Answers authenticated pulls from one provider's mailbox store. One `PullSession` per client
/// connection holds the challenge and the handles of the last answer. Calls touch the disk:
/// run them off the event loops.
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
        /// The challenge the next request must sign; nil while an answer awaits its acknowledgement.
        public fileprivate(set) var challenge: [UInt8]?
        fileprivate var mailbox: SphinxAddress?
        fileprivate var outstanding: [[UInt8]: Int64] = [:]

        /// A session with a fresh challenge, to send to the client first.
        public init() { challenge = PullService.randomBytes(PullFormat.challengeBytes) }

        /// Real packets in the last answer that await acknowledgement.
        public var outstandingCount: Int { outstanding.count }
    }

    static func randomBytes(_ n: Int) -> [UInt8] { SphinxAddress.random().bytes.prefix(n).map { $0 } }

    /// Answers a pull: checks the signature over the session's challenge with the key registered for
    /// the mailbox, then returns exactly K slots (oldest stored packets first, then dummies).
    /// An unknown mailbox and a bad signature are both `.unauthenticated`, so nobody learns which ids exist.
    public func answer(_ request: PullRequest, session: inout PullSession) throws(PullRefusal) -> PullResponse {
        guard let challenge = session.challenge else { throw .protocolViolation }
        session.challenge = nil  // one answer per challenge, whatever happens next
        let key: VerifyingKey?
        do { key = try store.verifyingKey(for: request.mailbox) } catch { throw .unavailable }
        guard let key else { throw .unauthenticated }
        do {
            try key.verify(signature: request.signature,
                           for: PullFormat.signedBytes(challenge: challenge, mailbox: request.mailbox))
        } catch { throw .unauthenticated }

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
    /// handles name nothing) and gives the session a fresh challenge. Returns how many were deleted.
    public func acknowledge(_ ack: PullAcknowledgement, session: inout PullSession) throws(PullRefusal) -> Int {
        guard session.challenge == nil, let mailbox = session.mailbox else { throw .protocolViolation }
        let sequences = ack.handles.compactMap { session.outstanding[$0] }
        let removed: Int
        do { removed = try store.remove(mailbox: mailbox, sequences: sequences) } catch { throw .unavailable }
        session.outstanding = [:]
        session.challenge = Self.randomBytes(PullFormat.challengeBytes)
        return removed
    }
}

extension PullRefusal: Error {}
