// The pull server's connection handler on a testing channel, without sockets (the Noise layer's
// announcement is fired by the test): a pull and its acknowledgement, and every refusal counted
// under its cause.
@testable import LoopixProvider
import LoopixNetwork
import LoopixNoise
import LoopixSphinx
import LoopixTestSupport
import NIOCore
import NIOEmbedded
import Prometheus
import Testing

@Suite("Pull handler on a testing channel")
struct PullHandlerTests {
    static let pullSize = 3
    let geometry = Geometry.standard

    /// A pull server over a real mailbox file with one registered client, and a channel with the
    /// server's pipeline after its Noise layer. The handler hands disk work to a Dispatch queue,
    /// so the channel is NIO's thread-safe testing channel.
    struct Fixture {
        let registry = PrometheusCollectorRegistry()
        let server: PullServer
        let mailbox = SphinxAddress.random()
        let key = SigningKey()
        let channel = NIOAsyncTestingChannel()

        init(idleTimeout: Double = 30, limits: PullLimits = PullLimits(), establishedBy peer: NoisePublicKey? = nil) async throws {
            let store = try MailboxStore(configuration: .init(path: temporaryPath("pull.sqlite")), geometry: .standard)
            try store.register(mailbox: mailbox, verifyingKey: key.verifyingKey)
            server = PullServer(service: PullService(store: store, pullSize: PullHandlerTests.pullSize),
                                key: try NoiseSecretKey.generate(), metrics: ProviderMetrics(registry: registry),
                                idleTimeout: idleTimeout, limits: limits)
            let server = self.server
            try await channel.pipeline.addHandlers([
                ByteToMessageHandler(PullFrameDecoder.provider(pullSize: PullHandlerTests.pullSize)),
                MessageToByteHandler(PullFrameEncoder()),
                PullConnectionHandler(server: server),
            ])
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
            let client = peer ?? key.linkKey().publicKey
            try await channel.eventLoop.submit { [channel] in
                channel.pipeline.fireUserInboundEventTriggered(NoiseLinkEstablished(peer: client))
            }.get()
        }

        func refused(_ cause: String) -> Int {
            Int(MetricSamples(text: registry.emitToString())["loopix_pull_refused_total{cause=\"\(cause)\"}"])
        }

        func counter(_ series: String) -> Int {
            Int(MetricSamples(text: registry.emitToString())[series])
        }

        func send(_ type: PullFrameType, _ bytes: [UInt8]) async throws {
            var buffer = ByteBuffer()
            try PullFrameEncoder().encode(data: PullFrame(type: type, bytes: bytes), out: &buffer)
            try await channel.writeInbound(buffer)
        }

        /// The next frame the server wrote, waiting for it if the answer comes from the disk queue.
        func nextFrame() async throws -> PullFrame {
            var bytes = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
            let decoder = PullFrameDecoder.client(pullSize: PullHandlerTests.pullSize, packetBytes: Geometry.standard.packetBytes)
            return try #require(try decoder.decodeFrame(from: &bytes))
        }

        /// Whether the server closed the connection within a few seconds.
        func closed() async -> Bool {
            await eventually { await !((try? channel.eventLoop.submit { channel.isActive }.get()) ?? false) }
        }
    }

    @Test("a pull gets exactly K slots, and its acknowledgement deletes what it names and is confirmed")
    func pullAndAcknowledge() async throws {
        let fixture = try await Fixture()
        let stored = (0..<2).map { _ in Sphinx.createDummy(geometry: geometry) }
        for packet in stored { _ = try fixture.server.service.store.store(mailbox: fixture.mailbox, packet: packet) }

        try await fixture.send(.request, PullRequest(mailbox: fixture.mailbox).encoded)
        let answer = try await fixture.nextFrame()
        #expect(answer.type == .response)
        let response = try PullResponse(decoding: Array(answer.body.readableBytesView), pullSize: Self.pullSize,
                                        packetBytes: geometry.packetBytes)
        #expect(response.slots.count == Self.pullSize)
        #expect(Array(response.slots.prefix(2).map(\.packet)) == stored)

        try await fixture.send(.acknowledgement, PullAcknowledgement(handles: response.slots.map(\.handle)).encoded)
        let next = try await fixture.nextFrame()
        #expect(next.type == .acknowledged)
        #expect(try fixture.server.service.store.count(mailbox: fixture.mailbox) == 0)
        #expect(fixture.counter("loopix_pulls_total") == 1)
        #expect(fixture.counter("loopix_mailbox_acknowledged_total") == 2)
        #expect(fixture.counter("loopix_pull_packets_total{kind=\"dummy\"}") == 1)
    }

    @Test("a client whose link key is not the mailbox's is refused as unauthenticated and the connection closed")
    func wrongKey() async throws {
        let fixture = try await Fixture(establishedBy: try NoiseSecretKey.generate().publicKey)
        try await fixture.send(.request, PullRequest(mailbox: fixture.mailbox).encoded)
        let refusal = try await fixture.nextFrame()
        #expect(refusal.type == .refusal)
        #expect(Array(refusal.body.readableBytesView) == [PullRefusal.unauthenticated.rawValue])
        #expect(fixture.refused("pull_unauthenticated") == 1)
        #expect(await fixture.closed())
    }

    @Test("a request of the wrong length is refused as malformed")
    func malformed() async throws {
        let fixture = try await Fixture()
        try await fixture.send(.request, [UInt8](repeating: 0, count: PullRequest.bytes - 1))
        #expect(try await fixture.nextFrame().type == .refusal)
        #expect(fixture.refused("pull_malformed") == 1)
        #expect(await fixture.closed())
    }

    @Test("an acknowledgement before any answer is a protocol violation")
    func acknowledgementFirst() async throws {
        let fixture = try await Fixture()
        try await fixture.send(.acknowledgement, PullAcknowledgement(handles: []).encoded)
        #expect(try await fixture.nextFrame().type == .refusal)
        #expect(fixture.refused("pull_protocol_violation") == 1)
    }

    @Test("pulls beyond the client's rate are refused and counted")
    func rateLimit() async throws {
        var limits = PullLimits()
        limits.pullsPerSecond = 0.001
        limits.pullBurst = 2
        let fixture = try await Fixture(limits: limits)
        for _ in 0..<2 {
            try await fixture.send(.request, PullRequest(mailbox: fixture.mailbox).encoded)
            let answer = try await fixture.nextFrame()
            #expect(answer.type == .response)
            try await fixture.send(.acknowledgement, PullAcknowledgement(handles: []).encoded)
            #expect(try await fixture.nextFrame().type == .acknowledged)
        }
        try await fixture.send(.request, PullRequest(mailbox: fixture.mailbox).encoded)
        let refusal = try await fixture.nextFrame()
        #expect(Array(refusal.body.readableBytesView) == [PullRefusal.rateLimited.rawValue])
        #expect(fixture.refused("pull_rate_limited") == 1)
        #expect(await fixture.closed())
    }

    @Test("connections beyond the pull port's limit are closed at once and counted; a closed one frees its place")
    func connectionLimit() async throws {
        var limits = PullLimits()
        limits.maxConnections = 1
        let fixture = try await Fixture(limits: limits)
        func another() async throws -> NIOAsyncTestingChannel {
            let channel = NIOAsyncTestingChannel()
            try await channel.pipeline.addHandler(PullConnectionHandler(server: fixture.server))
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
            return channel
        }
        func isActive(_ channel: NIOAsyncTestingChannel) async -> Bool {
            (try? await channel.eventLoop.submit { channel.isActive }.get()) ?? false
        }
        let refused = try await another()
        #expect(await eventually { await !isActive(refused) }, "a connection beyond the limit stayed open")
        #expect(fixture.refused("pull_connection_limit") == 1)

        _ = try? await fixture.channel.close()
        let next = try await another()
        #expect(await isActive(next), "the place of a closed connection was not freed")
        #expect(fixture.refused("pull_connection_limit") == 1)
        _ = try? await next.close()
    }

    @Test("bytes that break the framing are counted as pull_framing and close the connection")
    func framing() async throws {
        let fixture = try await Fixture()
        var garbage = ByteBuffer()
        garbage.writeInteger(UInt32.max)
        try? await fixture.channel.writeInbound(garbage)
        #expect(await fixture.closed())
        #expect(fixture.refused("pull_framing") == 1)
    }

    @Test("a client that goes quiet past the idle timeout is cut off and counted")
    func idleTimeout() async throws {
        let fixture = try await Fixture(idleTimeout: 1)
        await fixture.channel.testingEventLoop.advanceTime(by: .milliseconds(900))
        #expect(try await fixture.channel.eventLoop.submit { fixture.channel.isActive }.get())
        await fixture.channel.testingEventLoop.advanceTime(by: .milliseconds(200))
        #expect(await fixture.closed())
        #expect(fixture.refused("pull_timeout") == 1)
    }
}
