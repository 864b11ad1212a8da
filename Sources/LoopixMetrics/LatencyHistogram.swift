// Latency distributions recorded as they are measured, in HdrHistogram: constant memory and
// quantiles to three significant digits, whatever the number of samples.
import Histogram

/// Durations recorded with nanosecond resolution, up to an hour, three significant digits.
public struct LatencyHistogram: Sendable {
    private var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)

    public init() {}

    /// A histogram of `values`, each a duration in seconds (negative ones count as 0).
    public init(seconds values: some Sequence<Double>) {
        for value in values { record(seconds: value) }
    }

    public mutating func record(nanoseconds: UInt64) {
        _ = histogram.record(Swift.min(nanoseconds, histogram.highestTrackableValue))
    }

    public mutating func record(seconds: Double) {
        record(nanoseconds: UInt64(Swift.max(0, (seconds * 1e9).rounded())))
    }

    public var count: Int { Int(histogram.totalCount) }

    /// The q-quantile (0...1) in seconds; nil when nothing was recorded.
    public func quantile(_ q: Double) -> Double? {
        count > 0 ? Double(histogram.valueAtPercentile(Swift.min(Swift.max(q, 0), 1) * 100)) / 1e9 : nil
    }

    /// Mean, smallest and largest value in seconds (0 when nothing was recorded).
    public var mean: Double { count > 0 ? histogram.mean / 1e9 : 0 }
    public var min: Double { count > 0 ? Double(histogram.min) / 1e9 : 0 }
    public var max: Double { count > 0 ? Double(histogram.max) / 1e9 : 0 }
}
