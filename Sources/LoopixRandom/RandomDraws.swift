// The draws every part of the project takes from a generator: uniform, exponential (the gaps of
// a Poisson process and the mixes' delays), Poisson counts and indices, each written once.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension RandomNumberGenerator {
    /// Uniform in the open interval (0, 1): never 0, so its logarithm is finite.
    @inlinable
    public mutating func openUnitInterval() -> Double {
        (Double(next() >> 11) + 0.5) * 0x1p-53
    }

    /// A draw from Exp(rate), by inversion; +infinity for rate 0 (an event that never comes).
    @inlinable
    public mutating func exponential(rate: Double) -> Double {
        rate > 0 ? -log(openUnitInterval()) / rate : .infinity
    }

    /// A draw from Poisson(mean), exact, by counting unit-rate arrivals up to `mean`. It costs
    /// one exponential per unit counted, so `atMost` stops early where a caller needs no more
    /// than that (the count returned is then `min(draw, atMost)`).
    @inlinable
    public mutating func poisson(mean: Double, atMost limit: Int = .max) -> Int {
        guard mean > 0 else { return 0 }
        var count = 0
        var t = exponential(rate: 1)
        while t <= mean && count < limit {
            count += 1
            t += exponential(rate: 1)
        }
        return count
    }

    /// Uniform in 0..<n (n > 0), by the high half of a 128-bit product (bias negligible for n ≪ 2⁶⁴).
    @inlinable
    public mutating func index(below n: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(n)).high)
    }
}

extension Double {
    /// A draw from Exp(rate) with the system's generator (cover traffic and delays: unpredictable).
    public static func exponential(rate: Double) -> Double {
        var generator = SystemRandomNumberGenerator()
        return generator.exponential(rate: rate)
    }
}

/// The arrival times of a Poisson process whose rate may change from one arrival to the next.
public struct PoissonArrivals: Sendable {
    private var random: SplitMix64
    public private(set) var time: Double

    public init(seed: UInt64, start: Double = 0) {
        random = SplitMix64(seed: seed)
        time = start
    }

    /// The next arrival after the previous one, drawn at `rate`.
    public mutating func next(rate: Double) -> Double {
        time += random.exponential(rate: rate)
        return time
    }
}
