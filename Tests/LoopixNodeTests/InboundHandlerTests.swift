// The inbound packet handler on an EmbeddedChannel, without sockets: every framing error,
// admission refusal and limit is counted under its own cause, and the connection is cut where
// the peer broke the protocol.
@testable import LoopixNode
import DequeModule
import LoopixNetwork
import LoopixNoise
import LoopixSphinx
import NIOCore
import NIOEmbedded
import Testing
import LoopixTestSupport

@Suite("Inbound handler on an embedded channel")
struct InboundHandlerTests {
    /// A handler's surroundings with no worker running (packets stay queued), so that what
    /// admission does is all there is to see.
    struct Fixture {
        let metrics = NodeMetrics()
        let queue: CryptoQueue
        let admission: AdmissionState
        let slab: PacketSlab
        let context: InboundContext
        let packetBytes = NetworkParameters().geometry.packetBytes

        init(buffers: Int = 64, queueLimit: Int = 64, maxConnections: Int = 8, frameTimeout: Double = 1) throws {
            queue = CryptoQueue(hardLimit: queueLimit)
            admission = AdmissionState(initialLimit: queueLimit)
            slab = PacketSlab(packetBytes: packetBytes, capacity: buffers)
            let processor = try PacketProcessor(geometry: NetworkParameters().geometry, secretKey: .generate(), replayFilter: nil)
            let epochs = EpochStates(EpochState(epoch: 0, topology: Topology(parameters: NetworkParameters(), nodes: []),
                                                current: processor, previous: nil, links: [:]))
            let worker = PacketWorker(epochs: epochs, queue: queue, admission: admission, metrics: metrics,
                                      schedulers: [], loopMonitor: nil, finalSink: nil, hasDeliverySink: false)
            let pool = CryptoWorkerPool(queue: queue, worker: worker, workers: 0)
            context = InboundContext(pool: pool, admission: admission, slab: slab, schedulers: [], metrics: metrics,
                                     frameTimeout: frameTimeout, maxConnections: maxConnections,
                                     shares: PeerShares(capacity: maxConnections))
        }

        /// A connected channel whose link was established by `peer` (as the Noise layer announces it).
        func channel(of peer: NoisePublicKey) throws -> EmbeddedChannel {
            let channel = try channel()
            channel.pipeline.fireUserInboundEventTriggered(NoiseLinkEstablished(peer: peer))
            return channel
        }

        /// A connected channel with the node's inbound pipeline.
        func channel() throws -> EmbeddedChannel {
            let channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WireFrameDecoder(packetBytes: packetBytes)))
            try channel.pipeline.syncOperations.addHandler(InboundPacketHandler(shared: context))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            return channel
        }

        func drops(_ cause: DropCause) -> Int { metrics.drops(cause) }

        /// A frame holding a packet-sized body (its bytes do not matter before the crypto).
        func packet() -> ByteBuffer {
            packetFrame([UInt8](repeating: 0xA5, count: packetBytes))
        }
    }

    /// The first bytes of a frame that breaks the wire format in the way `cause` names.
    static func brokenFrame(_ cause: DropCause, packetBytes: Int) -> ByteBuffer {
        var bytes = ByteBuffer()
        switch cause {
        case .frameTooLong: bytes.writeInteger(UInt32(WireFormat.maxFrameLength(packetBytes: packetBytes) + 1))
        case .frameTooShort: bytes.writeInteger(UInt32(1))
        case .badVersion: bytes.writeInteger(UInt32(2)); bytes.writeBytes([WireFormat.version + 1, WireFrameType.keepAlive.rawValue])
        case .unknownFrameType: bytes.writeInteger(UInt32(2)); bytes.writeBytes([WireFormat.version, 0x7F])
        case .badFrameLength: bytes.writeInteger(UInt32(2)); bytes.writeBytes([WireFormat.version, WireFrameType.packet.rawValue])
        default: preconditionFailure("not a framing error: \(cause)")
        }
        return bytes
    }

    @Test("each framing error is counted under its own cause and closes the connection",
          arguments: [DropCause.frameTooLong, .frameTooShort, .badVersion, .unknownFrameType, .badFrameLength])
    func framingErrors(cause: DropCause) throws {
        let fixture = try Fixture()
        let channel = try fixture.channel()
        try? channel.writeInbound(Self.brokenFrame(cause, packetBytes: fixture.packetBytes))
        #expect(fixture.drops(cause) == 1)
        #expect(DropCause.allCases.filter { $0 != cause }.allSatisfy { fixture.drops($0) == 0 }, "counted once, under one cause")
        #expect(!channel.isActive, "the connection stays open after \(cause)")
        #expect(fixture.queue.length == 0)
        #expect(fixture.slab.inUse == 0)
    }

    @Test("a frame cut off by the peer's close is counted as truncated")
    func truncated() throws {
        let fixture = try Fixture()
        let channel = try fixture.channel()
        var frame = fixture.packet()
        try channel.writeInbound(frame.readSlice(length: 100)!)
        #expect(fixture.drops(.truncatedFrame) == 0, "half a frame is not an error while more may come")
        _ = try? channel.finish()
        #expect(fixture.drops(.truncatedFrame) == 1)
    }

    @Test("good frames are admitted into the crypto queue, keep-alives are not")
    func admitted() throws {
        let fixture = try Fixture()
        let channel = try fixture.channel()
        var keepAlive = ByteBuffer()
        keepAlive.writeWireFrameHeader(type: .keepAlive, bodyBytes: 0)
        try channel.writeInbound(keepAlive)
        for _ in 0..<5 { try channel.writeInbound(fixture.packet()) }
        #expect(fixture.queue.length == 5)
        #expect(fixture.slab.inUse == 5)
        #expect(DropCause.allCases.allSatisfy { fixture.drops($0) == 0 })
        #expect(channel.isActive)
    }

    @Test("beyond the admission limit packets are refused as queue_full and their buffers return")
    func queueFull() throws {
        let fixture = try Fixture(queueLimit: 64)
        fixture.admission.admitLimit = 3
        let channel = try fixture.channel()
        for _ in 0..<10 { try channel.writeInbound(fixture.packet()) }
        #expect(fixture.queue.length == 3)
        #expect(fixture.drops(.queueFull) == 7)
        #expect(fixture.slab.inUse == 3)
        #expect(channel.isActive, "refusing for load does not cut the peer")
    }

    @Test("the hard limit holds for a burst read in one go")
    func hardLimitInOneBurst() throws {
        let fixture = try Fixture(queueLimit: 4)
        let channel = try fixture.channel()
        var burst = ByteBuffer()
        for _ in 0..<10 { burst.writeImmutableBuffer(fixture.packet()) }
        try channel.writeInbound(burst)
        #expect(fixture.queue.length == 4)
        #expect(fixture.drops(.queueFull) == 6)
        #expect(fixture.slab.inUse == 4)
    }

    @Test("with the AQM at probability 1, arrivals beyond the first two are dropped early as aqm")
    func aqmDrops() throws {
        let fixture = try Fixture()
        fixture.admission.dropProbability = 1
        let channel = try fixture.channel()
        for _ in 0..<10 { try channel.writeInbound(fixture.packet()) }
        #expect(fixture.queue.length == 2, "PIE never drops early while the queue is nearly empty")
        #expect(fixture.drops(.aqm) == 8)
    }

    @Test("when every packet buffer is in use, arrivals are dropped as no_buffer")
    func noBuffer() throws {
        let fixture = try Fixture(buffers: 4)
        let channel = try fixture.channel()
        for _ in 0..<6 { try channel.writeInbound(fixture.packet()) }
        #expect(fixture.queue.length == 4)
        #expect(fixture.drops(.noBuffer) == 2)
    }

    @Test("a connection beyond the limit is closed at once and counted")
    func connectionLimit() throws {
        let fixture = try Fixture(maxConnections: 1)
        let first = try fixture.channel()
        let second = try fixture.channel()
        #expect(first.isActive)
        #expect(!second.isActive)
        #expect(fixture.drops(.connectionLimit) == 1)
        _ = try first.finish()
        let third = try fixture.channel()
        #expect(third.isActive, "a closed connection frees its place")
    }

    @Test("a peer silent for longer than the frame deadline is cut off, one that keeps sending is not")
    func frameDeadline() throws {
        let fixture = try Fixture(frameTimeout: 1)
        let silent = try fixture.channel()
        let talking = try fixture.channel()
        var keepAlive = ByteBuffer()
        keepAlive.writeWireFrameHeader(type: .keepAlive, bodyBytes: 0)
        for _ in 0..<8 {
            try talking.writeInbound(keepAlive)
            talking.embeddedEventLoop.advanceTime(by: .milliseconds(400))
            silent.embeddedEventLoop.advanceTime(by: .milliseconds(400))
        }
        #expect(!silent.isActive)
        #expect(talking.isActive)
        #expect(fixture.drops(.frameTimeout) == 1)
    }

    @Test("a peer that floods holds its share of the queue, and another peer's packets still get in")
    func fairShare() throws {
        let fixture = try Fixture(buffers: 64, queueLimit: 64)
        fixture.admission.admitLimit = 8
        let flooder = try fixture.channel(of: try NoiseSecretKey.generate().publicKey)
        let modest = try fixture.channel(of: try NoiseSecretKey.generate().publicKey)
        for _ in 0..<20 { try flooder.writeInbound(fixture.packet()) }
        #expect(fixture.queue.length == 8, "alone, a peer may fill the admission limit")
        #expect(fixture.drops(.queueFull) == 12)
        for _ in 0..<3 { try modest.writeInbound(fixture.packet()) }
        #expect(fixture.queue.length == 11, "a peer under its share (8 / 2 peers) gets in past the limit")
        for _ in 0..<5 { try flooder.writeInbound(fixture.packet()) }
        #expect(fixture.queue.length == 11, "a peer over its share is refused")
        #expect(fixture.drops(.queueFull) == 17)
        #expect(flooder.isActive && modest.isActive)
    }

    @Test("the AQM's early drops fall on the peer that holds its share, not on one sending a little")
    func earlyDropsOnHeavyPeers() throws {
        let fixture = try Fixture(buffers: 64, queueLimit: 64)
        fixture.admission.admitLimit = 16
        let heavy = try fixture.channel(of: try NoiseSecretKey.generate().publicKey)
        let light = try fixture.channel(of: try NoiseSecretKey.generate().publicKey)
        for _ in 0..<6 { try heavy.writeInbound(fixture.packet()) }
        fixture.admission.dropProbability = 1
        try light.writeInbound(fixture.packet())
        try light.writeInbound(fixture.packet())
        #expect(fixture.queue.length == 8, "a light peer's packets pass the AQM")
        try heavy.writeInbound(fixture.packet())
        #expect(fixture.queue.length == 8, "the peer holding half its share or more takes the early drop")
        #expect(fixture.drops(.aqm) == 1)
    }
}

@Suite("Fair admission rule")
struct FairAdmissionTests {
    @Test("one peer: the plain limit and the early drops; several: shares of the limit, at most twice the limit in all")
    func judge() {
        let never = { false }, always = { true }
        #expect(FairAdmission.judge(length: 8, mine: 8, active: 1, limit: 8, earlyDrop: never) == .queueFull)
        #expect(FairAdmission.judge(length: 5, mine: 5, active: 1, limit: 8, earlyDrop: always) == .aqm)
        #expect(FairAdmission.judge(length: 1, mine: 1, active: 1, limit: 8, earlyDrop: always) == nil)
        #expect(FairAdmission.judge(length: 8, mine: 0, active: 2, limit: 8, earlyDrop: always) == nil)
        #expect(FairAdmission.judge(length: 6, mine: 4, active: 2, limit: 8, earlyDrop: never) == .fairShare)
        // Below half the limit there is room for everyone: a peer over its share gets in.
        #expect(FairAdmission.judge(length: 3, mine: 3, active: 3, limit: 8, earlyDrop: never) == nil)
        #expect(FairAdmission.judge(length: 4, mine: 3, active: 3, limit: 8, earlyDrop: never) == .fairShare)
        #expect(FairAdmission.judge(length: 9, mine: 5, active: 2, limit: 8, earlyDrop: never) == .queueFull)
        #expect(FairAdmission.judge(length: 16, mine: 0, active: 4, limit: 8, earlyDrop: never) == .queueFull)
        #expect(FairAdmission.judge(length: 6, mine: 2, active: 2, limit: 8, earlyDrop: always) == .aqm)
        #expect(FairAdmission.judge(length: 6, mine: 1, active: 2, limit: 8, earlyDrop: always) == nil)
        // Many peers: a share of one packet, and every peer with a packet queued takes early drops.
        #expect(FairAdmission.judge(length: 4, mine: 0, active: 20, limit: 8, earlyDrop: always) == .aqm)
    }
}
