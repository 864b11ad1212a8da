import Testing
@testable import LoopixBench

@Suite("Queue model")
struct QueueModelTests {
    func model() -> QueueModel {
        var m = QueueModel()
        m.workers = 2
        m.serviceTime = 100e-6
        return m
    }

    @Test("every policy sees the same trace, and below capacity none drops")
    func light() {
        let m = model()
        let scenario = QueueScenario(name: "light", phases: [.init(load: 0.5, seconds: 0.5)])
        let trace = m.arrivals(for: scenario, seed: 1)
        #expect(abs(Double(trace.count) - 0.5 * m.capacity * 0.5) < 300)
        for policy in QueuePolicy.allCases {
            let r = m.run(scenario, arrivals: trace, policy: policy)
            #expect(r.offered == trace.count)
            #expect(r.served + r.controllerDrops + r.limitDrops <= r.offered)
            #expect(r.controllerDrops + r.limitDrops <= r.offered / 500)
        }
    }

    @Test("at twice the capacity tail drop fills the queue while PIE holds the sojourn under its limit")
    func overload() {
        let m = model()
        // Past the first burst allowance (ten targets) and the drain of what it let in; the
        // controller's times scale with its target, so the scenario does too (written for 1 ms).
        let s = m.configuration.targetDelay / 0.001
        let scenario = QueueScenario(name: "2x", phases: [.init(load: 2, seconds: 0.6 * s)], measureFrom: 0.2 * s)
        let trace = m.arrivals(for: scenario, seed: 2)
        let pie = m.run(scenario, arrivals: trace, policy: .pie)
        let tail = m.run(scenario, arrivals: trace, policy: .tailDrop)
        let pieP99 = Summary(pie.sojourns).p99, tailP99 = Summary(tail.sojourns).p99
        #expect(pieP99 <= m.configuration.sojournLimit + m.serviceTime)
        // 2048 packets behind two 100 µs workers: about 0.1 s.
        #expect(tailP99 > 0.09)
        #expect(Double(pie.served) / pie.capacityPackets > 0.95)
        let summary = QueueRunSummary(pie, scenario: scenario, binSeconds: m.binSeconds, targetSeconds: 0.001)
        #expect(summary.dropRate > 0.4 && summary.dropRate < 0.6)
    }

    @Test("halving the workers halves the capacity the summary measures against")
    func capacityChange() {
        let m = model()
        let scenario = QueueScenario(name: "cap", phases: [.init(load: 0.8, seconds: 0.2), .init(load: 0.8, seconds: 0.2, workers: 1)])
        let r = m.run(scenario, arrivals: m.arrivals(for: scenario, seed: 3), policy: .pie)
        #expect(abs(r.capacityPackets - (0.2 * 20000 + 0.2 * 10000)) < 1e-6)
        #expect(r.limitDrops + r.controllerDrops > 0)
    }
}
