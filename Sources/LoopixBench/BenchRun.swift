// One benchmark run's results folder (results.json with the machine and the command line, CSV
// files, plots) and its progress on standard error.
import ChildProcesses
import Foundation

/// What every results.json holds around a subcommand's own results.
public struct BenchRecord<Results: Encodable>: Encodable {
    public var bench: String
    public var commandLine: [String]
    public var machine: MachineInfo
    public var started: String
    public var seconds: Double
    public var results: Results
}

/// One run's results folder.
public final class BenchRun: Sendable {
    public let subcommand: String
    public let directory: URL
    public let machine = MachineInfo.current()
    private let started = Date()
    private let plots: Bool

    /// Creates `out` (default results/bench/<subcommand>-<timestamp>); `plots`: run
    /// scripts/plot_bench.py on it at the end.
    public init(_ subcommand: String, out: String?, plots: Bool) throws {
        self.subcommand = subcommand
        self.plots = plots
        let stamp = ISO8601DateFormatter.string(from: started, timeZone: .current,
                                                formatOptions: [.withYear, .withMonth, .withDay, .withTime])
        directory = URL(fileURLWithPath: out ?? "results/bench/\(subcommand)-\(stamp)").standardizedFileURL
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        benchLog("\(subcommand): \(machine.line)")
        benchLog("\(subcommand): results in \(directory.path)")
    }

    public func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    public func writeJSON(_ value: some Encodable, _ name: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(value).write(to: url(name))
    }

    public func writeCSV(_ name: String, header: [String], rows: [[String]]) throws {
        let lines = [header.joined(separator: ",")] + rows.map { $0.joined(separator: ",") }
        try (lines.joined(separator: "\n") + "\n").write(to: url(name), atomically: true, encoding: .utf8)
    }

    /// Writes results.json and, unless told not to, the plots.
    public func finish(_ results: some Encodable) async throws {
        let record = BenchRecord(
            bench: subcommand, commandLine: CommandLine.arguments, machine: machine,
            started: ISO8601DateFormatter().string(from: started), seconds: Date().timeIntervalSince(started), results: results)
        try writeJSON(record, "results.json")
        fflush(nil)
        if plots { await plot() }
        benchLog("\(subcommand): done in \(Int(Date().timeIntervalSince(started))) s; results in \(directory.path)")
    }

    /// Runs scripts/plot_bench.py on the folder if the script and matplotlib are there.
    private func plot() async {
        let script = ["scripts/plot_bench.py", executableRepoRoot().map { $0 + "/scripts/plot_bench.py" }].compactMap { $0 }
            .first { FileManager.default.fileExists(atPath: $0) }
        guard let script else {
            benchLog("plots: scripts/plot_bench.py not found; run it by hand on \(directory.path)")
            return
        }
        do {
            let result = try await ChildProcess.run("/usr/bin/env", ["python3", script, directory.path], timeout: 600)
            FileHandle.standardOutput.write(Data(result.standardOutput.utf8))
            FileHandle.standardError.write(Data(result.standardError.utf8))
            if result.status != 0 {
                benchLog("plots: \(script) failed (status \(result.status)); `scripts/setup.sh --plots` installs matplotlib")
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
public func benchLog(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// A one-line progress display on standard error: rewritten in place on a terminal, a line at a
/// time (at most every few seconds) otherwise.
public final class BenchProgress: @unchecked Sendable {
    // `@unchecked Sendable`: `lastLine` is only touched under `lock`.
    private let label: String
    private let interactive = isatty(2) != 0
    private let lock = NSLock()
    private var lastLine = Date.distantPast
    private let started = Date()

    public init(_ label: String) { self.label = label }

    public func update(_ text: String) {
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

    public func done(_ text: String) {
        lock.withLock {
            let line = "[\(label)] \(text)"
            FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[K" : "") + line + "\n").utf8))
        }
    }
}

/// Numbers in CSV cells.
public func csv(_ value: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", value) }
