// A node follows its network's packet suite: it forwards that suite's packets, drops and counts
// another suite's, and will not switch suites while it runs.
import LoopixNetwork
import LoopixNode
import LoopixSphinx
import NIOCore
import NIOPosix
import Testing
import LoopixTestSupport

@Suite("A node on the network's packet suite")
struct PacketSuiteTests {
    /// Two hops, so that a version 1 packet of three hops has exactly this geometry's packet size.
    static let kem = try! Geometry(hops: 2, payload: 2048, suite: .kemX25519)

    @Test("a KEM-suite node forwards KEM packets and drops version 1 packets, counted by cause")
    func foreignSuiteDropped() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let pair = try MixAndSink(geometry: Self.kem)
        let (mix, sink) = (pair.mix, pair.sink)
        let node = try MixNode(id: mix.id, secretKey: mix.secret, topology: pair.topology, links: mix.links,
                               configuration: testConfiguration(port: mix.port), eventLoopGroup: group)
        let frames = FrameSink()
        try await frames.start(as: sink, packetBytes: Self.kem.packetBytes, group: group)
        try await node.start()
        func packet(_ geometry: Geometry) throws -> [UInt8] {
            try Sphinx.createPacket(geometry: geometry, route: [
                RouteHop(publicKey: mix.secret.publicKey, command: .relay(next: sink.id, delayMicroseconds: 0)),
                RouteHop(publicKey: sink.secret.publicKey, command: .final(messageID: .random())),
            ], message: Array("on the suite".utf8))
        }

        // The network's own suite goes through, and the sink opens it as a KEM packet.
        let client = try await connect(to: mix, as: sink, group: group)
        try await client.writeAndFlush(packetFrame(try packet(Self.kem)))
        #expect(await frames.wait(for: 1, timeout: 10))
        let opener = try PacketProcessor(geometry: Self.kem, secretKey: sink.secret, replayFilter: nil)
        let (output, processed) = try opener.process(try #require(frames.received.withLockedValue { $0.first?.packet }))
        #expect(output[0] == PacketSuite.kemX25519.formatVersion)
        #expect(processed.finalMessage.map { Array(output[$0]) } == Array("on the suite".utf8))

        // A version 1 packet of the same H and P is another size: the frame is refused, the connection closed.
        let v1 = try Geometry(hops: 2, payload: 2048)
        #expect(v1.packetBytes != Self.kem.packetBytes)
        let wrongSize = try await connect(to: mix, as: sink, group: group)
        try await wrongSize.writeAndFlush(packetFrame(try packet(v1)))
        #expect(await closes(wrongSize, within: 2))
        #expect(await eventually { drops("bad_frame_length", at: node) == 1 })

        // A version 1 packet of this size (one hop more) reaches the core, whose version check refuses it.
        let sameSize = try Geometry(hops: 3, payload: 2048)
        #expect(sameSize.packetBytes == Self.kem.packetBytes)
        try await client.writeAndFlush(packetFrame(try packet(sameSize)))
        #expect(await eventually { drops("malformed", at: node) == 1 })
        #expect(frames.count == 1, "nothing of another suite is forwarded")
        #expect(client.isActive, "a packet the core refuses does not close its connection")

        try? await client.close()
        await node.shutdown()
        await frames.stop()
        try await group.shutdownGracefully()
    }

    @Test("a running node refuses a document of another suite and keeps its own")
    func suiteCannotChange() async throws {
        let pair = try MixAndSink(geometry: Self.kem)
        let node = try MixNode(id: pair.mix.id, secretKey: pair.mix.secret, topology: pair.topology, links: pair.mix.links,
                               configuration: testConfiguration(port: pair.mix.port))
        var other = pair.topology
        other.parameters.geometry = try Geometry(hops: 2, payload: 2048)
        #expect(throws: TopologyError.self) {
            try node.install(NodeEpochSetup(epoch: 1, topology: other, key: pair.mix.secret,
                                            replayFilter: try ReplayFilter(capacity: 1000)))
        }
        #expect(node.epoch == 0)
        await node.shutdown()
    }
}
