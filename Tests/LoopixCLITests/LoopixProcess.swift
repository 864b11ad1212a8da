// Running the built `loopix` binary from tests: one-shot commands and long-running processes.
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

struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs blocking work on a thread of its own and awaits its result. Swift Testing runs tests
/// on the cooperative pool, which has one thread per core (two here): a test that waits for a
/// process on one of them stalls every other running test, for seconds.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}

/// Runs `loopix args…` to completion (killed after `timeout` seconds), off the cooperative pool.
func loopix(_ args: [String], timeout: Double = 60, in directory: URL? = nil) async throws -> CommandResult {
    try await offPool { try loopixBlocking(args, timeout: timeout, in: directory) }
}

/// `loopix` for code that is not async (building a `ProcessNetwork`); blocks the calling thread.
func loopixBlocking(_ args: [String], timeout: Double = 60, in directory: URL? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: loopixBinary)
    process.arguments = args
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let collector = PipeCollector(out: out, err: err)
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
    if process.isRunning {
        process.terminate()
        Thread.sleep(forTimeInterval: 1)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    process.waitUntilExit()
    let (o, e) = collector.finish()
    return CommandResult(status: process.terminationStatus, stdout: o, stderr: e)
}

/// Reads both pipes as they fill, so that a chatty child never blocks on a full pipe. Each pipe
/// is read on a thread of its own: a read blocks until the child exits, and on Linux Swift's
/// tasks run on Dispatch's global threads, so blocking those (with `DispatchQueue.global()`)
/// stalled every other test for seconds while CLI tests ran their commands.
final class PipeCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var out = Data(), err = Data()
    private let group = DispatchGroup()

    init(out: Pipe, err: Pipe) {
        for (pipe, isOut) in [(out, true), (err, false)] {
            group.enter()
            Thread { [self] in
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                lock.withLock { if isOut { self.out = data } else { self.err = data } }
                group.leave()
            }.start()
        }
    }

    func finish() -> (String, String) {
        group.wait()
        return lock.withLock { (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self)) }
    }
}

/// A `loopix` process that runs until the test stops it.
final class RunningLoopix: @unchecked Sendable {
    let process = Process()
    let log: URL

    init(_ args: [String], log: URL) throws {
        self.log = log
        process.executableURL = URL(fileURLWithPath: loopixBinary)
        process.arguments = args
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// SIGTERM, then SIGKILL after `grace` seconds; returns the exit status.
    @discardableResult
    func stop(grace: Double = 8) async -> Int32 {
        (try? await offPool { self.stopBlocking(grace: grace) }) ?? -1
    }

    /// Waits for the process to end, off the cooperative pool.
    func waitForExit() async {
        _ = try? await offPool { self.process.waitUntilExit() }
    }

    private func stopBlocking(grace: Double) -> Int32 {
        if process.isRunning { signal(SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { signal(SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

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
