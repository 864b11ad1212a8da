// `loopix bench aqm`: RFC 7928-style scenarios on a model of the crypto queue driven by the real
// controllers: the node's PIE, tail drop alone, and the original Loopix controller, each on the
// same arrival traces.
import ArgumentParser
import Foundation
import LoopixBench

struct BenchAQMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aqm",
        abstract: "Queue management scenarios (steady, overload, step, burst, capacity change) for three policies.",
        discussion: """
            The queue model takes Poisson arrivals and c workers with a fixed service time (by default the \
            lsx_process time measured at the start of the run), and calls the node's PIEController and \
            DropDecider exactly as the node does. Loads are multiples of the capacity c / service time.
            """)

    @Option(help: "Seconds per steady or overload scenario for each millisecond of the AQM target (the step and capacity scenarios use this per phase; 40 s at the default 10 ms target).")
    var seconds = 4.0
    @Option(help: "The AQM target in milliseconds (default: the node's for the default µ, 10).") var targetMs: Double?
    @Option(help: "Workers of the modelled node.") var workers = 2
    @Option(help: "Service time per packet in microseconds (default: measure lsx_process now).") var serviceUs: Double?
    @Option(help: "Seed of the arrival traces.") var seed: UInt64 = 1
    @OptionGroup var output: BenchOutputOptions

    func validate() throws {
        guard seconds >= 0.1, seconds <= 600 else { throw ValidationError("--seconds must be 0.1...600") }
        if let targetMs, !(targetMs >= 0.1 && targetMs <= 1000) { throw ValidationError("--target-ms must be 0.1...1000") }
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1...64") }
        if let serviceUs, !(serviceUs > 0) { throw ValidationError("--service-us must be positive") }
    }

    func run() async throws {
        let run = try output.run("aqm")
        let progress = BenchProgress("aqm")
        let service = try serviceUs.map { $0 / 1e6 } ?? ProcessRateProbe.secondsPerPacket()
        let bench = AQMBench(workers: workers, serviceTime: service, seconds: seconds, seed: seed,
                             target: targetMs.map { $0 / 1000 })
        let target = bench.model.configuration.targetDelay
        benchLog(String(format: "aqm: %d workers × %.1f µs = capacity %.0f packets/s; PIE target %.1f ms", workers, service * 1e6,
                        bench.model.capacity, target * 1000))
        let results = bench.run { progress.update($0) }
        progress.done("\(bench.scenarios.count) scenarios × \(QueuePolicy.allCases.count) policies")

        print(String(format: "capacity %.0f packets/s (%d workers × %.1f µs); PIE target %.1f ms, 2 × target %.1f ms", bench.model.capacity,
                     workers, service * 1e6, target * 1000, 2 * target * 1000))
        let header = [pad("scenario", 31), pad("policy", 16), pad("p50 ms", 9), pad("p95 ms", 9), pad("p99 ms", 9), pad("max ms", 9),
                      pad("good/cap", 9), pad("deliv.", 8), pad("drops", 8), pad("settle ms", 12), "overshoot ms"]
        print(header.joined())
        for r in results.runs {
            let cells: [String] = [
                pad(r.scenario, 31), pad(r.policy, 16), pad(String(format: "%.3f", r.sojournMs.p50), 9),
                pad(String(format: "%.3f", r.sojournMs.p95), 9), pad(String(format: "%.3f", r.sojournMs.p99), 9),
                pad(String(format: "%.2f", r.sojournMs.max), 9), pad(String(format: "%.3f", r.goodputOfCapacity), 9),
                pad(String(format: "%.3f", r.deliveredFraction), 8), pad(String(format: "%.2f%%", r.dropRate * 100), 8),
                pad(r.settlingMs.map { String(format: "%.0f", $0) }.joined(separator: "/"), 12),
                r.overshootMs.map { String(format: "%.2f", $0) }.joined(separator: "/"),
            ]
            print(cells.joined())
        }
        try results.writeTables(to: run)
        try await run.finish(results)
    }
}
