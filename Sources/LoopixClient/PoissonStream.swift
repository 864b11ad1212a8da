// Event times of a Poisson process, on absolute deadlines so that timer overshoot does not drift the rate.
import LoopixRandom

/// Draws the event times of a Poisson process of `rate` events per second.
public struct PoissonStream: Sendable {
    public let rate: Double
    private var next: Double

    /// A stream whose first event follows `start` by an exponential gap.
    public init(rate: Double, start: Double) {
        precondition(rate > 0, "a Poisson stream needs a positive rate")
        self.rate = rate
        self.next = start
        advance()
    }

    /// The time of the next event (seconds, on the caller's clock).
    public var nextEvent: Double { next }

    /// Moves to the following event: the gap is Exp(rate).
    public mutating func advance() {
        next += Double.exponential(rate: rate)
    }
}
