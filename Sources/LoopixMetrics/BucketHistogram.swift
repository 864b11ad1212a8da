// A Prometheus histogram read back: cumulative bucket counts, and the quantiles they allow. What
// the benchmarks record themselves goes into HdrHistogram; this type only reads what a node
// exported, whose bucket bounds the node chose and which HdrHistogram cannot take in.

/// Cumulative counts per upper bound (`le`), as a node exports them; the last bound may be +Inf.
public struct BucketHistogram: Codable, Sendable, Equatable {
    public var bounds: [Double]
    public var cumulative: [Double]

    public init(bounds: [Double], cumulative: [Double]) {
        precondition(bounds.count == cumulative.count)
        let order = bounds.indices.sorted { bounds[$0] < bounds[$1] }
        self.bounds = order.map { bounds[$0] }
        self.cumulative = order.map { cumulative[$0] }
    }

    /// Reads the `_bucket` series of `name` from Prometheus samples (series text → value).
    public init(samples: [String: Double], name: String) {
        var pairs: [(Double, Double)] = []
        let prefix = name + "_bucket{"
        for (series, value) in samples where series.hasPrefix(prefix) {
            guard let start = series.range(of: "le=\"") else { continue }
            let rest = series[start.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { continue }
            let text = String(rest[..<end])
            let bound = text == "+Inf" ? Double.infinity : Double(text)
            if let bound { pairs.append((bound, value)) }
        }
        self.init(bounds: pairs.map(\.0), cumulative: pairs.map(\.1))
    }

    public var count: Double { cumulative.last ?? 0 }

    /// What was observed between an earlier reading and this one.
    public func subtracting(_ earlier: BucketHistogram) -> BucketHistogram {
        guard earlier.bounds == bounds else { return self }
        return BucketHistogram(bounds: bounds, cumulative: zip(cumulative, earlier.cumulative).map { max(0, $0 - $1) })
    }

    /// The fraction of observations above `bound`: exact where `bound` is a bucket bound, else
    /// interpolated linearly inside its bucket (as `quantile` is); nil beyond the last finite bound.
    public func fractionAbove(_ bound: Double) -> Double? {
        guard count > 0 else { return nil }
        var previousBound = 0.0, previousCount = 0.0
        for (upper, cumulativeCount) in zip(bounds, cumulative) {
            if abs(upper - bound) <= 1e-12 * max(1, bound) { return (count - cumulativeCount) / count }
            if bound < upper {
                guard upper.isFinite else { return nil }
                let below = previousCount + (cumulativeCount - previousCount) * (bound - previousBound) / (upper - previousBound)
                return (count - below) / count
            }
            previousBound = upper
            previousCount = cumulativeCount
        }
        return nil
    }

    /// The q-quantile by linear interpolation inside its bucket (as PromQL's histogram_quantile);
    /// a quantile in the +Inf bucket is reported as the last finite bound.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = q * count
        var previousBound = 0.0, previousCount = 0.0
        for (bound, cumulativeCount) in zip(bounds, cumulative) {
            if cumulativeCount >= rank {
                if bound.isInfinite { return previousBound }
                let inBucket = cumulativeCount - previousCount
                guard inBucket > 0 else { return bound }
                return previousBound + (bound - previousBound) * (rank - previousCount) / inBucket
            }
            previousBound = bound.isInfinite ? previousBound : bound
            previousCount = cumulativeCount
        }
        return previousBound
    }
}
