// The RFC 7928-style figures of one queue run: sojourn percentiles, goodput, drops, and how the
// sojourn settles after each change of load or capacity.

import LoopixSim

/// A run reduced to the numbers a comparison table shows. Times in milliseconds.
public struct QueueRunSummary: Codable, Sendable {
    public var scenario: String
    public var policy: String
    public var offered: Int
    public var served: Int
    public var sojournMs: Summary
    /// Served packets over what the workers could have served.
    public var goodputOfCapacity: Double
    /// Served packets over offered packets.
    public var deliveredFraction: Double
    public var dropRate: Double
    public var controllerDropRate: Double
    public var limitDropRate: Double
    /// Per change of phase: time until the binned mean sojourn stays within the band around
    /// the new phase's steady value, and how far it went past that value (ms).
    public var settlingMs: [Double]
    public var overshootMs: [Double]

    public init(_ r: QueueRunResult, scenario: QueueScenario, binSeconds: Double, targetSeconds: Double) {
        self.scenario = scenario.name
        policy = r.policy.rawValue
        offered = r.offered
        served = r.served
        sojournMs = Summary(r.sojourns).scaled(by: 1000)
        goodputOfCapacity = r.capacityPackets > 0 ? Double(r.served) / r.capacityPackets : 0
        deliveredFraction = r.offered > 0 ? Double(r.served) / Double(r.offered) : 1
        let drops = r.controllerDrops + r.limitDrops
        dropRate = r.offered > 0 ? Double(drops) / Double(r.offered) : 0
        controllerDropRate = r.offered > 0 ? Double(r.controllerDrops) / Double(r.offered) : 0
        limitDropRate = r.offered > 0 ? Double(r.limitDrops) / Double(r.offered) : 0
        var settling: [Double] = [], overshoot: [Double] = []
        var start = 0.0
        let ends = scenario.phases.map { p -> Double in start += p.seconds; return start }
        for (i, change) in zip(ends.indices.dropLast(), ends.dropLast()) {
            let s = settle(bins: r.bins, from: change, to: ends[i + 1], binSeconds: binSeconds, band: targetSeconds * 1000 / 2)
            settling.append(s.settling)
            overshoot.append(s.overshoot)
        }
        settlingMs = settling
        overshootMs = overshoot
    }
}

/// Settling time and overshoot of the mean sojourn over `[from, to)`, smoothed over `smoothing`
/// bins: the steady value is the median of the phase's last third; the band is ±max(25 % of it,
/// `band` ms); settling ends with the last smoothed bin outside the band.
public func settle(bins: [QueueBin], from: Double, to: Double, binSeconds: Double, band: Double,
                   smoothing: Int = 5) -> (settling: Double, overshoot: Double) {
    let phase = bins.filter { $0.start >= from - 1e-9 && $0.start < to - 1e-9 }
    guard !phase.isEmpty else { return (0, 0) }
    let raw = phase.map { $0.meanSojourn * 1000 }
    let y = raw.indices.map { i -> Double in
        let window = raw[max(0, i - smoothing + 1)...i]
        return window.reduce(0, +) / Double(window.count)
    }
    let tail = Array(y[(y.count * 2 / 3)...])
    let steady = Stats.median(tail)
    let width = max(0.25 * steady, band)
    var lastOutside = -1
    for (i, v) in y.enumerated() where abs(v - steady) > width { lastOutside = i }
    let settling = lastOutside < 0 ? 0 : Double(lastOutside + 1) * binSeconds * 1000
    let overshoot = max(0, (y.max() ?? steady) - steady)
    return (settling, overshoot)
}
