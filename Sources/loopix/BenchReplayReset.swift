// For `loopix bench node` only: lets the benchmark reuse its pre-built packets by starting a new
// replay epoch on SIGUSR1. It forgets every tag under the same key, which would let anyone
// replay packets, so it is off unless the environment asks for it, and it says so in the log.
import Dispatch
import Foundation
import Logging
import LoopixNode

final class BenchReplayReset {
    private let source: any DispatchSourceSignal

    /// nil unless LOOPIX_BENCH_REPLAY_RESET=1.
    init?(node: MixNode, logger: Logger) {
        guard ProcessInfo.processInfo.environment["LOOPIX_BENCH_REPLAY_RESET"] == "1" else { return nil }
        logger.warning("benchmark mode: SIGUSR1 clears the replay filter (never use this outside a benchmark)")
        signal(SIGUSR1, SIG_IGN)
        let epochs = EpochCounter()
        source = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: .global())
        source.setEventHandler { node.rotateReplayFilter(toEpoch: epochs.next()) }
        source.resume()
    }

    func cancel() { source.cancel() }
}

private final class EpochCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64 = 0
    func next() -> UInt64 { lock.withLock { value += 1; return value } }
}
