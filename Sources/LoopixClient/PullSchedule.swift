// When a client pulls: on a fixed grid of deadlines, so that the pull period is the configured
// interval whatever a pull costs.

/// Deadlines `start`, `start + interval`, `start + 2·interval`, … (seconds, on the caller's
/// clock). A pull that overruns its slot does not make the next ones bunch up: the next pull
/// waits for the first deadline that has not passed, and the missed ones are skipped.
public struct PullSchedule: Sendable, Hashable {
    public let start: Double
    public let interval: Double

    public init(start: Double, interval: Double) {
        precondition(interval > 0, "a pull schedule needs a positive interval")
        self.start = start
        self.interval = interval
    }

    /// The index of the first deadline at or after `now`, and never before `after + 1` (so the
    /// deadline just served is not served twice).
    public func nextSlot(after served: Int, now: Double) -> Int {
        let due = ((now - start) / interval).rounded(.up)
        return max(served + 1, due.isFinite ? Int(due) : served + 1)
    }

    /// The time of deadline `slot`.
    public func deadline(_ slot: Int) -> Double { start + Double(slot) * interval }
}
