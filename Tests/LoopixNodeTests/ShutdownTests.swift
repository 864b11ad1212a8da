// Graceful shutdown: the node stops accepting, forwards what is due within the drain time, and
// counts what it had to give up.
import LoopixNetwork
import LoopixNode
import LoopixSphinx
import NIOCore
import NIOPosix
import Testing
import LoopixTestSupport

@Suite("Graceful shutdown")
struct ShutdownTests {
    @Test("short delays are forwarded, long ones counted as dropped, new connections refused")
    func drainsAndCounts() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pair = try MixAndSink()
        let (mix, sink, topology, parameters) = (pair.mix, pair.sink, pair.topology, pair.parameters)
        var configuration = testConfiguration(port: mix.port)
        configuration.drainTimeout = 0.3
        let node = try MixNode(id: mix.id, secretKey: mix.secret, topology: topology, links: mix.links, configuration: configuration,
                               eventLoopGroup: group)
        let frames = FrameSink()
        try await frames.start(as: sink, packetBytes: parameters.geometry.packetBytes, group: group)
        try await node.start()

        // Packets are built before connecting, so that a slow machine cannot stall the connection.
        let packets = try [UInt32(50_000), 100_000, 10_000_000, 20_000_000].map { delay in
            try Sphinx.createPacket(geometry: parameters.geometry, route: [
                RouteHop(publicKey: mix.secret.publicKey, command: .relay(next: sink.id, delayMicroseconds: delay)),
                RouteHop(publicKey: sink.secret.publicKey, command: .final(messageID: .random())),
            ], message: [])
        }
        let client = try await connect(to: mix, as: sink, group: group)
        for packet in packets { try await client.writeAndFlush(packetFrame(packet)) }
        #expect(await eventually { MetricSamples(text: node.metrics.render())["loopix_packets_in_total"] == 4 })
        #expect(await eventually { MetricSamples(text: node.metrics.render())["loopix_crypto_queue_length"] == 0 })

        await node.shutdown()
        #expect(frames.count == 2, "the two short delays end within the drain time")
        #expect(drops("shutdown", at: node) == 2, "the two long delays are counted")
        let clientClosed = await closes(client, within: 1)
        #expect(clientClosed)
        await #expect(throws: (any Error).self) { _ = try await connect(to: mix, as: sink, group: group) }

        await frames.stop()
        try await group.shutdownGracefully()
    }
}
