// Outbound links: a next hop that is down gets its packets queued (boundedly) and delivered once
// it comes up, after reconnect attempts with backoff.
import LoopixNetwork
import LoopixNode
import LoopixSphinx
import NIOCore
import NIOPosix
import LoopixTestSupport
import Testing

@Suite("Outbound links")
struct OutboundLinkTests {
    @Test("packets for a down next hop wait in a bounded queue, the rest are counted, and the queue drains on reconnect")
    func queueAndReconnect() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pair = try MixAndSink()
        let (mix, sink, topology, parameters) = (pair.mix, pair.sink, pair.topology, pair.parameters)
        var configuration = testConfiguration(port: mix.port)
        configuration.outboundQueueLimit = 5
        configuration.reconnectInitialBackoff = 0.02
        configuration.reconnectMaxBackoff = 0.1
        let node = try MixNode(id: mix.id, secretKey: mix.secret, topology: topology, links: mix.links, configuration: configuration,
                               eventLoopGroup: group)
        try await node.start()

        let client = try await connect(to: mix, as: sink, group: group)
        for _ in 0..<8 {
            let packet = try Sphinx.createPacket(geometry: parameters.geometry, route: [
                RouteHop(publicKey: mix.secret.publicKey, command: .relay(next: sink.id, delayMicroseconds: 0)),
                RouteHop(publicKey: sink.secret.publicKey, command: .final(messageID: .random())),
            ], message: [])
            try await client.writeAndFlush(packetFrame(packet))
        }
        #expect(await eventually { drops("outbound_queue_full", at: node) == 3 })
        try await Task.sleep(for: .milliseconds(200))  // a few failed attempts

        let frames = FrameSink()
        try await frames.start(as: sink, packetBytes: parameters.geometry.packetBytes, group: group)
        #expect(await frames.wait(for: 5, timeout: 3), "queued packets not delivered after reconnect: \(frames.count)")

        try await client.close()
        await node.shutdown()
        await frames.stop()
        try await group.shutdownGracefully()
    }
}
