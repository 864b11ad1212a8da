@testable import LoopixBench
import Testing

@Suite("Node benchmark targets")
struct NodeTargetsTests {
    private func step(_ epoch: UInt64, full: Double = 0, rss: Double) -> EpochStep {
        EpochStep(epoch: epoch, offered: 1000, relayed: 990, drops: full > 0 ? ["replay_filter_full": full, "aqm": 3] : ["aqm": 3],
                  previousKey: 10, rssMaxMB: rss, rssEndMB: rss)
    }

    private func targets(_ steps: [EpochStep], share: Double = 0.005) -> [NodeTarget] {
        NodeTargets.evaluate(sweeps: [], soak: nil, mainWorkers: 1, epochMachineryShare: share,
                             epochs: EpochsPhaseResult(epochSeconds: 5, grace: 1, rate: 1000, ratedPacketsPerSecond: 1000, steps: steps))
    }

    @Test("the epochs phase is met only with no full-filter drop and flat memory after the first epoch")
    func epochsPhase() {
        let flat = [step(4, rss: 30), step(5, rss: 41), step(6, rss: 41.5)]
        #expect(EpochsPhaseResult(epochSeconds: 5, grace: 1, rate: 1, ratedPacketsPerSecond: 1, steps: flat).rssDriftMB == 0.5)
        let flatTargets = targets(flat)
        #expect(flatTargets.filter { !$0.met }.isEmpty)
        let full = [step(4, rss: 41), step(5, full: 1, rss: 41), step(6, rss: 41)]
        let fullFailed = targets(full).filter { !$0.met }.map(\.name)
        #expect(fullFailed == ["3 key epochs of 5 s at capacity: replay_filter_full drops"])
        let growing = [step(4, rss: 41), step(5, rss: 45), step(6, rss: 49)]
        let growingFailed = targets(growing).filter { !$0.met }.map(\.name)
        #expect(growingFailed == ["3 key epochs of 5 s at capacity: RSS change between epoch ends"])
    }

    @Test("the epoch machinery's share of a packet is judged against 2 %")
    func epochShare() {
        let below = targets([], share: 0.019).first { $0.name.hasPrefix("epoch machinery") }
        let above = targets([], share: 0.021).first { $0.name.hasPrefix("epoch machinery") }
        #expect(below?.met == true)
        #expect(above?.met == false)
    }
}

@Suite("Node benchmark targets below capacity and in overload")
struct LossTargetsTests {
    private func step(_ f: Double, drops: [String: Double], packetsIn: Double, sojournAbove: Double? = nil) -> StepResult {
        StepResult(label: "sweep", workers: 1, senders: 1, loadFraction: f, offeredRequested: 1000, offeredAchieved: 1000,
                   throughput: 1000, goodputOfCapacity: f, windowSeconds: 2.5, latencyMs: Summary(seconds: [0.001]), sojournP50Ms: 1,
                   sojournP99Ms: 1, sojournAboveTwiceTarget: sojournAbove, hopOverheadP99Ms: nil, nodeCores: 0.5, outsideWorkers: 0.3,
                   loopCores: nil, efficiency: 0.8, coreRate: 10000, coreRateAround: 10000, generatorCores: 0.1, sinkCores: 0.1,
                   otherCores: 0, stolenCores: 0, generatorLagP50Ms: 0, generatorLagMaxMs: 0, unknownPackets: 0, drops: drops,
                   packetsIn: packetsIn, rssMaxMB: 40, rssSeries: [])
    }

    private func judged(_ steps: [StepResult], target: Double = 0.010) -> [String: (met: Bool, measured: String)] {
        let sweep = WorkerSweep(workers: 1, capacity: 10000, capacityOverWorkersTimesCore: 0.9, steps: steps)
        return Dictionary(uniqueKeysWithValues: NodeTargets.evaluate(sweeps: [sweep], soak: nil, mainWorkers: 1, epochMachineryShare: 0,
                                                                     aqmTarget: target).map { ($0.name, ($0.met, $0.measured)) })
    }

    @Test("below capacity, at most one drop in 10,000 of what arrived, whatever its cause")
    func lossBelowCapacity() {
        let t = judged([step(0.25, drops: [:], packetsIn: 5000), step(0.5, drops: ["queue_full": 1, "aqm": 0], packetsIn: 10000),
                        step(0.75, drops: ["queue_full": 1, "fair_share": 1], packetsIn: 15000),
                        step(0.8, drops: ["bad_mac": 0, "no_buffer": 1], packetsIn: 9000), step(0.9, drops: ["aqm": 50], packetsIn: 20000)])
        #expect(t["drops at 25 % (1 worker)"]?.met == true)
        #expect(t["drops at 50 % (1 worker)"]?.met == true)
        #expect(t["drops at 75 % (1 worker)"]?.met == false)
        #expect(t["drops at 75 % (1 worker)"]?.measured.contains("fair_share 1, queue_full 1") == true)
        #expect(t["drops at 80 % (1 worker)"]?.met == false)
        #expect(t.keys.filter { $0.hasPrefix("drops at 90") }.isEmpty, "90 % is not judged")
    }

    @Test("in overload the sojourn is judged against twice the node's own target")
    func sojournAgainstTarget() {
        let within = judged([step(1.5, drops: [:], packetsIn: 1, sojournAbove: 0.005)], target: 0.010)
        #expect(within["sojourn p99 at 1.5 × capacity"]?.met == true)
        #expect(within["sojourn p99 at 1.5 × capacity"]?.measured.contains("above 20 ms") == true)
        let beyond = judged([step(2, drops: [:], packetsIn: 1, sojournAbove: 0.02)], target: 0.010)
        #expect(beyond["sojourn p99 at 2.0 × capacity"]?.met == false)
    }
}

@Suite("Node benchmark targets against the relay floor")
struct FloorTargetsTests {
    private func step(_ label: String, throughput: Double = 5000, cores: Double, outside: Double, loopCores: Double? = nil,
                      p50: Double, p99: Double) -> StepResult {
        var latency = Summary(seconds: [0.001])
        latency.p50 = p50
        latency.p99 = p99
        return StepResult(label: label, workers: 2, senders: 1, loadFraction: 0.5, offeredRequested: throughput, offeredAchieved: throughput,
                          throughput: throughput, windowSeconds: 2.5, latencyMs: latency, sojournP50Ms: nil, sojournP99Ms: nil,
                          sojournAboveTwiceTarget: nil, hopOverheadP99Ms: nil, nodeCores: cores, outsideWorkers: outside, loopCores: loopCores,
                          efficiency: 0.8, coreRate: 13000, coreRateAround: 13000, generatorCores: 0.1, sinkCores: 0.1, otherCores: 0,
                          stolenCores: 0, generatorLagP50Ms: 0, generatorLagMaxMs: 0, unknownPackets: 0, drops: [:], rssMaxMB: 80,
                          rssSeries: [])
    }

    /// A 2-worker sweep whose node spends 100 µs per packet, a third of it outside its workers,
    /// beside floors whose loops spend `plainLoop` and `sealedLoop` µs per packet (nil: not run).
    private func targets(nodeP50: Double, nodeP99: Double, plainLoop: Double?, sealedLoop: Double?) -> [String: Bool] {
        let node = step("sweep", cores: 0.5, outside: 0.5, p50: nodeP50, p99: nodeP99)
        var sweep = WorkerSweep(workers: 2, capacity: 10000, capacityOverWorkersTimesCore: 0.4, steps: [node])
        for (links, loop) in [(FloorLinks.plain, plainLoop), (.sealed, sealedLoop)] {
            guard let loop else { continue }
            let floor = step("floor-\(links.rawValue)", cores: 0.2, outside: 3, loopCores: loop * 1e-6 * 5000, p50: 0.1, p99: 0.5)
            sweep.floors.append(FloorSweep(links: links, workers: 2, steps: [floor], node: [node]))
        }
        let all = NodeTargets.evaluate(sweeps: [sweep], soak: nil, mainWorkers: 2, epochMachineryShare: 0)
        return Dictionary(uniqueKeysWithValues: all.filter { $0.name.contains("floor") }.map { ($0.name, $0.met) })
    }

    @Test("outside the workers, the node is judged against the sealed floor's loop when it ran: at most 2 ×")
    func cpuAgainstFloor() throws {
        let queueing = IdealQueue.latency(workers: 2, serviceTime: 1 / 13000, load: 0.5).scaled(by: 1000)
        let p50 = queueing.p50, p99 = queueing.p99
        // The node's 33.3 µs outside its workers: 1.67 × a sealed loop of 20 µs, 3.3 × a plain one of 10.
        let both = targets(nodeP50: p50, nodeP99: p99, plainLoop: 10, sealedLoop: 20)
        #expect(both["CPU/pkt outside workers ÷ sealed floor loop, 50 % (2 w.)"] == true)
        #expect(both.keys.contains { $0.contains("plain") } == false)
        let plainOnly = targets(nodeP50: p50, nodeP99: p99, plainLoop: 10, sealedLoop: nil)
        #expect(plainOnly["CPU/pkt outside workers ÷ plain floor loop, 50 % (2 w.)"] == false)
        #expect(targets(nodeP50: p50, nodeP99: p99, plainLoop: nil, sealedLoop: nil).isEmpty)
    }

    @Test("per-hop latency at 50 %: p50 within queueing alone + 1.5 × the floor's, p99 within queueing alone + 2 × the floor's")
    func latencyAgainstFloor() {
        let queueing = IdealQueue.latency(workers: 2, serviceTime: 1 / 13000, load: 0.5).scaled(by: 1000)
        let (p50, p99) = ("latency p50 at 50 % (2 workers) vs sealed floor", "latency p99 at 50 % (2 workers) vs sealed floor")
        // The floor's p50 is 0.1 ms and its p99 0.5 ms.
        let within = targets(nodeP50: queueing.p50 + 0.149, nodeP99: queueing.p99 + 0.99, plainLoop: nil, sealedLoop: 20)
        #expect(within[p50] == true && within[p99] == true)
        let beyond = targets(nodeP50: queueing.p50 + 0.151, nodeP99: queueing.p99 + 1.01, plainLoop: nil, sealedLoop: 20)
        #expect(beyond[p50] == false && beyond[p99] == false)
    }
}
