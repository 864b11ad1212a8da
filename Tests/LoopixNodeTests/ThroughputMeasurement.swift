// A rough throughput measurement (not a check): the single-core unwrap rate of the Sphinx core
// against what one node relays per CPU-second. Run with LOOPIX_MEASURE=1, in release:
//   LOOPIX_MEASURE=1 swift test -c release --scratch-path .build-node --filter ThroughputMeasurement
import Foundation
import LoopixNetwork
import LoopixNode
import LoopixSphinx
import NIOCore
import NIOPosix
import Testing

@Suite("Throughput measurement")
struct ThroughputMeasurement {
    static var enabled: Bool { ProcessInfo.processInfo.environment["LOOPIX_MEASURE"] == "1" }

    @Test("single-core unwrap rate vs node relay rate", .enabled(if: enabled))
    func measure() async throws {
        let count = 20_000
        let pair = try MixAndSink()
        let (mix, sink, topology, parameters) = (pair.mix, pair.sink, pair.topology, pair.parameters)
        let geometry = parameters.geometry
        let packets = try (0..<count).map { _ in
            try Sphinx.createPacket(geometry: geometry, route: [
                RouteHop(publicKey: mix.secret.publicKey, command: .relay(next: sink.id, delayMicroseconds: 0)),
                RouteHop(publicKey: sink.secret.publicKey, command: .final(messageID: .random())),
            ], message: [])
        }

        // 1. The core alone on one thread, with a replay filter, in place.
        let filter = try ReplayFilter(capacity: UInt64(4 * count))
        let processor = try PacketProcessor(geometry: geometry, secretKey: mix.secret, replayFilter: filter)
        var buffer = [UInt8](repeating: 0, count: geometry.packetBytes)
        let coreStart = ContinuousClock.now
        for packet in packets {
            buffer.withUnsafeMutableBytes { out in
                packet.withUnsafeBytes { _ = try? processor.process($0, into: out) }
            }
        }
        let coreSeconds = (ContinuousClock.now - coreStart).seconds
        let coreRate = Double(count) / coreSeconds

        // 2. A node relaying the same packets from loopback to a sink in this process.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = testConfiguration(port: mix.port)
        configuration.workers = 2
        configuration.packetBuffers = 8192
        configuration.aqm.queueLimit = 8192
        configuration.aqm.sojournLimit = 0
        configuration.aqmTarget = 1  // measure capacity, not the AQM
        let node = try MixNode(id: mix.id, secretKey: mix.secret, topology: topology, links: mix.links, configuration: configuration,
                               eventLoopGroup: group)
        let frames = FrameSink()
        try await frames.start(as: sink, packetBytes: geometry.packetBytes, group: group)
        try await node.start()
        let client = try await connect(to: mix, as: sink, group: group)
        let cpuBefore = cpuSeconds()
        let start = ContinuousClock.now
        for chunk in stride(from: 0, to: count, by: 256) {
            var batch = ByteBuffer()
            for packet in packets[chunk..<min(count, chunk + 256)] {
                batch.writeWireFrameHeader(type: .packet, bodyBytes: packet.count)
                batch.writeBytes(packet)
            }
            try await client.writeAndFlush(batch)
            while chunk - frames.count > 2048 { try await Task.sleep(for: .microseconds(200)) }
        }
        _ = await frames.wait(for: count, timeout: 60)
        let seconds = (ContinuousClock.now - start).seconds
        let cpu = cpuSeconds() - cpuBefore
        let relayed = frames.count
        print("""
            core: \(Int(coreRate)) unwraps/s on one thread (\(Int(1e6 / coreRate)) µs each)
            node: \(relayed)/\(count) relayed in \(String(format: "%.2f", seconds)) s = \(Int(Double(relayed) / seconds)) pkt/s wall, \
            \(Int(Double(relayed) / cpu)) pkt per CPU-second of the whole process (client and sink included), \
            ratio \(String(format: "%.2f", Double(relayed) / cpu / coreRate))
            """)
        try await client.close()
        await node.shutdown()
        await frames.stop()
        try await group.shutdownGracefully()
    }
}

private func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
