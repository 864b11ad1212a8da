// Waiting for SIGTERM or SIGINT, and flushing output, for the long-running commands.
import Dispatch
import Foundation

/// Suspends until the process receives SIGTERM or SIGINT (both are then handled here, not fatal).
func waitForTerminationSignal() async -> Int32 {
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

/// Flushes standard output (lines written with print may sit in its buffer when piped).
func flushOutput() { fflush(nil) }
