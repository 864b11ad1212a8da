// The provider's pull logic: authentication, constant-size answers, removal only on acknowledgement.
import LoopixNetwork
import LoopixProvider
import LoopixSphinx
import Testing

@Suite("Pull service")
struct PullServiceTests {
    let geometry = Geometry.standard

    func setUp(pullSize: Int = 4) throws -> (PullService, SphinxAddress, SigningKey) {
        let store = try MailboxStore(configuration: .init(path: temporaryPath("p.sqlite")), geometry: geometry)
        let mailbox = SphinxAddress.random()
        let key = SigningKey()
        try store.register(mailbox: mailbox, verifyingKey: key.verifyingKey)
        return (PullService(store: store, pullSize: pullSize), mailbox, key)
    }

    @Test("every answer has exactly K packets of one size: stored ones oldest first, then dummies")
    func constantSize() throws {
        let (service, mailbox, key) = try setUp()
        let stored = (0..<6).map { _ in Sphinx.createDummy(geometry: geometry) }
        for p in stored { _ = try service.store.store(mailbox: mailbox, packet: p) }
        var session = PullService.PullSession()
        for round in 0..<3 {
            let request = PullRequest(mailbox: mailbox, challenge: session.challenge!, key: key)
            let response = try service.answer(request, session: &session)
            #expect(response.slots.count == 4)
            #expect(Set(response.slots.map { $0.packet.count }) == [geometry.packetBytes])
            #expect(Set(response.slots.map { $0.handle.count }) == [PullFormat.handleBytes])
            let expected = Array(stored.dropFirst(round * 4).prefix(4))
            #expect(Array(response.slots.prefix(expected.count).map(\.packet)) == expected)
            let decoded = try PullResponse(decoding: response.encoded, pullSize: 4, packetBytes: geometry.packetBytes)
            #expect(decoded == response)
            _ = try service.acknowledge(PullAcknowledgement(handles: response.slots.map(\.handle)), session: &session)
        }
        #expect(try service.store.count(mailbox: mailbox) == 0)
    }

    @Test("without an acknowledgement nothing leaves the mailbox")
    func noAckNoLoss() throws {
        let (service, mailbox, key) = try setUp()
        _ = try service.store.store(mailbox: mailbox, packet: Sphinx.createDummy(geometry: geometry))
        var first = PullService.PullSession()
        _ = try service.answer(PullRequest(mailbox: mailbox, challenge: first.challenge!, key: key), session: &first)
        // The connection dies here. A new session gets the same packet again.
        var second = PullService.PullSession()
        let again = try service.answer(PullRequest(mailbox: mailbox, challenge: second.challenge!, key: key), session: &second)
        #expect(try service.store.count(mailbox: mailbox) == 1)
        let removed = try service.acknowledge(PullAcknowledgement(handles: [again.slots[0].handle]), session: &second)
        #expect(removed == 1)
        #expect(try service.store.count(mailbox: mailbox) == 0)
    }

    @Test("a wrong key, an unknown mailbox, a reused challenge and an early acknowledgement are refused")
    func refusals() throws {
        let (service, mailbox, key) = try setUp()
        var session = PullService.PullSession()
        let challenge = session.challenge!
        #expect(throws: PullRefusal.unauthenticated) {
            try service.answer(PullRequest(mailbox: mailbox, challenge: challenge, key: SigningKey()), session: &session)
        }
        var s2 = PullService.PullSession()
        #expect(throws: PullRefusal.unauthenticated) {
            try service.answer(PullRequest(mailbox: .random(), challenge: s2.challenge!, key: key), session: &s2)
        }
        var s3 = PullService.PullSession()
        #expect(throws: PullRefusal.protocolViolation) {
            try service.acknowledge(PullAcknowledgement(handles: []), session: &s3)
        }
        let old = s3.challenge!
        _ = try service.answer(PullRequest(mailbox: mailbox, challenge: old, key: key), session: &s3)
        #expect(throws: PullRefusal.protocolViolation, "one answer per challenge") {
            try service.answer(PullRequest(mailbox: mailbox, challenge: old, key: key), session: &s3)
        }
        // A signature over another session's challenge does not open this one.
        var s4 = PullService.PullSession()
        #expect(throws: PullRefusal.unauthenticated) {
            try service.answer(PullRequest(mailbox: mailbox, challenge: old, key: key), session: &s4)
        }
    }

    @Test("malformed messages are refused by their decoders")
    func malformed() {
        #expect(throws: PullMessageError.self) { try PullRequest(decoding: [1, 2, 3]) }
        #expect(throws: PullMessageError.self) { try PullAcknowledgement(decoding: [0, 5, 1], pullSize: 4) }
        #expect(throws: PullMessageError.self) { try PullAcknowledgement(decoding: [0, 9] + [UInt8](repeating: 0, count: 144), pullSize: 4) }
        #expect(throws: PullMessageError.self) { try PullResponse(decoding: [0, 4], pullSize: 4, packetBytes: 2481) }
    }
}
