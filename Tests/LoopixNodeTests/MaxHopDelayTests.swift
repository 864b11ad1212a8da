// The network's maximum per-hop delay: a packet that asks a node for more is dropped after its
// unwrap and counted, one within it goes on; senders never draw above it.
import LoopixNetwork
import LoopixNode
import LoopixSphinx
import NIOCore
import NIOPosix
import Testing
import LoopixTestSupport

@Suite("Maximum per-hop delay")
struct MaxHopDelayTests {
    @Test("a packet asking for more than maxHopDelay is dropped and counted as delay_too_long; one within it is forwarded")
    func dropsTooLongDelays() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pair = try MixAndSink()
        var parameters = pair.parameters
        parameters.maxHopDelay = 0.05
        let topology = Topology(parameters: parameters, nodes: pair.topology.nodes)
        let node = try MixNode(id: pair.mix.id, secretKey: pair.mix.secret, topology: topology, links: pair.mix.links,
                               configuration: testConfiguration(port: pair.mix.port), eventLoopGroup: group)
        let frames = FrameSink()
        try await frames.start(as: pair.sink, packetBytes: parameters.geometry.packetBytes, group: group)
        try await node.start()

        func packet(delayMicroseconds: UInt32) throws -> [UInt8] {
            try Sphinx.createPacket(geometry: parameters.geometry, route: [
                RouteHop(publicKey: pair.mix.secret.publicKey, command: .relay(next: pair.sink.id, delayMicroseconds: delayMicroseconds)),
                RouteHop(publicKey: pair.sink.secret.publicKey, command: .final(messageID: .random())),
            ], message: [])
        }
        let link = try await connect(to: pair.mix, as: pair.sink, group: group)
        // 71 minutes (the most a routing command can say), just above the limit, and at it.
        try await link.writeAndFlush(packetFrame(try packet(delayMicroseconds: UInt32.max)))
        try await link.writeAndFlush(packetFrame(try packet(delayMicroseconds: 50_001)))
        try await link.writeAndFlush(packetFrame(try packet(delayMicroseconds: 50_000)))

        #expect(await eventually { drops("delay_too_long", at: node) == 2 })
        #expect(await frames.wait(for: 1, timeout: 5), "the packet within the limit was not forwarded")
        #expect(await eventually {
            MetricSamples(text: node.metrics.render())["loopix_packet_buffers_in_use"] == 0
        }, "a dropped packet kept its buffer")

        try? await link.close()
        await node.shutdown()
        await frames.stop()
        try await group.shutdownGracefully()
    }

    @Test("senders draw per-hop delays from Exp(µ) below the limit; the default limit is 20 mean delays")
    func drawsStayBelowTheLimit() {
        var parameters = NetworkParameters()
        #expect(parameters.hopDelayLimit == NetworkParameters.defaultHopDelayMultiple / parameters.mixDelayRate)
        parameters.maxHopDelay = 0.5 / parameters.mixDelayRate  // half a mean delay: most draws are redrawn
        var generator = SystemRandomNumberGenerator()
        let draws = (0..<10_000).map { _ in parameters.drawHopDelayMicroseconds(using: &generator) }
        let limit = parameters.hopDelayLimitMicroseconds
        #expect(draws.allSatisfy { $0 <= limit })
        #expect(draws.max()! > limit / 10 * 9 && draws.min()! < limit / 10, "the draws do not cover the range below the limit")
    }
}
