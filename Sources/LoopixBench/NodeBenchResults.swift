// What `loopix bench node` measured: each step, each worker count's sweep, the packet suites side
// by side, the targets judged on them, and the CSV tables.
import Foundation
import LoopixNode
import LoopixSim
import LoopixTestnet
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
    /// The fraction of sojourns longer than twice the node's AQM target.
    public var sojournAboveTwiceTarget: Double?
    public var hopOverheadP99Ms: Double?
    public var nodeCores: Double
    /// The node's CPU outside its crypto workers (event loops, timers, everything else) per
    /// CPU-second of the workers, measured in the same window of the same process: what the
    /// node spends beside the crypto, free of the host's changes of speed.
    public var outsideWorkers: Double
    /// Cores of the event loop thread, where the process tells it apart (the relay floor's; nil for the node).
    public var loopCores: Double? = nil
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
    /// Packet frames the node received in the window (its own counter), against which `drops` are judged.
    public var packetsIn: Double = 0
    public var rssMaxMB: Double
    public var rssSeries: [RSSSample]
}

extension StepResult {
    /// CPU per relayed packet (µs): the whole process, its workers, the rest of it (outside the
    /// workers), and its event loop thread where that is told apart.
    public var microsecondsPerPacket: Double { nodeCores / throughput * 1e6 }
    public var workerMicrosecondsPerPacket: Double { microsecondsPerPacket / (1 + outsideWorkers) }
    public var outsideMicrosecondsPerPacket: Double { microsecondsPerPacket * outsideWorkers / (1 + outsideWorkers) }
    public var loopMicrosecondsPerPacket: Double? { loopCores.map { $0 / throughput * 1e6 } }
}

public struct WorkerSweep: Codable, Sendable {
    public var workers: Int
    public var capacity: Double
    public var capacityOverWorkersTimesCore: Double
    public var steps: [StepResult]
    /// The relay floor with the same workers at the same offered rates, after the node's steps.
    public var floors: [FloorSweep] = []
}

/// The relay floor's links: plain TCP, or with the links' AEAD run on its loop per frame in and out.
public enum FloorLinks: String, Codable, Sendable, CaseIterable {
    case plain, sealed
}

/// The relay floor (CSources/bench/relay_floor.c) run like the node, with the node's worker
/// count, at each of the sweep's loads × the node's measured capacity; and, load by load, the
/// node beside it.
public struct FloorSweep: Codable, Sendable {
    public var links: FloorLinks
    public var workers: Int
    public var steps: [StepResult]
    public var comparisons: [FloorComparison]

    init(links: FloorLinks, workers: Int, steps: [StepResult], node: [StepResult]) {
        self.links = links
        self.workers = workers
        self.steps = steps
        comparisons = steps.compactMap { floor in
            node.first { $0.label == "sweep" && $0.loadFraction == floor.loadFraction }.map { FloorComparison(node: $0, floor: floor) }
        }
    }
}

/// One load: the node and the relay floor at the same offered rate, and node ÷ floor.
public struct FloorComparison: Codable, Sendable {
    public var loadFraction: Double
    public var offered: Double
    public var floorRelayed: Double
    /// The floor's CPU per relayed packet (µs): its event loop thread, its workers, the whole process.
    public var floorLoopMicroseconds: Double
    public var floorWorkerMicroseconds: Double
    public var floorMicroseconds: Double
    public var floorLatencyP50Ms: Double
    public var floorLatencyP99Ms: Double
    public var floorDrops: Double
    /// The node's CPU per relayed packet outside its crypto workers and in them (µs), its latency.
    public var nodeOutsideMicroseconds: Double
    public var nodeWorkerMicroseconds: Double
    public var nodeLatencyP50Ms: Double
    public var nodeLatencyP99Ms: Double
    /// The node outside its workers ÷ the floor's loop (what does the same work: reads, admission,
    /// hand-offs, writes), and ÷ the whole floor.
    public var outsideOverFloorLoop: Double
    public var outsideOverFloor: Double
    public var latencyP50Ratio: Double
    public var latencyP99Ratio: Double

    init(node: StepResult, floor: StepResult) {
        loadFraction = floor.loadFraction
        offered = floor.offeredAchieved
        floorRelayed = floor.throughput
        floorLoopMicroseconds = floor.loopMicrosecondsPerPacket ?? .nan
        floorWorkerMicroseconds = floor.workerMicrosecondsPerPacket
        floorMicroseconds = floor.microsecondsPerPacket
        floorLatencyP50Ms = floor.latencyMs.p50
        floorLatencyP99Ms = floor.latencyMs.p99
        floorDrops = floor.drops.values.reduce(0, +)
        nodeOutsideMicroseconds = node.outsideMicrosecondsPerPacket
        nodeWorkerMicroseconds = node.workerMicrosecondsPerPacket
        nodeLatencyP50Ms = node.latencyMs.p50
        nodeLatencyP99Ms = node.latencyMs.p99
        outsideOverFloorLoop = nodeOutsideMicroseconds / floorLoopMicroseconds
        outsideOverFloor = nodeOutsideMicroseconds / floorMicroseconds
        latencyP50Ratio = nodeLatencyP50Ms / floorLatencyP50Ms
        latencyP99Ratio = nodeLatencyP99Ms / floorLatencyP99Ms
    }
}

/// The node saturated with Noise links and with plaintext links, alternating in one sitting.
public struct LinkCost: Codable, Sendable {
    public var workers: Int
    public var noise: [StepResult] = []
    public var plaintext: [StepResult] = []

    /// Relayed packets per second with Noise links over those with plaintext links (medians).
    public var throughputRatio: Double {
        Stats.median(noise.map(\.throughput)) / Stats.median(plaintext.map(\.throughput))
    }

    /// The node's CPU time per relayed packet with Noise links over that with plaintext links
    /// (medians): the cost itself, less disturbed than throughput by other tenants of the machine.
    public var cpuPerPacketRatio: Double {
        func perPacket(_ steps: [StepResult]) -> Double {
            Stats.median(steps.map { $0.throughput > 0 ? $0.nodeCores / $0.throughput : .infinity })
        }
        return perPacket(noise) / perPacket(plaintext)
    }

    /// Efficiency (relayed per node CPU-second over the single-core rate sampled through the
    /// same window) with Noise links over that with plaintext links (medians): the CPU cost
    /// with the machine's changes of speed divided out.
    public var efficiencyRatio: Double {
        Stats.median(noise.map(\.efficiency)) / Stats.median(plaintext.map(\.efficiency))
    }
}

/// One packet suite's node in the side-by-side comparison: its capacity probes (one per round)
/// and, as medians over them, where each relayed packet's CPU went.
public struct SuiteCapacity: Codable, Sendable {
    public var suite: String
    /// The single-core `lsx_process` rate of this suite just before the comparison, per CPU-second;
    /// each probe offered 1.5 × this.
    public var coreRate: Double
    /// The rate the generator achieved in the probes (median): above the capacity when the probe saturated the node.
    public var offered: Double
    /// The same rate sampled through the probes in CPU time (median), against which the workers' CPU compares.
    public var coreRateDuring: Double
    /// The capacity probe's relayed packets per second, round by round, and their median.
    public var capacities: [Double]
    public var capacity: Double
    /// Per relayed packet (µs): the node's CPU, the part in its crypto workers, the part outside them.
    public var nodeMicroseconds: Double
    public var workerMicroseconds: Double
    public var outsideMicroseconds: Double
    public var efficiency: Double
    /// Cores the generator, the sink and other tenants took during the probes.
    public var generatorCores: Double
    public var sinkCores: Double
    public var otherCores: Double
    public var steps: [StepResult]

    init(suite: String, coreRate: Double, steps: [StepResult]) {
        func median(_ f: (StepResult) -> Double) -> Double { Stats.median(steps.map(f)) }
        self.suite = suite
        self.coreRate = coreRate
        coreRateDuring = median(\.coreRate)
        offered = median(\.offeredAchieved)
        capacities = steps.map(\.throughput)
        capacity = median(\.throughput)
        nodeMicroseconds = median(\.microsecondsPerPacket)
        workerMicroseconds = median(\.workerMicrosecondsPerPacket)
        outsideMicroseconds = median(\.outsideMicrosecondsPerPacket)
        efficiency = median(\.efficiency)
        generatorCores = median(\.generatorCores)
        sinkCores = median(\.sinkCores)
        otherCores = median { $0.otherCores + $0.stolenCores }
        self.steps = steps
    }
}

/// The suites side by side: one node each with the same worker count, probed in alternation.
/// Each ratio is the median of its per-round ratios of the last suite to the first.
public struct SuiteComparison: Codable, Sendable {
    public var workers: Int
    public var rounds: Int
    public var suites: [SuiteCapacity]
    /// Capacity (last suite) / capacity (first suite).
    public var capacityRatio: Double
    /// The single-core `lsx_process` rates sampled through the same probes: what the crypto alone gains.
    public var coreRatio: Double
    /// Worker CPU per relayed packet, first / last: the capacity ratio if the worker alone bounded capacity.
    public var workerRatio: Double

    init(workers: Int, rounds: Int, suites: [SuiteCapacity]) {
        self.workers = workers
        self.rounds = rounds
        self.suites = suites
        let first = suites.first!.steps, last = suites.last!.steps
        func perRound(_ f: (StepResult, StepResult) -> Double) -> Double { Stats.median(zip(first, last).map(f)) }
        capacityRatio = perRound { $1.throughput / $0.throughput }
        coreRatio = perRound { $1.coreRate / $0.coreRate }
        workerRatio = perRound { $0.workerMicrosecondsPerPacket / $1.workerMicrosecondsPerPacket }
    }
}

public struct NodeTarget: Codable, Sendable {
    public var name: String
    public var measured: String
    public var target: String
    public var met: Bool
}

public enum NodeTargets {
    public static func evaluate(sweeps: [WorkerSweep], soak: StepResult?, mainWorkers: Int, epochMachineryShare: Double,
                                aqmTarget: Double = AQMConfiguration().targetDelay, suites: SuiteComparison? = nil,
                                epochs: EpochsPhaseResult? = nil, linkCost: LinkCost? = nil) -> [NodeTarget] {
        var out: [NodeTarget] = [NodeTarget(
            name: "epoch machinery per packet / process", measured: String(format: "%+.2f %%", epochMachineryShare * 100),
            target: "<= 2 %", met: epochMachineryShare <= 0.02)]
        if let linkCost {
            let cost = 1 - linkCost.throughputRatio
            out.append(NodeTarget(name: "link encryption's cost in saturated throughput (\(linkCost.workers) workers)",
                                  measured: String(format: "%.1f %% (efficiency × %.3f, CPU/packet × %.3f)", cost * 100,
                                                   linkCost.efficiencyRatio, linkCost.cpuPerPacketRatio),
                                  target: "<= 5 %", met: cost <= 0.05))
        }
        if let suites, let first = suites.suites.first, let last = suites.suites.last {
            out.append(NodeTarget(
                name: "capacity \(last.suite) / \(first.suite) (\(suites.workers) worker\(suites.workers == 1 ? "" : "s"))",
                measured: String(format: "%.2f (lsx_process alone %.2f)", suites.capacityRatio, suites.coreRatio),
                target: ">= 1.5", met: suites.capacityRatio >= 1.5))
        }
        if let epochs {
            let name = "\(epochs.steps.count) key epochs of \(Int(epochs.epochSeconds)) s at capacity"
            out.append(NodeTarget(name: name + ": replay_filter_full drops", measured: String(format: "%.0f", epochs.replayFilterFull),
                                  target: "0", met: epochs.replayFilterFull == 0))
            let limit = max(2, 0.02 * (epochs.steps.map(\.rssEndMB).max() ?? 0))
            out.append(NodeTarget(name: name + ": RSS change between epoch ends",
                                  measured: String(format: "%.1f MB (ends %@)", epochs.rssDriftMB,
                                                   epochs.steps.map { String(format: "%.1f", $0.rssEndMB) }.joined(separator: ", ")),
                                  target: String(format: "<= %.1f MB", limit), met: epochs.rssDriftMB <= limit))
        }
        guard let main = sweeps.first(where: { $0.workers == mainWorkers }) else { return out }
        func at(_ f: Double, _ sweep: WorkerSweep = main) -> StepResult? {
            sweep.steps.first { $0.label == "sweep" && abs($0.loadFraction - f) < 1e-9 }
        }
        /// The relay floor a sweep's node is judged against: the one with the node's link
        /// encryption (the sweeps run Noise links) if it ran, else the plain one; and its step at load `f`.
        func floorStep(_ f: Double, _ sweep: WorkerSweep) -> (links: FloorLinks, step: StepResult)? {
            guard let floor = sweep.floors.first(where: { $0.links == .sealed }) ?? sweep.floors.first,
                  let step = floor.steps.first(where: { abs($0.loadFraction - f) < 1e-9 }) else { return nil }
            return (floor.links, step)
        }
        for f in [0.5, 0.9] {
            guard let s = at(f) else { continue }
            // What queueing alone costs at this load: workers that only unwrap, at this step's
            // single-core rate, with Poisson arrivals (M/D/c). A first-come-first-served node
            // whose workers take this long per packet does no better, whatever its I/O costs.
            let queueing = IdealQueue.latency(workers: mainWorkers, serviceTime: 1 / s.coreRate, load: f).scaled(by: 1000)
            out.append(NodeTarget(name: "latency p50 at \(Int(f * 100)) % (\(mainWorkers) workers)",
                                  measured: String(format: "%.3f ms (queueing alone %.3f)", s.latencyMs.p50, queueing.p50),
                                  target: "<= 0.3 ms", met: s.latencyMs.p50 <= 0.3))
            out.append(NodeTarget(name: "latency p99 at \(Int(f * 100)) % (\(mainWorkers) workers)",
                                  measured: String(format: "%.3f ms (queueing alone %.3f)", s.latencyMs.p99, queueing.p99),
                                  target: "<= 2 ms", met: s.latencyMs.p99 <= 2))
            // Against the floor measured in the same run: queueing alone plus the I/O path's
            // least cost, with a margin (issue 15: 1.5 × the floor's p50, 2 × its p99).
            guard f == 0.5, let floor = floorStep(f, main) else { continue }
            for (name, measured, q, fl, k) in [("p50", s.latencyMs.p50, queueing.p50, floor.step.latencyMs.p50, 1.5),
                                               ("p99", s.latencyMs.p99, queueing.p99, floor.step.latencyMs.p99, 2.0)] {
                let limit = q + k * fl
                out.append(NodeTarget(name: "latency \(name) at \(Int(f * 100)) % (\(mainWorkers) workers) vs \(floor.links.rawValue) floor",
                                      measured: String(format: "%.3f ms", measured),
                                      target: String(format: "<= %.3f (%.3f + %.1f × %.3f)", limit, q, k, fl), met: measured <= limit))
            }
        }
        for sweep in sweeps {
            // The node's own I/O path (everything outside its crypto workers) against the floor's
            // loop thread, which does the same work (reads, admission, hand-offs, writes; with the
            // sealed floor, the links' AEAD too) and nothing else, at the same offered rate.
            guard let s = at(0.5, sweep), let floor = floorStep(0.5, sweep), let loop = floor.step.loopMicrosecondsPerPacket else { continue }
            let ratio = s.outsideMicrosecondsPerPacket / loop
            out.append(NodeTarget(name: "CPU/pkt outside workers ÷ \(floor.links.rawValue) floor loop, 50 % (\(sweep.workers) w.)",
                                  measured: String(format: "%.2f (%.1f ÷ %.1f µs; ÷ whole floor %.2f)", ratio, s.outsideMicrosecondsPerPacket,
                                                   loop, s.outsideMicrosecondsPerPacket / floor.step.microsecondsPerPacket),
                                  target: "<= 2", met: ratio <= 2))
        }
        for sweep in sweeps {
            // Below capacity a node drops nothing it could carry: at most 1 in 10,000 of what
            // arrived, by its own counters, whatever the cause.
            for f in [0.25, 0.5, 0.75, 0.8] {
                guard let s = at(f, sweep), s.packetsIn > 0 else { continue }
                let dropped = s.drops.values.reduce(0, +)
                out.append(NodeTarget(name: "drops at \(Int(f * 100)) % (\(sweep.workers) worker\(sweep.workers == 1 ? "" : "s"))",
                                      measured: String(format: "%.0f of %.0f (%.1e)%@", dropped, s.packetsIn, dropped / s.packetsIn,
                                                       dropped > 0 ? ": " + dropsText(s.drops.mapValues { Int($0) }) : ""),
                                      target: "<= 1e-4", met: dropped <= 1e-4 * s.packetsIn))
            }
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
            if let p99 = s.sojournP99Ms, let above = s.sojournAboveTwiceTarget {
                out.append(NodeTarget(name: "sojourn p99 at \(f) × capacity",
                                      measured: String(format: "%.2f ms (%.2f %% above %.0f ms)", p99, above * 100, 2 * aqmTarget * 1000),
                                      target: String(format: "<= %.0f ms (2 × target)", 2 * aqmTarget * 1000), met: above <= 0.01))
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
    let mx = Stats.mean(x), my = Stats.mean(y)
    let sxx = zip(x, x).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - mx) }
    let sxy = zip(x, y).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
    return sxx > 0 ? sxy / sxx : 0
}

public struct NodeBenchResults: Codable, Sendable {
    public var coreRateBefore: Double
    public var coreRateAfter: Double
    /// What a worker's key-epoch path adds to a packet, as a fraction of process (see
    /// `ProcessRateProbe.epochMachineryShare`).
    public var epochMachineryShare: Double
    public var generatorAlone: GeneratorAlone
    public var sweeps: [WorkerSweep]
    public var senders: [StepResult]
    public var soak: StepResult?
    /// The key epochs at capacity (nil: not run).
    public var epochs: EpochsPhaseResult?
    public var stepSeconds: Double
    public var warmupSeconds: Double
    public var poolPackets: Int
    public var aqmTargetMs: Double
    public var suiteComparison: SuiteComparison?
    public var linkCost: LinkCost?
    public var targets: [NodeTarget]
}

extension NodeBenchResults {
    /// Writes throughput.csv, senders.csv and rss.csv into the run's folder.
    public func writeTables(to run: BenchRun) throws {
        let r = self
        let header = ["phase", "workers", "senders", "load_fraction", "offered_requested", "offered_achieved", "throughput",
                      "goodput_of_capacity", "latency_p50_ms", "latency_p99_ms", "latency_max_ms", "latency_samples",
                      "sojourn_p50_ms", "sojourn_p99_ms", "sojourn_above_2x_target", "hop_overhead_p99_ms", "node_cores", "efficiency",
                      "core_rate", "core_rate_around", "outside_workers", "generator_cores", "sink_cores", "other_cores", "stolen_cores", "rss_max_mb", "packets_in", "drops"]
        func row(_ s: StepResult) -> [String] {
            [s.label, "\(s.workers)", "\(s.senders)", csv(s.loadFraction, 3), csv(s.offeredRequested, 0), csv(s.offeredAchieved, 0),
             csv(s.throughput, 0), csv(s.goodputOfCapacity, 4), csv(s.latencyMs.p50, 4), csv(s.latencyMs.p99, 4), csv(s.latencyMs.max, 3),
             "\(s.latencyMs.count)", csv(s.sojournP50Ms ?? .nan, 4), csv(s.sojournP99Ms ?? .nan, 4), csv(s.sojournAboveTwiceTarget ?? .nan, 5),
             csv(s.hopOverheadP99Ms ?? .nan, 4), csv(s.nodeCores, 3), csv(s.efficiency, 3), csv(s.coreRate, 0), csv(s.coreRateAround, 0), csv(s.outsideWorkers, 3), csv(s.generatorCores, 3), csv(s.sinkCores, 3),
             csv(s.otherCores, 3), csv(s.stolenCores, 3), csv(s.rssMaxMB, 1), csv(s.packetsIn, 0), "\"" + s.drops.sorted { $0.key < $1.key }.map { "\($0.key)=\(Int($0.value))" }.joined(separator: " ") + "\""]
        }
        try run.writeCSV("throughput.csv", header: header, rows: r.sweeps.flatMap { $0.steps.map(row) })
        let floors = r.sweeps.flatMap(\.floors)
        if !floors.isEmpty {
            try run.writeCSV("floor.csv", header: [
                "links", "workers", "load_fraction", "offered", "floor_relayed", "floor_loop_us", "floor_worker_us", "floor_us",
                "floor_latency_p50_ms", "floor_latency_p99_ms", "floor_drops", "node_outside_us", "node_worker_us",
                "node_latency_p50_ms", "node_latency_p99_ms", "outside_over_floor_loop", "outside_over_floor",
                "latency_p50_ratio", "latency_p99_ratio",
            ], rows: floors.flatMap { f in
                f.comparisons.map { c in
                    [f.links.rawValue, "\(f.workers)", csv(c.loadFraction, 3), csv(c.offered, 0), csv(c.floorRelayed, 0),
                     csv(c.floorLoopMicroseconds, 2), csv(c.floorWorkerMicroseconds, 2), csv(c.floorMicroseconds, 2),
                     csv(c.floorLatencyP50Ms, 4), csv(c.floorLatencyP99Ms, 4), csv(c.floorDrops, 0), csv(c.nodeOutsideMicroseconds, 2),
                     csv(c.nodeWorkerMicroseconds, 2), csv(c.nodeLatencyP50Ms, 4), csv(c.nodeLatencyP99Ms, 4),
                     csv(c.outsideOverFloorLoop, 3), csv(c.outsideOverFloor, 3), csv(c.latencyP50Ratio, 3), csv(c.latencyP99Ratio, 3)]
                }
            })
        }
        try run.writeCSV("suites.csv", header: header, rows: (r.suiteComparison?.suites ?? []).flatMap { $0.steps.map(row) })
        try run.writeCSV("senders.csv", header: header, rows: r.senders.map(row))
        if let cost = r.linkCost { try run.writeCSV("links.csv", header: header, rows: (cost.noise + cost.plaintext).map(row)) }
        var rss: [[String]] = []
        for sweep in r.sweeps { for s in sweep.steps { rss += s.rssSeries.map { ["w\(sweep.workers)-\(s.label)", csv($0.seconds, 2), csv($0.megabytes, 2)] } } }
        if let soak = r.soak { rss += soak.rssSeries.map { ["soak", csv($0.seconds, 2), csv($0.megabytes, 2)] } }
        try run.writeCSV("rss.csv", header: ["phase", "seconds", "rss_mb"], rows: rss)
    }
}
