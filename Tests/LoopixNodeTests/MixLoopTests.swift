// Mix loops on a real network: loops go round through the other layers and a provider and come
// back; when the provider vanishes the loops stop returning, the mix raises its alarm and
// answers with more cover traffic.
import LoopixNetwork
import LoopixNode
import LoopixSphinx
import NIOCore
import NIOPosix
import Testing
import LoopixTestSupport

@Suite("Mix loops")
struct MixLoopTests {
    @Test("loops return through the network; without them the alarm rises and cover traffic grows")
    func loopsAndAlarm() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let mixes = try (1...3).map { try Member(role: .mix, layer: $0) }
        let provider = try Member(role: .provider, layer: 0)
        var parameters = NetworkParameters()
        parameters.mixLoopRate = 30
        parameters.mixDelayRate = 1000
        parameters.loopReturnThreshold = 0.8
        let topology = Topology(parameters: parameters, nodes: mixes.map(\.descriptor) + [provider.descriptor])

        func configuration(_ member: Member) -> NodeConfiguration {
            var configuration = testConfiguration(port: member.port)
            configuration.sendLoops = true
            configuration.loopWindow = 1.0
            configuration.loopGrace = 0.3
            configuration.loopMinimumSamples = 10
            configuration.loopAlarmRateMultiplier = 4
            configuration.reconnectMaxBackoff = 0.2
            return configuration
        }
        let nodes = try (mixes + [provider]).map {
            try MixNode(id: $0.id, secretKey: $0.secret, topology: topology, links: $0.links, configuration: configuration($0),
                        eventLoopGroup: group)
        }
        for node in nodes { try await node.start() }
        let watched = nodes[1]
        func metric(_ name: String) -> Double { MetricSamples(text: watched.metrics.render())[name] }

        // Healthy: loops come back, the ratio is high and there is no alarm.
        #expect(await eventually(within: 5) { metric("loopix_loop_return_ratio") >= 0.9 },
                "return ratio \(metric("loopix_loop_return_ratio"))")
        #expect(metric("loopix_loop_alarm") == 0)
        #expect(metric("loopix_loops_returned_total") > 10)
        // Rates per second of measured time: a sleep on a busy machine can last much longer than asked.
        func loopRate() async throws -> Double {
            let clock = ContinuousClock()
            let start = clock.now
            let before = metric("loopix_loops_sent_total")
            try await Task.sleep(for: .seconds(2))
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            return (metric("loopix_loops_sent_total") - before) / seconds
        }
        let healthyRate = try await loopRate()

        // The provider disappears: every loop passes through it, so none come back.
        await nodes[3].shutdown()
        #expect(await eventually(within: 6) { metric("loopix_loop_alarm") == 1 }, "no alarm")
        #expect(metric("loopix_loop_alarms_total") >= 1)
        #expect(metric("loopix_loop_return_ratio") < 0.8)
        let alarmedRate = try await loopRate()
        print("loops per second: healthy \(healthyRate), alarmed \(alarmedRate)")
        #expect(alarmedRate > 2 * healthyRate, "countermeasure: cover traffic should grow")

        for node in nodes.prefix(3) { await node.shutdown() }
        try await group.shutdownGracefully()
    }
}
