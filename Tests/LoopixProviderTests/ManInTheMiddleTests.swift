// A relay between a client and its provider: it terminates the client's link with its own key
// and opens its own link to the provider. Neither gets it the victim's mail, and nothing the
// victim has stored is deleted.
import LoopixClient
import LoopixNetwork
import LoopixNoise
import LoopixProvider
import LoopixSphinx
import LoopixTestSupport
import NIOCore
import NIOPosix
import Testing

@Suite("A man in the middle of a pull", .serialized)
struct ManInTheMiddleTests {
    @Test("the client refuses the relay's key, and the relay cannot pull with its own: the victim's mail stays")
    func relayCannotPull() async throws {
        let net = try LoopbackNetwork(layers: 1)
        try await net.start()
        let provider = net.providers[0]
        let victim = ClientIdentity.generate(provider: provider.node.id)
        try provider.register(mailbox: victim.mailbox, verifyingKey: victim.signingKey.verifyingKey)
        _ = try provider.store.store(mailbox: victim.mailbox, packet: Sphinx.createDummy(geometry: net.topology.parameters.geometry))

        // The relay: a listener that answers pull links with a key of its own.
        let relayKey = try NoiseSecretKey.generate()
        let relay = try await ServerBootstrap(group: net.group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NoiseLinkHandler(
                        role: .responder(authorizer: AcceptEveryone(), limits: nil), localKey: relayKey, purpose: .pulls,
                        settings: LinkSettings(), maxInboundPlaintext: 4096))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let relayPort = try #require(relay.localAddress?.port)

        // 1. The victim, steered to the relay, expects its provider's key: its handshake fails.
        let steered = TCPClientTransport(
            packets: .init(host: "127.0.0.1", port: relayPort), pulls: .init(host: "127.0.0.1", port: relayPort),
            identity: victim, providerKey: net.providerKey(0), geometry: net.topology.parameters.geometry,
            pullSize: net.pullSize, group: net.group)
        await #expect {
            try await steered.pull { _ in
                Issue.record("the victim read packets through the relay")
                return []
            }
        } throws: { error in
            guard case PullFailure.link(let cause) = error else { return false }
            // The error says what went wrong in words a person can act on.
            return (cause == .closedDuringHandshake || cause == .responderKeyMismatch)
                && "\(cause)".contains("the key the directory lists for it")
        }

        // 2. The relay pulls the victim's mailbox with its own key: not registered, refused after the handshake.
        let relayIdentity = ClientIdentity(sphinxKey: .generate(), signingKey: SigningKey(), mailbox: victim.mailbox,
                                           provider: provider.node.id)
        let relayTransport = TCPClientTransport(
            packets: .init(host: "127.0.0.1", port: provider.packetPort!), pulls: .init(host: "127.0.0.1", port: provider.pullPort!),
            identity: relayIdentity, providerKey: net.providerKey(0), geometry: net.topology.parameters.geometry,
            pullSize: net.pullSize, group: net.group)
        await #expect(throws: (any Error).self) {
            try await relayTransport.pull { _ in
                Issue.record("the relay read the victim's mailbox")
                return []
            }
        }
        let samples = { MetricSamples(text: provider.node.metrics.render()) }
        #expect(await eventually { samples()["loopix_pull_refused_total{cause=\"pull_link_unknown_static_key\"}"] == 1 })

        // 3. Even registered (for a mailbox of its own), its key does not open the victim's mailbox.
        try provider.register(mailbox: .random(), verifyingKey: relayIdentity.signingKey.verifyingKey)
        await #expect(throws: PullFailure.refused(.unauthenticated)) {
            try await relayTransport.pull { _ in
                Issue.record("the relay read the victim's mailbox")
                return []
            }
        }
        #expect(try provider.store.count(mailbox: victim.mailbox) == 1, "the victim's mail was deleted")

        // The victim, at its real provider, gets its packet.
        let direct = TCPClientTransport(
            packets: .init(host: "127.0.0.1", port: provider.packetPort!), pulls: .init(host: "127.0.0.1", port: provider.pullPort!),
            identity: victim, providerKey: net.providerKey(0), geometry: net.topology.parameters.geometry,
            pullSize: net.pullSize, group: net.group)
        try await direct.pull { packets in packets.map { _ in true } }
        #expect(try provider.store.count(mailbox: victim.mailbox) == 0)

        await steered.close()
        await relayTransport.close()
        await direct.close()
        try await relay.close()
        await net.stop()
    }
}
