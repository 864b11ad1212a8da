// Watches a mix's own loop packets come back: the fraction returning over a sliding window is
// the mix's view of whether someone is withholding traffic from it (an (n-1) attack).
import DequeModule
import LoopixSphinx
import NIOConcurrencyHelpers

/// Records loops sent and returned, and judges the return ratio over a window; thread-safe.
///
/// `@unchecked Sendable`: all mutable state is guarded by `lock`.
final class LoopMonitor: @unchecked Sendable {
    private struct Record {
        var id: SphinxAddress
        var sentAt: UInt64
        var returned: Bool
    }

    /// The result of one evaluation.
    struct Verdict: Equatable {
        /// Returned / sent over the loops old enough to judge; nil without enough samples.
        var ratio: Double?
        var judged: Int
        var alarmed: Bool
    }

    private let window: UInt64
    private let grace: UInt64
    private let minimumSamples: Int
    private let threshold: Double
    private let lock = NIOLock()
    private var records: Deque<Record> = []
    private var firstSequence = 0
    private var sequenceOf: [SphinxAddress: Int] = [:]
    private var alarmed = false

    /// `window` and `grace` in seconds; `threshold` is the topology's r.
    init(window: Double, grace: Double, minimumSamples: Int, threshold: Double) {
        self.window = UInt64(window * 1e9)
        self.grace = UInt64(grace * 1e9)
        self.minimumSamples = minimumSamples
        self.threshold = threshold
    }

    func recordSent(_ id: SphinxAddress, at now: UInt64) {
        lock.withLock {
            sequenceOf[id] = firstSequence + records.count
            records.append(Record(id: id, sentAt: now, returned: false))
        }
    }

    /// Marks a loop as returned; false if it is not one of ours (or came back twice).
    func loopReturned(_ id: SphinxAddress, at now: UInt64) -> Bool {
        lock.withLock {
            guard let sequence = sequenceOf.removeValue(forKey: id) else { return false }
            records[sequence - firstSequence].returned = true
            return true
        }
    }

    /// Whether the alarm is raised (as of the last evaluation).
    var isAlarmed: Bool { lock.withLock { alarmed } }

    /// Forgets loops older than window + grace and judges those sent between `now - window - grace`
    /// and `now - grace` (younger ones may still be on their way).
    func evaluate(now: UInt64) -> Verdict {
        lock.withLock {
            let horizon = window &+ grace
            while let first = records.first, now &- first.sentAt > horizon {
                sequenceOf.removeValue(forKey: first.id)
                records.removeFirst()
                firstSequence += 1
            }
            var judged = 0
            var returned = 0
            for record in records {
                guard now &- record.sentAt >= grace else { break }
                judged += 1
                if record.returned { returned += 1 }
            }
            guard judged >= minimumSamples else {
                return Verdict(ratio: nil, judged: judged, alarmed: alarmed)
            }
            let ratio = Double(returned) / Double(judged)
            alarmed = ratio < threshold
            return Verdict(ratio: ratio, judged: judged, alarmed: alarmed)
        }
    }
}
