// An outbound link over embedded channels, without sockets: queueing while the peer is away or
// slow, what is counted when packets cannot go, reconnecting, and keep-alives on idle links only.
@testable import LoopixNode
import LoopixNetwork
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
                     installing handler: @escaping @Sendable () -> any ChannelHandler) -> EventLoopFuture<any Channel> {
            attempts += 1
            if refuse { return loop.makeFailedFuture(ChannelError.connectTimeout(.seconds(5))) }
            let channel = EmbeddedChannel(loop: loop)
            try! channel.pipeline.syncOperations.addHandler(handler())
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

        init(queueLimit: Int = 4, keepAlive: Double = 3) {
            settings = OutboundSettings(queueLimit: queueLimit, initialBackoff: 0.1, maxBackoff: 1, keepAliveInterval: keepAlive)
            let peer = NodeDescriptor(id: .random(), role: .mix, layer: 2, host: "127.0.0.1", port: 1,
                                      publicKey: SecretKey.generate().publicKey)
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

        func count(_ cause: DropCause) -> Int {
            Int(MetricSamples(text: metrics.render())["loopix_packets_dropped_total{cause=\"\(cause.rawValue)\"}"])
        }

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
}
