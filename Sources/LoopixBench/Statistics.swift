// Histograms and summaries of samples: what every benchmark reports about a distribution (means,
// medians and quantiles are LoopixSim's `Stats`, the one copy).
import Foundation
import LoopixMetrics

/// Histograms over samples of `Double`.
public enum Statistics {
    /// Counts of `values` in `bins` equal bins over `lower..<upper`; values outside are left out.
    public static func histogram(_ values: [Double], bins: Int, lower: Double, upper: Double) -> [HistogramBin] {
        precondition(bins > 0 && upper > lower)
        let width = (upper - lower) / Double(bins)
        var counts = [Int](repeating: 0, count: bins)
        for v in values where v >= lower && v < upper {
            counts[min(bins - 1, Int((v - lower) / width))] += 1
        }
        return counts.enumerated().map { HistogramBin(lower: lower + Double($0.offset) * width, upper: lower + Double($0.offset + 1) * width, count: $0.element) }
    }
}

/// One bin of a histogram: `[lower, upper)` and how many values fell in it.
public struct HistogramBin: Codable, Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    public var count: Int
}

/// The usual description of a latency-like sample: count, mean, percentiles and extremes.
public struct Summary: Codable, Sendable, Equatable {
    public var count: Int
    public var mean: Double
    public var min: Double
    public var p50: Double
    public var p95: Double
    public var p99: Double
    public var max: Double

    /// The summary of a latency histogram, in seconds.
    public init(_ histogram: LatencyHistogram) {
        count = histogram.count
        mean = histogram.mean
        min = histogram.min
        max = histogram.max
        p50 = histogram.quantile(0.5) ?? 0
        p95 = histogram.quantile(0.95) ?? 0
        p99 = histogram.quantile(0.99) ?? 0
    }

    /// The summary of durations in seconds.
    public init(seconds values: [Double]) { self.init(LatencyHistogram(seconds: values)) }

    /// The same summary with every value multiplied (seconds to milliseconds, say).
    public func scaled(by factor: Double) -> Summary {
        var s = self
        s.mean *= factor; s.min *= factor; s.max *= factor
        s.p50 *= factor; s.p95 *= factor; s.p99 *= factor
        return s
    }
}
