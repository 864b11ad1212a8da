// The child's side of a process tree: ending with the parent, and waiting for SIGTERM or SIGINT.
import Dispatch
import Foundation

/// The environment variable a parent sets to the child's parent pid, so the child can watch it.
public let parentProcessVariable = "LOOPIX_PARENT_PID"

/// When started by a parent that set LOOPIX_PARENT_PID, terminate gracefully if that parent
/// goes away, so that no node or client outlives a testnet or a benchmark even if it is killed.
public func watchParentProcess() {
    guard let text = ProcessInfo.processInfo.environment[parentProcessVariable], let parent = Int32(text) else { return }
    Thread.detachNewThread {
        while getppid() == parent { Thread.sleep(forTimeInterval: 0.5) }
        kill(getpid(), SIGTERM)
        Thread.sleep(forTimeInterval: 10)
        exit(1)
    }
}

/// Suspends until the process receives SIGTERM or SIGINT (both are then handled here, not fatal).
public func waitForTerminationSignal() async -> Int32 {
    await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
        let once = SignalOnce(continuation)
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { once.fire(sig) }
            source.resume()
            once.keep(source)
        }
    }
}

/// Resumes a continuation once, and keeps the signal sources alive.
private final class SignalOnce: @unchecked Sendable {
    // `@unchecked Sendable`: both fields are only touched under `lock`.
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Int32, Never>?
    private var sources: [any DispatchSourceSignal] = []

    init(_ continuation: CheckedContinuation<Int32, Never>) { self.continuation = continuation }

    func keep(_ source: any DispatchSourceSignal) { lock.withLock { sources.append(source) } }

    func fire(_ signal: Int32) {
        let c = lock.withLock { () -> CheckedContinuation<Int32, Never>? in
            defer { continuation = nil }
            return continuation
        }
        c?.resume(returning: signal)
    }
}
