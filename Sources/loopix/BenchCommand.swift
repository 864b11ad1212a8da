// `loopix bench`: the benchmark harness. Every subcommand writes JSON, CSV and (when matplotlib is
// there) PNG plots into a results folder, with the machine and the exact command line.
import ArgumentParser
import Foundation
import LoopixBench

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the Sphinx core, a node process, queue management and a whole testnet.",
        discussion: """
            Results go to results/bench/<subcommand>-<timestamp>/ (or --out): results.json (everything, with \
            the machine and the command line), CSV files, and PNG plots made by scripts/plot_bench.py when \
            python3 has matplotlib (scripts/setup.sh --plots installs it). See docs/benchmarks.md.
            """,
        subcommands: [BenchSphinxCommand.self, BenchNodeCommand.self, BenchAQMCommand.self, BenchE2ECommand.self, BenchClientsCommand.self,
                      BenchNodeCommand.ServeNode.self])
}

/// Options every bench subcommand shares.
struct BenchOutputOptions: ParsableArguments {
    @Option(help: "Results folder (default: results/bench/<subcommand>-<timestamp>).") var out: String?
    @Flag(help: "Do not run scripts/plot_bench.py at the end.") var noPlots = false

    /// The results folder of a run of `subcommand`.
    func run(_ subcommand: String) throws -> BenchRun { try BenchRun(subcommand, out: out, plots: !noPlots) }
}
