// The round trip of a client's loop as the code makes it, part by part: the Exp(µ) delays of its
// layers + 2 hops, each hop's overhead past its due time, the provider's commit before the
// packet can be pulled, the wait for the client's next pull deadline, and the pull itself.
import LoopixMetrics
import LoopixRandom

/// The parts of a loop's round trip, each measured in the same run or drawn as the code draws it.
/// The distribution is their sum, of independent draws (Monte Carlo), since no closed form
/// takes measured histograms in.
public struct EndToEndModel: Sendable {
    /// Hops that hold a packet Exp(µ): the client's provider, one mix per layer, the provider again.
    public var hops: Int
    /// 1/µ, seconds.
    public var meanDelay: Double
    /// The client pulls on a grid of this period (`PullSchedule`), independent of when loops are
    /// sent, so a packet committed at a random instant waits U(0, interval) for the next deadline.
    public var pullInterval: Double
    /// Per hop in path order, the overhead past the due time at the nodes that serve that hop.
    public var hopOverheads: [BucketHistogram]
    /// Delivery to commit at the providers.
    public var commitDelay: BucketHistogram
    /// Seconds from a scheduled pull's deadline until its answer was in hand, as the clients
    /// recorded them. Its start includes the pull's connection and request, before the provider
    /// reads the mailbox, so this part overstates by that much (a loopback round trip or two).
    public var pullAnswerDelays: [Double]

    public init(hops: Int, meanDelay: Double, pullInterval: Double, hopOverheads: [BucketHistogram],
                commitDelay: BucketHistogram, pullAnswerDelays: [Double]) {
        self.hops = hops
        self.meanDelay = meanDelay
        self.pullInterval = pullInterval
        self.hopOverheads = hopOverheads
        self.commitDelay = commitDelay
        self.pullAnswerDelays = pullAnswerDelays
    }

    /// One draw of each part, seconds.
    public struct Draw: Sendable {
        public var mixing = 0.0, overhead = 0.0, commit = 0.0, pullWait = 0.0, pullAnswer = 0.0
        public var total: Double { mixing + overhead + commit + pullWait + pullAnswer }
    }

    public func draw<G: RandomNumberGenerator>(using g: inout G) -> Draw {
        var d = Draw()
        for _ in 0..<hops { d.mixing += g.exponential(rate: 1 / meanDelay) }
        for h in hopOverheads where h.count > 0 { d.overhead += h.quantile(Double.random(in: 0..<1, using: &g)) ?? 0 }
        if commitDelay.count > 0 { d.commit = commitDelay.quantile(Double.random(in: 0..<1, using: &g)) ?? 0 }
        d.pullWait = Double.random(in: 0..<pullInterval, using: &g)
        if let a = pullAnswerDelays.randomElement(using: &g) { d.pullAnswer = max(0, a) }
        return d
    }

    /// `count` draws: the sorted totals (the model's distribution) and the mean of each part.
    public func simulate(count: Int, seed: UInt64) -> (sortedTotals: [Double], means: Draw) {
        var g = Xoshiro256(seed: seed)
        var totals: [Double] = []
        totals.reserveCapacity(count)
        var sum = Draw()
        for _ in 0..<count {
            let d = draw(using: &g)
            totals.append(d.total)
            sum.mixing += d.mixing; sum.overhead += d.overhead; sum.commit += d.commit
            sum.pullWait += d.pullWait; sum.pullAnswer += d.pullAnswer
        }
        let n = Double(max(count, 1))
        return (totals.sorted(), Draw(mixing: sum.mixing / n, overhead: sum.overhead / n, commit: sum.commit / n,
                                      pullWait: sum.pullWait / n, pullAnswer: sum.pullAnswer / n))
    }
}

extension EndToEndModel.Draw: Codable {}

/// The empirical CDF of sorted values at `x`.
public func empiricalCDF(sorted: [Double], at x: Double) -> Double {
    var lo = 0, hi = sorted.count
    while lo < hi {
        let mid = (lo + hi) / 2
        if sorted[mid] <= x { lo = mid + 1 } else { hi = mid }
    }
    return sorted.isEmpty ? 0 : Double(lo) / Double(sorted.count)
}

extension BucketHistogram {
    /// Several nodes' histograms as one (same bounds; any with other bounds is left out).
    public static func pooled(_ histograms: [BucketHistogram]) -> BucketHistogram {
        guard let first = histograms.first(where: { $0.count > 0 }) else { return BucketHistogram(bounds: [], cumulative: []) }
        var cumulative = [Double](repeating: 0, count: first.bounds.count)
        for h in histograms where h.bounds == first.bounds {
            for i in cumulative.indices { cumulative[i] += h.cumulative[i] }
        }
        return BucketHistogram(bounds: first.bounds, cumulative: cumulative)
    }
}
