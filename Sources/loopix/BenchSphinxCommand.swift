// `loopix bench sphinx`: create, process and reply-block operations per second on one core, per
// packet suite and backend, each with its ratio to the cryptographic floor measured in the same rounds.
import ArgumentParser
import Foundation
import LoopixBench

struct BenchSphinxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sphinx",
        abstract: "Sphinx operations per second per core, per suite and backend, against the floor (same run).")

    @Option(help: "Interleaved rounds; each item's figure is its median over them.") var rounds = 9
    @Option(help: "Seconds each item runs per round.") var seconds = 0.08
    @OptionGroup var output: BenchOutputOptions

    func validate() throws {
        guard (1...101).contains(rounds) else { throw ValidationError("--rounds must be 1...101") }
        guard seconds > 0, seconds <= 10 else { throw ValidationError("--seconds must be in (0, 10]") }
    }

    func run() async throws {
        let run = try output.run("sphinx")
        let progress = BenchProgress("sphinx")
        let report = try SphinxBench(rounds: rounds, secondsPerItem: seconds).run { progress.update($0) }
        progress.done("\(rounds) rounds")
        print("Sphinx core \(report.coreVersion), libsodium \(report.sodiumVersion), \(report.libcryptoVersion); \(report.geometry)")
        print("CPU: \(run.machine.line); one thread, its CPU time; medians of \(rounds) interleaved rounds\n")
        print(pad("item", 26) + pad("suite", 6) + pad("backend", 11) + pad("µs/op", 10) + "ops/s per core")
        for item in report.items {
            print(pad(item.name, 26) + pad(item.suite, 6) + pad(item.backend, 11) + pad(String(format: "%.2f", item.microseconds), 10)
                + String(format: "%.0f", item.opsPerSecond))
        }
        print("\n" + pad("ratio (median of per-round ratios)", 62) + pad("value", 9) + "target")
        for r in report.ratios {
            let verdict = r.met.map { $0 ? "met" : "NOT met" } ?? ""
            print(pad(r.name, 62) + pad(String(format: "%.3f", r.value), 9) + (r.target.map { "\($0) \(verdict)" } ?? ""))
        }
        try run.writeCSV("items.csv", header: ["item", "suite", "backend", "us_per_op", "ops_per_s", "calls_per_round"],
                         rows: report.items.map { [$0.name, $0.suite, $0.backend, csv($0.microseconds, 3), csv($0.opsPerSecond, 0), "\($0.callsPerRound)"] })
        try run.writeCSV("ratios.csv", header: ["ratio", "value", "target", "met"],
                         rows: report.ratios.map { ["\"\($0.name)\"", csv($0.value), $0.target ?? "", $0.met.map { "\($0)" } ?? ""] })
        try await run.finish(report)
    }
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s.padding(toLength: n, withPad: " ", startingAt: 0) }
