// An outbound link over embedded channels, without sockets: queueing while the peer is away or
// slow, what is counted when packets cannot go, reconnecting, and keep-alives on idle links only.
@testable import LoopixNode
import LoopixNetwork
import LoopixNoise
import LoopixSphinx
import NIOCore
import NIOEmbedded
import Testing
import LoopixTestSupport

@Suite("Outbound link on embedded channels")
struct OutboundLinkHandlerTests {
    /// Hands out embedded channels as the link's connections, or fails while told to.
    final class EmbeddedConnector: LinkConnector, @unchecked Sendable {
        // `@unchecked Sendable`: used only on the test's embedded event loop.
        let loop = EmbeddedEventLoop()
        var channels: [EmbeddedChannel] = []
        var refuse = false
        var attempts = 0

        func connect(to peer: NodeDescriptor, on eventLoop: any EventLoop,
                     installing handlers: @escaping @Sendable () throws -> [any ChannelHandler]) -> EventLoopFuture<any Channel> {
            attempts += 1
            if refuse { return loop.makeFailedFuture(ChannelError.connectTimeout(.seconds(5))) }
            let channel = EmbeddedChannel(loop: loop)
            try! channel.pipeline.syncOperations.addHandlers(try! handlers())
            try! channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            channels.append(channel)
            return loop.makeSucceededFuture(channel)
        }
    }

    struct Fixture {
        let connector = EmbeddedConnector()
        let metrics = NodeMetrics()
        let slab = PacketSlab(packetBytes: 32, capacity: 64)
        let link: OutboundConnection
        let settings: OutboundSettings

        /// The peer's identity (its link key is the X25519 form).
        let peerIdentity = SigningKey()

        init(queueLimit: Int = 4, keepAlive: Double = 3, security: LinkSecurity = .plaintextForBenchmark,
             links: LinkSettings = LinkSettings()) {
            settings = OutboundSettings(queueLimit: queueLimit, initialBackoff: 0.1, maxBackoff: 1, keepAliveInterval: keepAlive,
                                        security: security, links: links)
            let peer = NodeDescriptor(id: .random(), role: .mix, layer: 2, host: "127.0.0.1", port: 1,
                                      publicKey: SecretKey.generate().publicKey, signingKey: peerIdentity.verifyingKey)
            link = OutboundConnection(peer: peer, eventLoop: connector.loop, schedulerIndex: 0, metrics: metrics,
                                      settings: settings, connector: connector)
        }

        /// Sends a packet whose bytes all equal `mark`.
        func send(_ mark: UInt8) {
            guard let buffer = slab.acquire() else {
                Issue.record("the test slab ran out")
                return
            }
            buffer.bytes.initializeMemory(as: UInt8.self, repeating: mark)
            link.send(buffer)
        }

        func count(_ cause: DropCause) -> Int { metrics.drops(cause) }

        var relayed: Int {
            Int(MetricSamples(text: metrics.render())["loopix_packets_out_total{kind=\"relay\"}"])
        }

        /// The frames written to `channel` so far: (type, first body byte).
        static func frames(_ channel: EmbeddedChannel) throws -> [(WireFrameType, UInt8?)] {
            var out: [(WireFrameType, UInt8?)] = []
            let decoder = WireFrameDecoder(packetBytes: 32)
            while var bytes = try channel.readOutbound(as: ByteBuffer.self) {
                while let frame = try decoder.decodeFrame(from: &bytes) {
                    out.append((frame.type, frame.body.getInteger(at: frame.body.readerIndex, as: UInt8.self)))
                }
            }
            return out
        }

        /// Plays the responder of `channel`'s handshake with `key`; returns its transport.
        static func respond(on channel: EmbeddedChannel, key: NoiseSecretKey) throws -> NoiseTransport {
            let responder = try NoiseHandshake.responder(localStaticKey: key, prologue: Array(LinkPurpose.packets.rawValue.utf8))
            _ = try responder.readMessage(try #require(try nextMessage(channel)))
            let second = try responder.writeMessage()
            try channel.writeInbound(ByteBuffer(bytes: [UInt8(second.count >> 8), UInt8(second.count & 0xff)] + second))
            _ = try responder.readMessage(try #require(try nextMessage(channel)))
            return try responder.split()
        }

        /// The next length-prefixed message `channel` wrote.
        static func nextMessage(_ channel: EmbeddedChannel) throws -> [UInt8]? {
            guard var bytes = try channel.readOutbound(as: ByteBuffer.self) else { return nil }
            guard let length = bytes.readInteger(as: UInt16.self) else { return nil }
            return bytes.readBytes(length: Int(length))
        }

        /// Every Noise message written so far: a write may carry several (a flush's frames go
        /// out in one buffer).
        static func messages(_ channel: EmbeddedChannel) throws -> [[UInt8]] {
            var out: [[UInt8]] = []
            while var bytes = try channel.readOutbound(as: ByteBuffer.self) {
                while let length = bytes.readInteger(as: UInt16.self) {
                    let message = bytes.readBytes(length: Int(length))
                    out.append(try #require(message))
                }
            }
            return out
        }
    }

    @Test("packets wait for the connection in a bounded queue, go out in order once it is up, and the rest are counted")
    func queueThenDrain() throws {
        let fixture = Fixture(queueLimit: 4)
        fixture.connector.refuse = true
        for mark in 1...6 { fixture.send(UInt8(mark)) }
        #expect(fixture.count(.outboundQueueFull) == 2)
        #expect(fixture.slab.inUse == 4, "the refused packets' buffers went back")
        #expect(fixture.connector.attempts == 1)

        fixture.connector.refuse = false
        fixture.connector.loop.advanceTime(by: .milliseconds(100))
        let channel = try #require(fixture.connector.channels.first)
        let frames = try Fixture.frames(channel)
        #expect(frames.map(\.1) == [1, 2, 3, 4])
        #expect(frames.allSatisfy { $0.0 == .packet })
        #expect(fixture.relayed == 4)
        #expect(fixture.slab.inUse == 0, "written packets' buffers went back")
    }

    @Test("a link that stops being writable queues, and drains when it is writable again")
    func writability() throws {
        let fixture = Fixture(queueLimit: 8)
        fixture.send(1)
        let channel = try #require(fixture.connector.channels.first)
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        fixture.send(2)
        fixture.send(3)
        fixture.link.flush()
        #expect(try Fixture.frames(channel).map(\.1) == [1])
        #expect(fixture.slab.inUse == 2)
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(try Fixture.frames(channel).map(\.1) == [2, 3])
        #expect(fixture.slab.inUse == 0)
    }

    @Test("an idle link sends a keep-alive each interval, a link that carries packets sends none")
    func keepAliveOnlyWhenIdle() throws {
        let fixture = Fixture(queueLimit: 8, keepAlive: 1)
        fixture.send(1)
        fixture.link.flush()
        let channel = try #require(fixture.connector.channels.first)
        _ = try Fixture.frames(channel)
        // Busy: a packet every 0.5 s for 5 s.
        for step in 0..<10 {
            fixture.send(UInt8(10 + step))
            fixture.link.flush()
            fixture.connector.loop.advanceTime(by: .milliseconds(500))
        }
        let busy = try Fixture.frames(channel)
        #expect(busy.filter { $0.0 == .keepAlive }.isEmpty, "a busy link sent a keep-alive")
        #expect(busy.count == 10)
        // Idle for 3.5 intervals: three keep-alives, one per interval.
        fixture.connector.loop.advanceTime(by: .milliseconds(3500))
        let idle = try Fixture.frames(channel)
        #expect(idle.map(\.0) == [.keepAlive, .keepAlive, .keepAlive])
    }

    @Test("a link the peer closed reconnects after a backoff and carries on")
    func reconnect() throws {
        let fixture = Fixture(queueLimit: 8)
        fixture.send(1)
        let first = try #require(fixture.connector.channels.first)
        // The peer hangs up (`finish()` would also cancel the loop's timers, the link's among them).
        try first.close().wait()
        fixture.send(2)
        #expect(fixture.connector.attempts == 1, "it waits out the backoff before reconnecting")
        fixture.connector.loop.advanceTime(by: .milliseconds(100))
        #expect(fixture.connector.attempts == 2)
        let second = try #require(fixture.connector.channels.last)
        #expect(try Fixture.frames(second).map(\.1) == [2])
    }

    @Test("closing the link counts what is still queued, and what comes later, as shutdown")
    func closeCounts() throws {
        let fixture = Fixture(queueLimit: 8)
        fixture.connector.refuse = true
        fixture.send(1)
        fixture.send(2)
        fixture.link.close()
        fixture.send(3)
        #expect(fixture.count(.shutdown) == 3)
        #expect(fixture.slab.inUse == 0)
    }

    @Test("over Noise: the handshake first, packets wait for it, then each frame is one sealed message the peer opens")
    func noiseLink() throws {
        var links = LinkSettings()
        links.rekeyInterval = 2  // both ends rekey every second message: the peer must follow
        let fixture = Fixture(queueLimit: 8, security: .noise(SigningKey().linkKey()), links: links)
        fixture.send(1)
        let channel = try #require(fixture.connector.channels.first)
        #expect(fixture.relayed == 0, "nothing leaves before the handshake")
        let transport = try Fixture.respond(on: channel, key: fixture.peerIdentity.linkKey())
        for mark in 2...5 { fixture.send(UInt8(mark)) }
        fixture.link.flush()
        var marks: [UInt8] = []
        var opened = 0
        for var message in try Fixture.messages(channel) {
            try transport.receiving.decrypt(&message)
            opened += 1
            if opened % 2 == 0 { try transport.receiving.rekey() }
            var plain = ByteBuffer(bytes: message)
            let frame = try #require(try WireFrameDecoder(packetBytes: 32).decodeFrame(from: &plain))
            #expect(plain.readableBytes == 0, "one frame per message")
            marks.append(frame.body.getInteger(at: frame.body.readerIndex, as: UInt8.self)!)
        }
        #expect(marks == [1, 2, 3, 4, 5])
        #expect(fixture.slab.inUse == 0)
    }

    @Test("a responder that does not hold the listed key fails the handshake, which is counted, and the link tries again")
    func wrongResponderKey() throws {
        let fixture = Fixture(queueLimit: 8, security: .noise(SigningKey().linkKey()))
        fixture.send(1)
        let channel = try #require(fixture.connector.channels.first)
        // Someone else answers with a second message of the right length that nothing can open.
        _ = try Fixture.nextMessage(channel)
        try channel.writeInbound(ByteBuffer(bytes: [0, 48] + [UInt8](repeating: 9, count: 48)))
        let failures = MetricSamples(text: fixture.metrics.render())["loopix_outbound_link_failures_total{cause=\"responder_key_mismatch\"}"]
        #expect(failures == 1)
        #expect(!channel.isActive)
        fixture.connector.loop.advanceTime(by: .milliseconds(100))
        #expect(fixture.connector.attempts == 2, "the link reconnects after its backoff")
        #expect(fixture.relayed == 0)
    }
}
