// Parallel evaluation of independent simulation jobs. Each job computes its
// result from its own seed, and results are stored by job index, so the output
// is identical whatever the number of threads or the scheduling.
import Dispatch
import Foundation

private final class ResultSlots<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T?>
    let count: Int
    init(count: Int) {
        self.count = count
        base = .allocate(capacity: max(count, 1))
        base.initialize(repeating: nil, count: max(count, 1))
    }
    deinit {
        base.deinitialize(count: max(count, 1))
        base.deallocate()
    }
}

public enum Parallel {
    /// Runs `body(i)` for i in 0..<count on all cores (DispatchQueue.concurrentPerform,
    /// which hands out iterations dynamically) and returns the results in index order.
    public static func map<T: Sendable>(_ count: Int, _ body: @Sendable (Int) -> T) -> [T] {
        guard count > 0 else { return [] }
        let slots = ResultSlots<T>(count: count)
        DispatchQueue.concurrentPerform(iterations: count) { i in
            slots.base[i] = body(i)
        }
        return (0..<count).map { slots.base[$0]! }
    }
}
