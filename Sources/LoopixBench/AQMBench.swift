// `loopix bench aqm`: RFC 7928-style scenarios on the crypto-queue model, each run under the
// three policies (the node's PIE, tail drop alone, the original Loopix controller) on the same
// arrival trace.
import LoopixNode

/// The scenarios, the model they run on and the seed of their traces.
public struct AQMBench: Sendable {
    public let model: QueueModel
    public let scenarios: [QueueScenario]
    public let seed: UInt64

    /// The standard scenarios on `workers` workers of `serviceTime` seconds with the node's default
    /// admission control at `target` (the controller's times, and so every phase here, scale
    /// with it): `seconds` per steady phase for each millisecond of target, measured after half a
    /// second per millisecond, and bursts of one and two burst allowances (`maxBurst`).
    public init(workers: Int, serviceTime: Double, seconds perMillisecond: Double, seed: UInt64,
                target: Double? = nil) {
        let target = target ?? AQMConfiguration.minimumTarget
        var model = QueueModel()
        model.workers = workers
        model.serviceTime = serviceTime
        model.configuration = AQMConfiguration(target: target)
        self.model = model
        self.seed = seed
        let k = target / 0.001, s = perMillisecond * k, settle = 0.5 * k, burst = model.configuration.maxBurst
        let ms = { (seconds: Double) in String(format: "%.0f ms", seconds * 1000) }
        scenarios = [0.5, 0.8, 0.95].map { QueueScenario(name: "steady \($0)", phases: [.init(load: $0, seconds: s)], measureFrom: settle) }
            + [1.2, 1.5, 2.0].map { QueueScenario(name: "overload \($0)", phases: [.init(load: $0, seconds: s)], measureFrom: settle) }
            + [
                QueueScenario(name: "step 0.5-1.5-0.5", phases: [.init(load: 0.5, seconds: s), .init(load: 1.5, seconds: s), .init(load: 0.5, seconds: s)]),
                QueueScenario(name: "burst 2x \(ms(burst)) from idle", phases: [
                    .init(load: 0, seconds: k), .init(load: 2, seconds: burst), .init(load: 0.5, seconds: k)]),
                QueueScenario(name: "burst 4x \(ms(2 * burst)) from idle", phases: [
                    .init(load: 0, seconds: k), .init(load: 4, seconds: 2 * burst), .init(load: 0.5, seconds: k)]),
                QueueScenario(name: "capacity halved (workers)", phases: [
                    .init(load: 0.8, seconds: s), .init(load: 0.8, seconds: s, workers: max(1, workers / 2)), .init(load: 0.8, seconds: s)]),
                QueueScenario(name: "CPU contention (service ×1.5)", phases: [
                    .init(load: 0.8, seconds: s), .init(load: 0.8, seconds: s, serviceScale: 1.5), .init(load: 0.8, seconds: s)]),
            ]
    }

    /// Every scenario under every policy.
    public func run(progress: (String) -> Void) -> AQMBenchResults {
        let target = model.configuration.targetDelay
        var summaries: [QueueRunSummary] = []
        var series: [[String]] = []
        for (i, scenario) in scenarios.enumerated() {
            let trace = model.arrivals(for: scenario, seed: seed &+ UInt64(i))
            for policy in QueuePolicy.allCases {
                progress("\(scenario.name): \(policy.rawValue) (\(trace.count) arrivals)")
                let result = model.run(scenario, arrivals: trace, policy: policy, seed: seed)
                summaries.append(QueueRunSummary(result, scenario: scenario, binSeconds: model.binSeconds, targetSeconds: target))
                if scenario.phases.count > 1 || scenario.name.hasPrefix("overload") {
                    series += result.bins.map { b in
                        ["\"\(scenario.name)\"", policy.rawValue, csv(b.start, 3), "\(b.offered)", "\(b.served)", "\(b.dropped)",
                         csv(b.meanSojourn * 1000, 4), csv(b.sojournMax * 1000, 4), csv(b.probability, 4)]
                    }
                }
            }
        }
        return AQMBenchResults(
            serviceMicroseconds: model.serviceTime * 1e6, workers: model.workers, capacityPerSecond: model.capacity,
            aqm: model.configuration,
            loopixOriginal: ["target": model.loopixTarget, "kp": model.loopixGains.kp, "ki": model.loopixGains.ki, "kd": model.loopixGains.kd],
            scenarios: scenarios, runs: summaries, series: series)
    }
}

/// What `bench aqm` writes to results.json (and its two tables).
public struct AQMBenchResults: Encodable, Sendable {
    public var serviceMicroseconds: Double
    public var workers: Int
    public var capacityPerSecond: Double
    public var aqm: AQMConfiguration
    public var loopixOriginal: [String: Double]
    public var scenarios: [QueueScenario]
    public var runs: [QueueRunSummary]
    /// The time series rows of series.csv (not in results.json).
    var series: [[String]]

    enum CodingKeys: String, CodingKey { case serviceMicroseconds, workers, capacityPerSecond, aqm, loopixOriginal, scenarios, runs }

    /// scenarios.csv and series.csv.
    public func writeTables(to run: BenchRun) throws {
        try run.writeCSV("scenarios.csv", header: ["scenario", "policy", "offered", "served", "sojourn_p50_ms", "sojourn_p95_ms", "sojourn_p99_ms",
                                                   "sojourn_max_ms", "goodput_of_capacity", "delivered_fraction", "drop_rate",
                                                   "controller_drop_rate", "limit_drop_rate", "settling_ms", "overshoot_ms"],
                         rows: runs.map { r in
                             ["\"\(r.scenario)\"", r.policy, "\(r.offered)", "\(r.served)", csv(r.sojournMs.p50), csv(r.sojournMs.p95),
                              csv(r.sojournMs.p99), csv(r.sojournMs.max), csv(r.goodputOfCapacity), csv(r.deliveredFraction), csv(r.dropRate, 5),
                              csv(r.controllerDropRate, 5), csv(r.limitDropRate, 5),
                              r.settlingMs.map { csv($0, 1) }.joined(separator: "/"), r.overshootMs.map { csv($0, 3) }.joined(separator: "/")]
                         })
        try run.writeCSV("series.csv", header: ["scenario", "policy", "time_s", "offered", "served", "dropped", "mean_sojourn_ms",
                                                "max_sojourn_ms", "probability"], rows: series)
    }
}
