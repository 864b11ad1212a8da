// `loopix mix` as a separate process: it finds itself in the topology by its key, forwards
// packets, serves metrics over HTTP, and exits cleanly on SIGTERM.
import Foundation
import LoopixNetwork
import LoopixNode
import LoopixSphinx
import NIOCore
import NIOPosix
import Testing
import LoopixTestSupport

@Suite("loopix mix process")
struct MixProcessTests {
    /// The `loopix` binary beside the test bundle, if this build made it.
    static var binary: URL? {
        let directory = Bundle.main.bundleURL.deletingLastPathComponent()
        let candidates = [directory.appendingPathComponent("loopix"), Bundle.main.bundleURL.appendingPathComponent("loopix")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    @Test("forwards a packet, serves /metrics, and stops on SIGTERM", .enabled(if: binary != nil))
    func separateProcess() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pair = try MixAndSink()
        let (mix, sink, topology, parameters) = (pair.mix, pair.sink, pair.topology, pair.parameters)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loopix-mix-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let topologyFile = directory.appendingPathComponent("topology.json")
        let keyFile = directory.appendingPathComponent("mix.key")
        let configFile = directory.appendingPathComponent("mix.json")
        let authority = SigningKey()
        try SignedTopology.sign(topology, with: authority).write(to: topologyFile.path)
        try KeyFile(sphinxKey: mix.secret, signingKey: mix.identity).write(to: keyFile.path)
        let metricsPort = try freeLoopbackPort()
        let config: [String: Any] = [
            "topology": "topology.json", "key": "mix.key", "authority": authority.verifyingKey.hex,
            "listenHost": "127.0.0.1", "metricsPort": metricsPort, "workers": 1, "packetBuffers": 256,
            "logLevel": "warning",
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: configFile)

        let frames = FrameSink()
        try await frames.start(as: sink, packetBytes: parameters.geometry.packetBytes, group: group)
        let process = Process()
        process.executableURL = Self.binary!
        process.arguments = ["mix", "--config", configFile.path]
        let errorLog = directory.appendingPathComponent("stderr.log")
        _ = FileManager.default.createFile(atPath: errorLog.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errorLog)
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        var client: (any Channel)? = nil
        for _ in 0..<200 where client == nil {
            client = try? await connect(to: mix, as: sink, group: group)
            if client == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let stderr = (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
        let channel = try #require(client, "the node never listened: \(stderr)")
        let packet = try Sphinx.createPacket(geometry: parameters.geometry, route: [
            RouteHop(publicKey: mix.secret.publicKey, command: .relay(next: sink.id, delayMicroseconds: 2000)),
            RouteHop(publicKey: sink.secret.publicKey, command: .final(messageID: .random())),
        ], message: Array("across processes".utf8))
        try await channel.writeAndFlush(packetFrame(packet))
        #expect(await frames.wait(for: 1, timeout: 5))

        let samples = try #require(await MetricSamples.scrape(port: metricsPort, timeout: 2), "no answer on /metrics")
        #expect(samples["loopix_packets_out_total{kind=\"relay\"}"] == 1)

        process.interrupt()  // SIGINT; SIGTERM takes the same path
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!process.isRunning)
        #expect(process.terminationStatus == 0)
        try? await channel.close()
        await frames.stop()
        try await group.shutdownGracefully()
    }
}
