// The drop-probability controller of the crypto queue, in the manner of PIE (RFC 8033): a PID
// controller in velocity form on the queue's sojourn time. Pure value logic, driven by a timer.

/// Turns periodic sojourn samples into the probability of dropping an arriving packet.
public struct PIEController: Sendable {
    public let configuration: AQMConfiguration
    /// The controller's probability, before the burst and low-delay exemptions.
    public private(set) var probability: Double = 0
    /// Time left during which no packet is dropped early, in seconds.
    public private(set) var burstAllowance: Double
    private var lastDelay: Double = 0
    private var lastDelta: Double = 0
    /// How long the queue has been calm (no probability, delay under half the target).
    private var calm: Double = 0

    public init(configuration: AQMConfiguration) {
        self.configuration = configuration
        self.burstAllowance = configuration.maxBurst
    }

    /// The probability to apply to arrivals now: zero during a burst allowance, and zero while the
    /// queue is well below target and the probability moderate (RFC 8033 section 5.3).
    public var effectiveProbability: Double {
        if burstAllowance > 0 { return 0 }
        if lastDelay < configuration.targetDelay / 2 && probability < 0.2 { return 0 }
        return probability
    }

    /// One controller step with the current sojourn time (seconds); returns the effective probability.
    @discardableResult
    public mutating func update(queueDelay delay: Double) -> Double {
        let c = configuration
        var delta = c.integralGain * (delay - c.targetDelay) + c.proportionalGain * (delay - lastDelay)
        if c.derivativeGain != 0 {
            // Second difference of the delay, per update interval.
            delta += c.derivativeGain * ((delay - lastDelay) - lastDelta)
        }
        lastDelta = delay - lastDelay
        if c.autoScaleGains {
            // Small probabilities move in small steps, so a light load is not punished by noise.
            switch probability {
            case ..<0.000001: delta /= 2048
            case ..<0.00001: delta /= 512
            case ..<0.0001: delta /= 128
            case ..<0.001: delta /= 32
            case ..<0.01: delta /= 8
            case ..<0.1: delta /= 2
            default: break
            }
        }
        // Large probabilities change slowly upward, against overshoot.
        if probability >= 0.1 && delta > 0.02 { delta = 0.02 }
        // Far above target (8x), step up hard: the queue is running away.
        if delay > 8 * c.targetDelay { delta += 0.02 }
        var next = probability + delta
        if delay == 0 && lastDelay == 0 { next *= 0.98 }
        probability = min(max(next, 0), 1)
        let previousDelay = lastDelay
        lastDelay = delay

        burstAllowance = max(0, burstAllowance - c.updateInterval)
        // The allowance comes back once the queue has been calm for as long as it lasts (RFC 8033
        // asks two calm samples; under an overload whose sojourn dips now and then, that would
        // re-arm it again and again, each time letting a burst's worth of queue build up).
        if probability == 0 && delay < c.targetDelay / 2 && previousDelay < c.targetDelay / 2 {
            calm += c.updateInterval
            if calm >= c.maxBurst { burstAllowance = c.maxBurst }
        } else {
            calm = 0
        }
        return effectiveProbability
    }
}
