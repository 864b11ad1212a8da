// What `loopix bench node` measured: each step, each worker count's sweep, the targets judged
// on them, and the CSV tables.
import Foundation
import LoopixMetrics

public struct GeneratorAlone: Codable, Sendable {
    public var packetsPerSecond: Double
    public var sent: Int
    public var received: Int
    public var generatorMicrosecondsPerPacket: Double
    public var sinkMicrosecondsPerPacket: Double
}

public struct RSSSample: Codable, Sendable {
    public var seconds: Double
    public var megabytes: Double
}

/// One step: a rate held for a while against one node process.
public struct StepResult: Codable, Sendable {
    public var label: String
    public var workers: Int
    public var senders: Int
    public var loadFraction: Double
    public var offeredRequested: Double
    public var offeredAchieved: Double
    public var throughput: Double
    public var goodputOfCapacity: Double = .nan
    public var windowSeconds: Double
    /// Sink receive time minus generator send time, for packets sent in the window (ms).
    public var latencyMs: Summary
    public var sojournP50Ms: Double?
    public var sojournP99Ms: Double?
    public var sojournAbove2ms: Double?
    public var hopOverheadP99Ms: Double?
    public var nodeCores: Double
    /// The node's CPU outside its crypto workers (event loops, timers, everything else) per
    /// CPU-second of the workers, measured in the same window of the same process: what the
    /// node spends beside the crypto, free of the host's changes of speed.
    public var outsideWorkers: Double
    public var efficiency: Double
    /// The single-core `lsx_process` rate during the step (CPU time of samples taken through the window);
    /// efficiency is against it.
    public var coreRate: Double
    /// The single-core rate just before and after the step (wall time), for comparison.
    public var coreRateAround: Double
    public var generatorCores: Double
    public var sinkCores: Double
    /// Cores busy on the machine outside the node and this benchmark process (other tenants),
    /// and cores stolen by the hypervisor, during the window.
    public var otherCores: Double
    public var stolenCores: Double
    public var generatorLagP50Ms: Double
    public var generatorLagMaxMs: Double
    public var unknownPackets: Int
    public var drops: [String: Double]
    public var rssMaxMB: Double
    public var rssSeries: [RSSSample]
}

public struct WorkerSweep: Codable, Sendable {
    public var workers: Int
    public var capacity: Double
    public var capacityOverWorkersTimesCore: Double
    public var steps: [StepResult]
}

/// The node saturated with Noise links and with plaintext links, alternating in one sitting.
public struct LinkCost: Codable, Sendable {
    public var workers: Int
    public var noise: [StepResult] = []
    public var plaintext: [StepResult] = []

    /// Relayed packets per second with Noise links over those with plaintext links (medians).
    public var throughputRatio: Double {
        Statistics.median(noise.map(\.throughput)) / Statistics.median(plaintext.map(\.throughput))
    }

    /// The node's CPU time per relayed packet with Noise links over that with plaintext links
    /// (medians): the cost itself, less disturbed than throughput by other tenants of the machine.
    public var cpuPerPacketRatio: Double {
        func perPacket(_ steps: [StepResult]) -> Double {
            Statistics.median(steps.map { $0.throughput > 0 ? $0.nodeCores / $0.throughput : .infinity })
        }
        return perPacket(noise) / perPacket(plaintext)
    }

    /// Efficiency (relayed per node CPU-second over the single-core rate sampled through the
    /// same window) with Noise links over that with plaintext links (medians): the CPU cost
    /// with the machine's changes of speed divided out.
    public var efficiencyRatio: Double {
        Statistics.median(noise.map(\.efficiency)) / Statistics.median(plaintext.map(\.efficiency))
    }
}

public struct NodeTarget: Codable, Sendable {
    public var name: String
    public var measured: String
    public var target: String
    public var met: Bool
}

public enum NodeTargets {
    public static func evaluate(sweeps: [WorkerSweep], soak: StepResult?, mainWorkers: Int, linkCost: LinkCost? = nil) -> [NodeTarget] {
        var out: [NodeTarget] = []
        if let linkCost {
            let cost = 1 - linkCost.throughputRatio
            out.append(NodeTarget(name: "link encryption's cost in saturated throughput (\(linkCost.workers) workers)",
                                  measured: String(format: "%.1f %% (efficiency × %.3f, CPU/packet × %.3f)", cost * 100,
                                                   linkCost.efficiencyRatio, linkCost.cpuPerPacketRatio),
                                  target: "<= 5 %", met: cost <= 0.05))
        }
        guard let main = sweeps.first(where: { $0.workers == mainWorkers }) else { return out }
        func at(_ f: Double, _ sweep: WorkerSweep = main) -> StepResult? {
            sweep.steps.first { $0.label == "sweep" && abs($0.loadFraction - f) < 1e-9 }
        }
        for f in [0.5, 0.9] {
            guard let s = at(f) else { continue }
            // What queueing alone costs at this load: workers that only unwrap, at this step's
            // single-core rate, with Poisson arrivals (M/D/c). A first-come-first-served node
            // whose workers take this long per packet does no better, whatever its I/O costs.
            let floor = IdealQueue.latency(workers: mainWorkers, serviceTime: 1 / s.coreRate, load: f).scaled(by: 1000)
            out.append(NodeTarget(name: "latency p50 at \(Int(f * 100)) % (\(mainWorkers) workers)",
                                  measured: String(format: "%.3f ms (queueing alone %.3f)", s.latencyMs.p50, floor.p50),
                                  target: "<= 0.3 ms", met: s.latencyMs.p50 <= 0.3))
            out.append(NodeTarget(name: "latency p99 at \(Int(f * 100)) % (\(mainWorkers) workers)",
                                  measured: String(format: "%.3f ms (queueing alone %.3f)", s.latencyMs.p99, floor.p99),
                                  target: "<= 2 ms", met: s.latencyMs.p99 <= 2))
        }
        for sweep in sweeps {
            // Saturated (the capacity probe: more offered than the node can take), where the node
            // is CPU-bound and the ratio is the pipeline's cost per packet; then at 1 × capacity,
            // where idle gaps add wake-ups that a saturated node does not pay.
            if let probe = sweep.steps.first(where: { $0.label == "probe" }) {
                out.append(NodeTarget(name: "efficiency saturated (\(sweep.workers) workers)",
                                      measured: String(format: "%.2f (outside workers %.2f)", probe.efficiency, probe.outsideWorkers),
                                      target: ">= 0.8", met: probe.efficiency >= 0.8))
            }
            guard let s = at(1.0, sweep) ?? at(0.9, sweep) else { continue }
            out.append(NodeTarget(name: "efficiency at \(String(format: "%.2g", s.loadFraction)) × capacity (\(sweep.workers) workers)",
                                  measured: String(format: "%.2f (outside workers %.2f)", s.efficiency, s.outsideWorkers),
                                  target: ">= 0.8", met: s.efficiency >= 0.8))
        }
        for f in [1.5, 2.0] {
            guard let s = at(f) else { continue }
            out.append(NodeTarget(name: "goodput at \(f) × capacity", measured: String(format: "%.1f %%", s.goodputOfCapacity * 100),
                                  target: ">= 95 %", met: s.goodputOfCapacity >= 0.95))
            if let p99 = s.sojournP99Ms, let above = s.sojournAbove2ms {
                out.append(NodeTarget(name: "sojourn p99 at \(f) × capacity", measured: String(format: "%.2f ms (%.2f %% above 2 ms)", p99, above * 100),
                                      target: "<= 2 ms (2 × target)", met: above <= 0.01))
            }
        }
        if let soak, soak.rssSeries.count >= 4 {
            let half = Array(soak.rssSeries[(soak.rssSeries.count / 2)...])
            let slope = linearSlope(half.map(\.seconds), half.map(\.megabytes)) * 60
            let range = (half.map(\.megabytes).max() ?? 0) - (half.map(\.megabytes).min() ?? 0)
            out.append(NodeTarget(name: "RSS over the second half of a \(Int(soak.windowSeconds)) s soak at 1.5 ×",
                                  measured: String(format: "%.2f MB/min (range %.1f MB, max %.1f MB)", slope, range, soak.rssMaxMB),
                                  target: "flat", met: range < max(2, 0.02 * soak.rssMaxMB)))
        }
        return out
    }
}

func linearSlope(_ x: [Double], _ y: [Double]) -> Double {
    let mx = Statistics.mean(x), my = Statistics.mean(y)
    let sxx = zip(x, x).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - mx) }
    let sxy = zip(x, y).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
    return sxx > 0 ? sxy / sxx : 0
}

public struct NodeBenchResults: Codable, Sendable {
    public var coreRateBefore: Double
    public var coreRateAfter: Double
    public var generatorAlone: GeneratorAlone
    public var sweeps: [WorkerSweep]
    public var senders: [StepResult]
    public var soak: StepResult?
    public var stepSeconds: Double
    public var warmupSeconds: Double
    public var poolPackets: Int
    public var aqmTargetMs: Double
    public var linkCost: LinkCost?
    public var targets: [NodeTarget]
}

extension NodeBenchResults {
    /// Writes throughput.csv, senders.csv and rss.csv into the run's folder.
    public func writeTables(to run: BenchRun) throws {
        let r = self
        let header = ["phase", "workers", "senders", "load_fraction", "offered_requested", "offered_achieved", "throughput",
                      "goodput_of_capacity", "latency_p50_ms", "latency_p99_ms", "latency_max_ms", "latency_samples",
                      "sojourn_p50_ms", "sojourn_p99_ms", "sojourn_above_2ms", "hop_overhead_p99_ms", "node_cores", "efficiency",
                      "core_rate", "core_rate_around", "outside_workers", "generator_cores", "sink_cores", "other_cores", "stolen_cores", "rss_max_mb", "drops"]
        func row(_ s: StepResult) -> [String] {
            [s.label, "\(s.workers)", "\(s.senders)", csv(s.loadFraction, 3), csv(s.offeredRequested, 0), csv(s.offeredAchieved, 0),
             csv(s.throughput, 0), csv(s.goodputOfCapacity, 4), csv(s.latencyMs.p50, 4), csv(s.latencyMs.p99, 4), csv(s.latencyMs.max, 3),
             "\(s.latencyMs.count)", csv(s.sojournP50Ms ?? .nan, 4), csv(s.sojournP99Ms ?? .nan, 4), csv(s.sojournAbove2ms ?? .nan, 5),
             csv(s.hopOverheadP99Ms ?? .nan, 4), csv(s.nodeCores, 3), csv(s.efficiency, 3), csv(s.coreRate, 0), csv(s.coreRateAround, 0), csv(s.outsideWorkers, 3), csv(s.generatorCores, 3), csv(s.sinkCores, 3),
             csv(s.otherCores, 3), csv(s.stolenCores, 3), csv(s.rssMaxMB, 1), "\"" + s.drops.sorted { $0.key < $1.key }.map { "\($0.key)=\(Int($0.value))" }.joined(separator: " ") + "\""]
        }
        try run.writeCSV("throughput.csv", header: header, rows: r.sweeps.flatMap { $0.steps.map(row) })
        try run.writeCSV("senders.csv", header: header, rows: r.senders.map(row))
        if let cost = r.linkCost { try run.writeCSV("links.csv", header: header, rows: (cost.noise + cost.plaintext).map(row)) }
        var rss: [[String]] = []
        for sweep in r.sweeps { for s in sweep.steps { rss += s.rssSeries.map { ["w\(sweep.workers)-\(s.label)", csv($0.seconds, 2), csv($0.megabytes, 2)] } } }
        if let soak = r.soak { rss += soak.rssSeries.map { ["soak", csv($0.seconds, 2), csv($0.megabytes, 2)] } }
        try run.writeCSV("rss.csv", header: ["phase", "seconds", "rss_mb"], rows: rss)
    }
}
