// Turns the controller's probability into drop decisions for a stream of arrivals.

/// Decides, per arriving packet, whether to drop it early; de-randomised as in RFC 8033
/// section 5.1 so that drops are spread evenly and the queue fluctuates less. One per event
/// loop; not shared between threads.
public struct DropDecider: Sendable {
    @usableFromInline var accumulated: Double = 0
    @usableFromInline var state: UInt64

    public init(seed: UInt64) {
        self.state = seed | 1
    }

    /// Whether to drop an arrival under drop probability `p`.
    @inlinable
    public mutating func shouldDrop(probability p: Double) -> Bool {
        guard p > 0 else {
            accumulated = 0
            return false
        }
        accumulated += p
        if accumulated < 0.85 { return false }
        if accumulated >= 8.5 || nextUnit() < p {
            accumulated = 0
            return true
        }
        return false
    }

    /// xorshift64*: a cheap uniform in [0, 1); fine for drop decisions, never for keys.
    @usableFromInline
    mutating func nextUnit() -> Double {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return Double((state &* 0x2545_F491_4F6C_DD1D) >> 11) * 0x1p-53
    }
}
