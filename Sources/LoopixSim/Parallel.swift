// Parallel evaluation of independent simulation jobs. Each job computes its
// result from its own seed, and results are stored by job index, so the output
// is identical whatever the number of threads or the scheduling.
//
// Worker threads pull job indices from a shared counter (dynamic load
// balancing: sweep points differ a lot in cost). Plain threads are used rather
// than DispatchQueue.concurrentPerform: in our measurements on Linux (Swift
// 6.3.1, 2 cores) a sweep driven by concurrentPerform from the main thread ran
// at 100 % CPU, with these threads at 197 %.
import Foundation

private final class JobBoard<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T?>
    let count: Int
    private let lock = NSLock()
    private var next = 0

    init(count: Int) {
        self.count = count
        base = .allocate(capacity: count)
        base.initialize(repeating: nil, count: count)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    func take() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < count else { return nil }
        next += 1
        return next - 1
    }
}

public enum Parallel {
    /// Number of worker threads: LOOPIX_SIM_THREADS if set, else the active processor count.
    public static var threads: Int {
        if let s = ProcessInfo.processInfo.environment["LOOPIX_SIM_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Runs `body(i)` for i in 0..<count on `threads` threads and returns the results in index order.
    public static func map<T: Sendable>(_ count: Int, threads: Int = Parallel.threads,
                                        _ body: @escaping @Sendable (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        let board = JobBoard<T>(count: count)
        let workers = min(threads, count)
        if workers <= 1 {
            for i in 0..<count { board.base[i] = body(i) }
        } else {
            let done = DispatchGroup()
            for _ in 0..<workers {
                done.enter()
                let thread = Thread {
                    while let i = board.take() { board.base[i] = body(i) }
                    done.leave()
                }
                thread.stackSize = 8 << 20
                thread.start()
            }
            done.wait()
        }
        return (0..<count).map { board.base[$0]! }
    }
}
