// The knobs of active queue management on the crypto queue.

/// Target, gains and limits of the PIE-style controller (RFC 8033, rescaled to millisecond
/// queues); see docs/node.md for how the defaults were chosen. A node's target follows its
/// network's delay scale unless configured (`defaultTarget(meanHopDelay:)`).
public struct AQMConfiguration: Sendable, Hashable, Codable {
    /// The sojourn time the controller steers the crypto queue toward, in seconds.
    public var targetDelay: Double
    /// How often the controller samples the queue and updates the drop probability, in seconds.
    public var updateInterval: Double
    /// Integral gain α, per second: the change in probability per second of delay above target,
    /// per update (RFC 8033's alpha).
    public var integralGain: Double
    /// Proportional gain β, per second: the change in probability per second of growth of the
    /// delay since the last update (RFC 8033's beta).
    public var proportionalGain: Double
    /// Derivative gain, per second: reacts to the change of the growth; 0 gives plain PIE.
    public var derivativeGain: Double
    /// How long a burst may go undropped after a calm period, in seconds.
    public var maxBurst: Double
    /// Scale the step down while the probability is small (RFC 8033 section 4.2).
    public var autoScaleGains: Bool
    /// The crypto queue's hard limit in packets; arrivals beyond it are dropped whatever the
    /// probability says. It bounds memory.
    public var queueLimit: Int
    /// The crypto queue's limit in time, in seconds: arrivals are refused while the packets
    /// ahead of them (queued, or read and about to be queued) would take the workers longer
    /// than this at their measured pace. It bounds the tail of the sojourn when the random
    /// early drops fall behind a fluctuation; 0 turns it off. While the burst allowance lasts,
    /// `maxBurst` is added to it, so that a burst after a calm period passes whole.
    public var sojournLimit: Double

    public init(targetDelay: Double, updateInterval: Double, integralGain: Double, proportionalGain: Double,
                derivativeGain: Double, maxBurst: Double, autoScaleGains: Bool, queueLimit: Int, sojournLimit: Double) {
        self.targetDelay = targetDelay
        self.updateInterval = updateInterval
        self.integralGain = integralGain
        self.proportionalGain = proportionalGain
        self.derivativeGain = derivativeGain
        self.maxBurst = maxBurst
        self.autoScaleGains = autoScaleGains
        self.queueLimit = queueLimit
        self.sojournLimit = sojournLimit
    }

    /// The defaults at `target` seconds: the controller samples once per target, lets a burst of
    /// ten targets pass after a calm period and refuses what would wait beyond 1.5 targets (the
    /// proportions of RFC 8033's 15 ms target, 15 ms update and 150 ms burst; the sojourn limit
    /// holds the overload's p99 under two targets: on the real node, whose workers drain below
    /// their measured pace now and then, 1.8 targets gave a p99 of 2.07-2.27 targets at 1.5 and
    /// 2 × capacity, 1.5 gave 1.75-1.96), with gains in inverse proportion (α = 3 /s
    /// and β = 20 /s at 1 ms, PIE's own scaled), so that the controller behaves the same in
    /// units of its target whatever the target is. docs/node.md says how they were chosen.
    public init(target: Double = AQMConfiguration.minimumTarget, queueLimit: Int = 2048) {
        self.init(targetDelay: target, updateInterval: target, integralGain: 0.003 / target,
                  proportionalGain: 0.020 / target, derivativeGain: 0, maxBurst: 10 * target, autoScaleGains: true,
                  queueLimit: queueLimit, sojournLimit: 1.5 * target)
    }

    /// This configuration with every duration multiplied by `target / targetDelay` and the gains
    /// divided by it: the same controller, in units of the new target.
    public func scaled(toTarget target: Double) -> AQMConfiguration {
        let k = target / targetDelay
        var c = self
        c.targetDelay = target
        c.updateInterval *= k
        c.maxBurst *= k
        c.sojournLimit *= k
        c.integralGain /= k
        c.proportionalGain /= k
        c.derivativeGain /= k
        return c
    }

    /// The smallest default target, 10 ms. A mix's packets wait for their Poisson delay anyway,
    /// and what a node sheds below this is not overload but its host: where workers share the
    /// cores, a worker is off its core for milliseconds now and then, and the Poisson bursts of a
    /// load the node carries queue behind it. The queue model with such pauses (2 ms on average,
    /// 20 a second per worker, `PIEControllerTests`) drops nothing at 80 % load with this
    /// target; at 5 ms one trace of five lost 38 packets in 160,000, and at 1 ms that trace lost
    /// 319, as the real node lost packets at half load with a 1 ms target (docs/node.md).
    public static let minimumTarget = 0.010
    /// The largest default target, 50 ms: beyond it the queue's hard limit (2048 packets) would
    /// come before the sojourn limit at the rates a node reaches.
    public static let maximumTarget = 0.050
    /// The default target's share of the mean per-hop delay 1/µ.
    public static let targetShareOfHopDelay = 0.05

    /// The default target for a network whose mean per-hop delay is `meanHopDelay` seconds: a
    /// twentieth of it, within `minimumTarget...maximumTarget` (10 ms for the default µ = 1000 /s,
    /// 1 ms per hop, and up to a mean of 200 ms; 50 ms from a mean of one second up).
    public static func defaultTarget(meanHopDelay: Double) -> Double {
        guard meanHopDelay.isFinite, meanHopDelay > 0 else { return minimumTarget }
        return min(maximumTarget, max(minimumTarget, meanHopDelay * targetShareOfHopDelay))
    }

    /// Packets per worker the admission limit never goes below: M/D/1 at 80 % load holds more
    /// than 32 waiting with probability about 0.64^32 < 10^-6 (the queue's length decays by
    /// e^-x per packet, with 0.8 (e^x - 1) = x), so a node whose sojourn limit is short against
    /// its service time still drops nothing for a burst at loads it can carry.
    public static let minimumPacketsPerWorker = 32

    /// The packets admission lets wait for the workers: the sojourn limit (plus `maxBurst` while
    /// `burstAllowance` lasts) at `servicePerPacket` seconds per packet per worker, never fewer
    /// than `minimumPacketsPerWorker` per worker (a slow or briefly descheduled worker must not
    /// turn the node into a short queue that drops Poisson bursts) and never more than `queueLimit`.
    /// Shared by the node's controller and the queue models, so that they apply the same rule.
    public func admissionLimit(servicePerPacket: Double, workers: Int, burstAllowance: Double) -> Int {
        guard sojournLimit > 0, servicePerPacket > 0 else { return queueLimit }
        let seconds = sojournLimit + (burstAllowance > 0 ? maxBurst : 0)
        let packets = seconds / servicePerPacket * Double(workers)
        guard packets < Double(queueLimit) else { return queueLimit }
        return min(queueLimit, max(Self.minimumPacketsPerWorker * workers, Int(packets)))
    }
}
