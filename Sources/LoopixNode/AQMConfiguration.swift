// The knobs of active queue management on the crypto queue.

/// Target, gains and limits of the PIE-style controller (RFC 8033, rescaled to sub-millisecond
/// queues); see docs/node.md for how the defaults were chosen.
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

    public init(
        targetDelay: Double = 0.001,
        updateInterval: Double = 0.001,
        integralGain: Double = 3,
        proportionalGain: Double = 20,
        derivativeGain: Double = 0,
        maxBurst: Double = 0.010,
        autoScaleGains: Bool = true,
        queueLimit: Int = 2048,
        sojournLimit: Double = 0.0018
    ) {
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

    /// The packets admission lets wait for the workers: the sojourn limit (plus `maxBurst` while
    /// `burstAllowance` lasts) at `servicePerPacket` seconds per packet per worker, never fewer
    /// than eight per worker (a slow or briefly descheduled worker must not turn the node into
    /// a two-packet queue that drops every small burst) and never more than `queueLimit`.
    /// Shared by the node's controller and the queue models, so that they apply the same rule.
    public func admissionLimit(servicePerPacket: Double, workers: Int, burstAllowance: Double) -> Int {
        guard sojournLimit > 0, servicePerPacket > 0 else { return queueLimit }
        let seconds = sojournLimit + (burstAllowance > 0 ? maxBurst : 0)
        let packets = seconds / servicePerPacket * Double(workers)
        guard packets < Double(queueLimit) else { return queueLimit }
        return min(queueLimit, max(8 * workers, Int(packets)))
    }
}
