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
        subcommands: [BenchSphinxCommand.self, BenchNodeCommand.self, BenchAQMCommand.self, BenchE2ECommand.self])
}

/// Options every bench subcommand shares.
struct BenchOutputOptions: ParsableArguments {
    @Option(help: "Results folder (default: results/bench/<subcommand>-<timestamp>).") var out: String?
    @Flag(help: "Do not run scripts/plot_bench.py at the end.") var noPlots = false
}

/// What every results.json holds around a subcommand's own results.
struct BenchRecord<Results: Encodable>: Encodable {
    var bench: String
    var commandLine: [String]
    var machine: MachineInfo
    var started: String
    var seconds: Double
    var results: Results
}

/// One run's results folder.
final class BenchRun {
    let subcommand: String
    let directory: URL
    let machine = MachineInfo.current()
    private let started = Date()
    private let options: BenchOutputOptions

    init(_ subcommand: String, options: BenchOutputOptions) throws {
        self.subcommand = subcommand
        self.options = options
        let stamp = ISO8601DateFormatter.string(from: started, timeZone: .current,
                                                formatOptions: [.withYear, .withMonth, .withDay, .withTime])
        let path = options.out ?? "results/bench/\(subcommand)-\(stamp)"
        directory = URL(fileURLWithPath: path).standardizedFileURL
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        benchLog("\(subcommand): \(machine.line)")
        benchLog("\(subcommand): results in \(directory.path)")
    }

    func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    func writeJSON(_ value: some Encodable, _ name: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(value).write(to: url(name))
    }

    func writeCSV(_ name: String, header: [String], rows: [[String]]) throws {
        let lines = [header.joined(separator: ",")] + rows.map { $0.joined(separator: ",") }
        try (lines.joined(separator: "\n") + "\n").write(to: url(name), atomically: true, encoding: .utf8)
    }

    /// Writes results.json and, unless told not to, the plots.
    func finish(_ results: some Encodable) throws {
        let record = BenchRecord(
            bench: subcommand, commandLine: CommandLine.arguments, machine: machine,
            started: ISO8601DateFormatter().string(from: started), seconds: Date().timeIntervalSince(started), results: results)
        try writeJSON(record, "results.json")
        flushOutput()
        if !options.noPlots { plot() }
        benchLog("\(subcommand): done in \(Int(Date().timeIntervalSince(started))) s; results in \(directory.path)")
    }

    /// Runs scripts/plot_bench.py on the folder if the script and matplotlib are there.
    private func plot() {
        let script = ["scripts/plot_bench.py", executableRepoRoot().map { $0 + "/scripts/plot_bench.py" }].compactMap { $0 }
            .first { FileManager.default.fileExists(atPath: $0) }
        guard let script else {
            benchLog("plots: scripts/plot_bench.py not found; run it by hand on \(directory.path)")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, directory.path]
        do {
            try process.run()
            process.waitUntilExit()
            if process.terminationStatus != 0 {
                benchLog("plots: \(script) failed (status \(process.terminationStatus)); `scripts/setup.sh --plots` installs matplotlib")
            }
        } catch {
            benchLog("plots: cannot run python3: \(error)")
        }
    }
}

/// The checkout the running binary was built in (…/.build*/release/loopix), if it looks like one.
func executableRepoRoot() -> String? {
    guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
    let root = URL(fileURLWithPath: exe).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) ? root.path : nil
}

/// A line on standard error.
func benchLog(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// A one-line progress display on standard error: rewritten in place on a terminal, a line at a
/// time (at most every few seconds) otherwise.
final class BenchProgress: @unchecked Sendable {
    private let label: String
    private let interactive = isatty(2) != 0
    private let lock = NSLock()
    private var lastLine = Date.distantPast
    private let started = Date()

    init(_ label: String) { self.label = label }

    func update(_ text: String) {
        lock.withLock {
            let elapsed = Int(Date().timeIntervalSince(started))
            let line = "[\(label) \(elapsed) s] \(text)"
            if interactive {
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            } else if Date().timeIntervalSince(lastLine) >= 3 {
                FileHandle.standardError.write(Data((line + "\n").utf8))
                lastLine = Date()
            }
        }
    }

    func done(_ text: String) {
        lock.withLock {
            let line = "[\(label)] \(text)"
            FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[K" : "") + line + "\n").utf8))
        }
    }
}

/// Numbers in CSV cells.
func csv(_ value: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", value) }
