// Running the built `loopix` binary from tests: one-shot commands and long-running processes,
// both through ChildProcess (which never holds a thread of the cooperative pool while it waits).
import ChildProcesses
import Foundation

/// The `loopix` binary next to the test bundle.
let loopixBinary: String = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [dir, dir.deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent("loopix").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return dir.appendingPathComponent("loopix").path
}()

/// Runs `loopix args…` to completion (stopped after `timeout` seconds).
func loopix(_ args: [String], timeout: Double = 60, in directory: URL? = nil) async throws -> CommandOutput {
    try await ChildProcess.run(loopixBinary, args, in: directory, timeout: timeout)
}

extension CommandOutput {
    var stdout: String { standardOutput }
    var stderr: String { standardError }
}

/// A `loopix` process that runs until the test stops it, its output in `log`.
final class RunningLoopix: Sendable {
    let process: ChildProcess
    let log: URL

    init(_ args: [String], log: URL) async throws {
        self.log = log
        process = try await ChildProcess.start(loopixBinary, args, log: log)
    }

    func signal(_ sig: Int32) { process.send(sig) }

    /// SIGTERM, then SIGKILL after 8 seconds; returns the exit status.
    @discardableResult
    func stop() async -> Int32 { await process.stop() }

    func waitForExit() async { await process.waitForExit() }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
}

/// PIDs of processes whose command line mentions `text`.
func processes(mentioning text: String) -> [Int32] {
    let me = getpid()
    return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> Int32? in
        guard let pid = Int32(entry), pid != me,
            let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
        else { return nil }
        let cmdline = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        return cmdline.contains(text) ? pid : nil
    }
}

/// Runs `body`, then `cleanUp` whether `body` threw or not: no process may outlive its test.
func withCleanUp(_ cleanUp: () async -> Void, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        await cleanUp()
        throw error
    }
    await cleanUp()
}
