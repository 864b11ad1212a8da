// The provider's pull logic: authentication, constant-size answers, removal only on acknowledgement.
import LoopixNetwork
import LoopixNoise
import LoopixProvider
import LoopixSphinx
import Testing

@Suite("Pull service")
struct PullServiceTests {
    let geometry = Geometry.standard

    func setUp(pullSize: Int = 4) throws -> (PullService, SphinxAddress, NoisePublicKey) {
        let store = try MailboxStore(configuration: .init(path: temporaryPath("p.sqlite")), geometry: geometry)
        let mailbox = SphinxAddress.random()
        let key = SigningKey()
        try store.register(mailbox: mailbox, verifyingKey: key.verifyingKey)
        return (PullService(store: store, pullSize: pullSize), mailbox, key.linkKey().publicKey)
    }

    @Test("every answer has exactly K packets of one size: stored ones oldest first, then dummies")
    func constantSize() throws {
        let (service, mailbox, client) = try setUp()
        let stored = (0..<6).map { _ in Sphinx.createDummy(geometry: geometry) }
        for p in stored { _ = try service.store.store(mailbox: mailbox, packet: p) }
        var session = PullService.PullSession(client: client)
        for round in 0..<3 {
            let response = try service.answer(PullRequest(mailbox: mailbox), session: &session)
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
        let (service, mailbox, client) = try setUp()
        _ = try service.store.store(mailbox: mailbox, packet: Sphinx.createDummy(geometry: geometry))
        var first = PullService.PullSession(client: client)
        _ = try service.answer(PullRequest(mailbox: mailbox), session: &first)
        // The connection dies here. A new session gets the same packet again.
        var second = PullService.PullSession(client: client)
        let again = try service.answer(PullRequest(mailbox: mailbox), session: &second)
        #expect(try service.store.count(mailbox: mailbox) == 1)
        let removed = try service.acknowledge(PullAcknowledgement(handles: [again.slots[0].handle]), session: &second)
        #expect(removed == 1)
        #expect(try service.store.count(mailbox: mailbox) == 0)
    }

    @Test("another client's key, an unknown mailbox, a second request before the acknowledgement and an early acknowledgement are refused")
    func refusals() throws {
        let (service, mailbox, client) = try setUp()
        _ = try service.store.store(mailbox: mailbox, packet: Sphinx.createDummy(geometry: geometry))
        // A client registered for another mailbox (or nobody) asks for this one.
        var stranger = PullService.PullSession(client: try NoiseSecretKey.generate().publicKey)
        #expect(throws: PullRefusal.unauthenticated) { try service.answer(PullRequest(mailbox: mailbox), session: &stranger) }
        var unknown = PullService.PullSession(client: client)
        #expect(throws: PullRefusal.unauthenticated) { try service.answer(PullRequest(mailbox: .random()), session: &unknown) }
        var early = PullService.PullSession(client: client)
        #expect(throws: PullRefusal.protocolViolation) { try service.acknowledge(PullAcknowledgement(handles: []), session: &early) }
        _ = try service.answer(PullRequest(mailbox: mailbox), session: &early)
        #expect(throws: PullRefusal.protocolViolation, "one answer awaits its acknowledgement") {
            try service.answer(PullRequest(mailbox: mailbox), session: &early)
        }
        #expect(try service.store.count(mailbox: mailbox) == 1, "refusals delete nothing")
    }

    @Test("malformed messages are refused by their decoders")
    func malformed() {
        #expect(throws: PullMessageError.self) { try PullRequest(decoding: [1, 2, 3]) }
        #expect(throws: PullMessageError.self) { try PullAcknowledgement(decoding: [0, 5, 1], pullSize: 4) }
        #expect(throws: PullMessageError.self) { try PullAcknowledgement(decoding: [0, 9] + [UInt8](repeating: 0, count: 144), pullSize: 4) }
        #expect(throws: PullMessageError.self) { try PullResponse(decoding: [0, 4], pullSize: 4, packetBytes: 2481) }
    }
}
