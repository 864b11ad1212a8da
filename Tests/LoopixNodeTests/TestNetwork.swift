// Helpers for tests that run real nodes on loopback: keys and topology, a frame-recording sink
// node, raw TCP clients, and reading numbers back from a node's Prometheus text.
import Foundation
import LoopixNetwork
import LoopixNode
import LoopixNoise
import LoopixSphinx
import LoopixTestnet
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import LoopixTestSupport

/// A node of a test topology: its keys and its entry.
struct Member {
    var secret: SecretKey
    /// Its identity, whose X25519 form its links authenticate with.
    var identity: SigningKey
    var descriptor: NodeDescriptor
    var id: NodeID { descriptor.id }
    var port: Int { descriptor.port }
    var linkKey: NoiseSecretKey { identity.linkKey() }
    var linkPublicKey: NoisePublicKey { descriptor.linkKey! }
    /// Noise links with its identity.
    var links: LinkSecurity { .noise(linkKey) }

    init(role: NodeRole, layer: Int) throws {
        secret = SecretKey.generate()
        identity = SigningKey()
        descriptor = NodeDescriptor(id: .random(), role: role, layer: layer, host: "127.0.0.1",
                                    port: try freeLoopbackPort(), publicKey: secret.publicKey, signingKey: identity.verifyingKey)
    }
}

/// One mix (layer 1) and a sink in the provider's place: a one-layer network without loops.
struct MixAndSink {
    let mix: Member
    let sink: Member
    let topology: Topology
    var parameters: NetworkParameters { topology.parameters }

    init(geometry: Geometry = .standard) throws {
        mix = try Member(role: .mix, layer: 1)
        sink = try Member(role: .provider, layer: 0)
        var parameters = NetworkParameters(geometry: geometry)
        parameters.layers = 1
        parameters.mixLoopRate = 0
        // Tests ask for delays of seconds (a packet held past a shutdown, say).
        parameters.maxHopDelay = 60
        topology = Topology(parameters: parameters, nodes: [mix.descriptor, sink.descriptor])
    }
}

/// Node settings for tests: loopback, one loop and one worker, small memory.
func testConfiguration(port: Int) -> NodeConfiguration {
    var configuration = NodeConfiguration()
    configuration.listenHost = "127.0.0.1"
    configuration.listenPort = port
    configuration.workers = 1
    configuration.eventLoops = 1
    configuration.packetBuffers = 2048
    configuration.replayCapacity = 200_000
    configuration.sendLoops = false
    configuration.drainTimeout = 0.5
    relaxQueueManagement(&configuration)
    return configuration
}

/// A frame of one packet.
func packetFrame(_ packet: [UInt8]) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeWireFrameHeader(type: .packet, bodyBytes: packet.count)
    buffer.writeBytes(packet)
    return buffer
}

/// A Noise link to `member`'s packet port as the holder of `sender`'s identity, for writing
/// frames (one per write) a test makes.
func connect(to member: Member, as sender: Member, group: any EventLoopGroup) async throws -> any Channel {
    try await openLink(to: member.port, responderKey: member.linkPublicKey, localKey: sender.linkKey, group: group)
}

/// A provider stand-in at the end of a route: accepts Noise links as `member` (from anyone) and
/// records each packet frame with its arrival time.
final class FrameSink: Sendable {
    let received = NIOLockedValueBox<[(arrival: UInt64, packet: [UInt8])]>([])
    private let channel: NIOLockedValueBox<(any Channel)?> = NIOLockedValueBox(nil)

    func start(as member: Member, packetBytes: Int, group: any EventLoopGroup) async throws {
        let received = self.received
        let key = member.linkKey
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        try NoiseLinkHandler(role: .responder(authorizer: AcceptEveryone(), limits: nil), localKey: key,
                                             purpose: .packets, settings: LinkSettings(),
                                             maxInboundPlaintext: WireFormat.lengthPrefixBytes + WireFormat.maxFrameLength(packetBytes: packetBytes)),
                        WireFrameUnpacker(packetBytes: packetBytes), Recorder(received: received),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: member.port).get()
        channel.withLockedValue { $0 = server }
    }

    var count: Int { received.withLockedValue { $0.count } }

    /// Waits until `count` packets arrived or the timeout passed; returns whether they did.
    func wait(for count: Int, timeout: Double) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while self.count < count {
            if ContinuousClock.now > deadline { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    func stop() async {
        try? await channel.withLockedValue { $0 }?.close()
    }

    private final class Recorder: ChannelInboundHandler, Sendable {
        typealias InboundIn = WireFrame
        let received: NIOLockedValueBox<[(arrival: UInt64, packet: [UInt8])]>
        init(received: NIOLockedValueBox<[(arrival: UInt64, packet: [UInt8])]>) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            guard frame.type == .packet else { return }
            let now = NIODeadline.now().uptimeNanoseconds
            received.withLockedValue { $0.append((now, Array(frame.body.readableBytesView))) }
        }
    }
}

/// Drop count of one cause at a node.
func drops(_ cause: String, at node: MixNode) -> Int {
    node.metrics.drops(cause)
}

extension NodeMetrics {
    /// How many packets this node dropped for `cause`.
    func drops(_ cause: DropCause) -> Int { drops(cause.rawValue) }

    func drops(_ cause: String) -> Int {
        Int(MetricSamples(text: render())["loopix_packets_dropped_total{cause=\"\(cause)\"}"])
    }

    /// Every cause this node dropped packets for, with its count ("bad_mac 6, replay 1"; "none").
    var dropSummary: String {
        let samples = MetricSamples(text: render())
        return dropsText(Dictionary(uniqueKeysWithValues: DropCause.allCases.map {
            ($0.rawValue, Int(samples["loopix_packets_dropped_total{cause=\"\($0.rawValue)\"}"]))
        }))
    }
}

/// Collects hop records from a node's observer.
final class HopLog: Sendable {
    let records = NIOLockedValueBox<[HopRecord]>([])
    var observer: @Sendable (HopRecord) -> Void {
        { record in self.records.withLockedValue { $0.append(record) } }
    }
    var all: [HopRecord] { records.withLockedValue { $0 } }
}

/// Resident memory of this process, in bytes.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// These tests check forwarding, not queue management (its own tests do): on a loaded two-core
/// CI machine, where a debug-build unwrap can take a millisecond and forty tests share the cores,
/// the workers can stall for tens of milliseconds, and any sojourn-based admission would drop
/// packets the test needs. Only the hard queue limit stays.
func relaxQueueManagement(_ configuration: inout NodeConfiguration) {
    configuration.aqmTarget = 1
    configuration.aqm.sojournLimit = 0
}
