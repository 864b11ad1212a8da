// `loopix bench aqm`: RFC 7928-style scenarios on a model of the crypto queue driven by the real
// controllers: the node's PIE, tail drop alone, and the original Loopix controller, each on the
// same arrival traces.
import ArgumentParser
import Foundation
import LoopixBench
import LoopixNode
import LoopixSphinx

struct BenchAQMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aqm",
        abstract: "Queue management scenarios (steady, overload, step, burst, capacity change) for three policies.",
        discussion: """
            The queue model takes Poisson arrivals and c workers with a fixed service time (by default the \
            lsx_process time measured at the start of the run), and calls the node's PIEController and \
            DropDecider exactly as the node does. Loads are multiples of the capacity c / service time.
            """)

    @Option(help: "Seconds per steady or overload scenario (the step and capacity scenarios use this per phase).") var seconds = 4.0
    @Option(help: "Workers of the modelled node.") var workers = 2
    @Option(help: "Service time per packet in microseconds (default: measure lsx_process now).") var serviceUs: Double?
    @Option(help: "Seed of the arrival traces.") var seed: UInt64 = 1
    @OptionGroup var output: BenchOutputOptions

    func validate() throws {
        guard seconds >= 1, seconds <= 600 else { throw ValidationError("--seconds must be 1...600") }
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1...64") }
        if let serviceUs, !(serviceUs > 0) { throw ValidationError("--service-us must be positive") }
    }

    func run() throws {
        let run = try BenchRun("aqm", options: output)
        let progress = BenchProgress("aqm")
        let service = try serviceUs.map { $0 / 1e6 } ?? measureProcessSeconds()
        var model = QueueModel()
        model.workers = workers
        model.serviceTime = service
        let target = model.configuration.targetDelay
        benchLog(String(format: "aqm: %d workers × %.1f µs = capacity %.0f packets/s; PIE target %.1f ms", workers, service * 1e6,
                        model.capacity, target * 1000))
        let s = seconds
        let scenarios: [QueueScenario] = [0.5, 0.8, 0.95].map { QueueScenario(name: "steady \($0)", phases: [.init(load: $0, seconds: s)], measureFrom: 0.5) }
            + [1.2, 1.5, 2.0].map { QueueScenario(name: "overload \($0)", phases: [.init(load: $0, seconds: s)], measureFrom: 0.5) }
            + [
                QueueScenario(name: "step 0.5-1.5-0.5", phases: [.init(load: 0.5, seconds: s), .init(load: 1.5, seconds: s), .init(load: 0.5, seconds: s)]),
                QueueScenario(name: "burst 2x 10 ms from idle", phases: [.init(load: 0, seconds: 1), .init(load: 2, seconds: 0.01), .init(load: 0.5, seconds: 1)]),
                QueueScenario(name: "burst 4x 20 ms from idle", phases: [.init(load: 0, seconds: 1), .init(load: 4, seconds: 0.02), .init(load: 0.5, seconds: 1)]),
                QueueScenario(name: "capacity halved (workers)", phases: [
                    .init(load: 0.8, seconds: s), .init(load: 0.8, seconds: s, workers: max(1, workers / 2)), .init(load: 0.8, seconds: s)]),
                QueueScenario(name: "CPU contention (service ×1.5)", phases: [
                    .init(load: 0.8, seconds: s), .init(load: 0.8, seconds: s, serviceScale: 1.5), .init(load: 0.8, seconds: s)]),
            ]
        var summaries: [QueueRunSummary] = []
        var seriesRows: [[String]] = []
        for (i, scenario) in scenarios.enumerated() {
            let trace = model.arrivals(for: scenario, seed: seed &+ UInt64(i))
            for policy in QueuePolicy.allCases {
                progress.update("\(scenario.name): \(policy.rawValue) (\(trace.count) arrivals)")
                let result = model.run(scenario, arrivals: trace, policy: policy, seed: seed)
                summaries.append(QueueRunSummary(result, scenario: scenario, binSeconds: model.binSeconds, targetSeconds: target))
                if scenario.phases.count > 1 || scenario.name.hasPrefix("overload") {
                    for b in result.bins {
                        seriesRows.append(["\"\(scenario.name)\"", policy.rawValue, csv(b.start, 3), "\(b.offered)", "\(b.served)", "\(b.dropped)",
                                           csv(b.meanSojourn * 1000, 4), csv(b.sojournMax * 1000, 4), csv(b.probability, 4)])
                    }
                }
            }
        }
        progress.done("\(scenarios.count) scenarios × \(QueuePolicy.allCases.count) policies")

        print(String(format: "capacity %.0f packets/s (%d workers × %.1f µs); PIE target %.1f ms, 2 × target %.1f ms", model.capacity, workers,
                     service * 1e6, target * 1000, 2 * target * 1000))
        print(pad("scenario", 31) + pad("policy", 16) + pad("p50 ms", 9) + pad("p95 ms", 9) + pad("p99 ms", 9) + pad("max ms", 9)
            + pad("good/cap", 9) + pad("deliv.", 8) + pad("drops", 8) + pad("settle ms", 12) + "overshoot ms")
        for r in summaries {
            print(pad(r.scenario, 31) + pad(r.policy, 16) + pad(String(format: "%.3f", r.sojournMs.p50), 9)
                + pad(String(format: "%.3f", r.sojournMs.p95), 9) + pad(String(format: "%.3f", r.sojournMs.p99), 9)
                + pad(String(format: "%.2f", r.sojournMs.max), 9) + pad(String(format: "%.3f", r.goodputOfCapacity), 9)
                + pad(String(format: "%.3f", r.deliveredFraction), 8)
                + pad(String(format: "%.2f%%", r.dropRate * 100), 8)
                + pad(r.settlingMs.map { String(format: "%.0f", $0) }.joined(separator: "/"), 12)
                + r.overshootMs.map { String(format: "%.2f", $0) }.joined(separator: "/"))
        }
        try run.writeCSV("scenarios.csv", header: ["scenario", "policy", "offered", "served", "sojourn_p50_ms", "sojourn_p95_ms", "sojourn_p99_ms",
                                                   "sojourn_max_ms", "goodput_of_capacity", "delivered_fraction", "drop_rate",
                                                   "controller_drop_rate", "limit_drop_rate", "settling_ms", "overshoot_ms"],
                         rows: summaries.map { r in
                             ["\"\(r.scenario)\"", r.policy, "\(r.offered)", "\(r.served)", csv(r.sojournMs.p50), csv(r.sojournMs.p95),
                              csv(r.sojournMs.p99), csv(r.sojournMs.max), csv(r.goodputOfCapacity), csv(r.deliveredFraction), csv(r.dropRate, 5),
                              csv(r.controllerDropRate, 5), csv(r.limitDropRate, 5),
                              r.settlingMs.map { csv($0, 1) }.joined(separator: "/"), r.overshootMs.map { csv($0, 3) }.joined(separator: "/")]
                         })
        try run.writeCSV("series.csv", header: ["scenario", "policy", "time_s", "offered", "served", "dropped", "mean_sojourn_ms",
                                                "max_sojourn_ms", "probability"], rows: seriesRows)
        struct Results: Encodable {
            var serviceMicroseconds: Double
            var workers: Int
            var capacityPerSecond: Double
            var aqm: AQMConfiguration
            var loopixOriginal: [String: Double]
            var scenarios: [QueueScenario]
            var runs: [QueueRunSummary]
        }
        try run.finish(Results(serviceMicroseconds: service * 1e6, workers: workers, capacityPerSecond: model.capacity,
                               aqm: model.configuration,
                               loopixOriginal: ["target": model.loopixTarget, "kp": model.loopixGains.kp, "ki": model.loopixGains.ki,
                                                "kd": model.loopixGains.kd],
                               scenarios: scenarios, runs: summaries))
    }
}
