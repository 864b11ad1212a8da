// A child process that runs while its parent does other work: started with its output in a
// file, signalled, stopped with SIGTERM then SIGKILL, and waited for without holding a thread.
import Foundation
import Subprocess
import SystemPackage

/// A running (or finished) child process. swift-subprocess waits for it on a pidfd from a
/// thread of its own, so awaiting its exit never blocks Swift's cooperative pool (two threads
/// on a two-core machine: a blocked one stalls every other task, and nodes then cut off peers
/// that miss their frame deadlines).
public final class ChildProcess: Sendable {
    public let processIdentifier: Int32
    private let exit: ExitRecord
    private let supervision: Task<Int32, Never>

    private init(processIdentifier: Int32, exit: ExitRecord, supervision: Task<Int32, Never>) {
        self.processIdentifier = processIdentifier
        self.exit = exit
        self.supervision = supervision
    }

    /// Starts `executable` with `arguments`; its standard output and error go to `log` (created
    /// or emptied; nil: discarded) and `environment` is added to this process's. `stop()` sends
    /// SIGTERM, then SIGKILL once `stopGrace` has passed.
    public static func start(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                             log: URL?, stopGrace: Duration = .seconds(8)) async throws -> ChildProcess {
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: stopGrace)]
        var additions: [Environment.Key: String?] = [:]
        for (key, value) in environment { additions[Environment.Key(rawValue: key)!] = value }
        let configuration = Configuration(executable: .path(FilePath(executable)), arguments: Arguments(arguments),
                                          environment: .inherit.updating(additions), platformOptions: options)
        let output = try log.map { try FileDescriptor.open(FilePath($0.path), .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite) }
        let (started, startedContinuation) = AsyncStream<Int32>.makeStream()
        let exit = ExitRecord()
        let supervision = Task<Int32, Never> {
            defer { startedContinuation.finish() }
            let status: Int32
            do {
                let result: ExecutionResult<Void, FileDescriptorOutput, FileDescriptorOutput>
                if let output {
                    // The child gets its own copies of the descriptor; ours closes after the spawn.
                    result = try await Subprocess.run(
                        configuration, input: .none, output: .fileDescriptor(output, closeAfterSpawningProcess: true),
                        error: .fileDescriptor(output, closeAfterSpawningProcess: false)
                    ) { execution in startedContinuation.yield(execution.processIdentifier.value) }
                } else {
                    result = try await Subprocess.run(
                        configuration, input: .none, output: .fileDescriptor(try .open("/dev/null", .writeOnly), closeAfterSpawningProcess: true),
                        error: .fileDescriptor(try .open("/dev/null", .writeOnly), closeAfterSpawningProcess: true)
                    ) { execution in startedContinuation.yield(execution.processIdentifier.value) }
                }
                status = result.terminationStatus.exitStatus
            } catch {
                exit.failure = "\(error)"
                status = -1
            }
            exit.status = status
            return status
        }
        var iterator = started.makeAsyncIterator()
        guard let pid = await iterator.next() else {
            _ = await supervision.value
            throw ChildProcessError(executable: executable, problem: exit.failure ?? "did not start")
        }
        return ChildProcess(processIdentifier: pid, exit: exit, supervision: supervision)
    }

    /// Whether the process has not exited yet.
    public var isRunning: Bool { exit.status == nil }

    /// The exit code, or the signal that ended it; nil while it runs.
    public var exitStatus: Int32? { exit.status }

    /// Sends `signal` (SIGUSR1, SIGKILL, …) unless the process has already exited.
    public func send(_ signal: Int32) {
        // Between the child's exit and this record the pid is not yet free for reuse: the
        // child is reaped just before the record is written, a window of microseconds.
        if isRunning { kill(processIdentifier, signal) }
    }

    /// SIGTERM, then SIGKILL after the grace period given at start; the exit status.
    @discardableResult
    public func stop() async -> Int32 {
        supervision.cancel()
        return await supervision.value
    }

    /// Waits until the process exits by itself; its exit status.
    @discardableResult
    public func waitForExit() async -> Int32 { await supervision.value }
}

/// A process that could not be started.
public struct ChildProcessError: Error, CustomStringConvertible {
    public let executable: String
    public let problem: String
    public var description: String { "cannot run \(executable): \(problem)" }
}

/// How a child ended, written once by the task that waits for it.
private final class ExitRecord: @unchecked Sendable {
    // `@unchecked Sendable`: both fields are read and written under `lock` only.
    private let lock = NSLock()
    private var _status: Int32?
    private var _failure: String?
    var status: Int32? {
        get { lock.withLock { _status } }
        set { lock.withLock { _status = newValue } }
    }
    var failure: String? {
        get { lock.withLock { _failure } }
        set { lock.withLock { _failure = newValue } }
    }
}

extension TerminationStatus {
    /// The exit code, or the number of the signal that ended the process (as Foundation's Process reports it).
    var exitStatus: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): signal
        }
    }
}
