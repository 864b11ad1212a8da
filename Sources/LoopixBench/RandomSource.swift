// A small seeded generator, so that a benchmark's traces repeat exactly and every policy sees
// the same arrivals.
import Foundation

/// SplitMix64 with the draws the benchmarks need: uniform, exponential, Poisson.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Exp(rate): a gap of a Poisson process.
    public mutating func exponential(rate: Double) -> Double {
        -log(1 - unit()) / rate
    }

    /// Poisson(mean): by multiplication of uniforms below 30, by a rounded normal above.
    public mutating func poisson(mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        if mean < 30 {
            let limit = exp(-mean)
            var k = 0, product = unit()
            while product > limit { k += 1; product *= unit() }
            return k
        }
        let u1 = max(unit(), 1e-300), u2 = unit()
        let normal = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        return max(0, Int((mean + mean.squareRoot() * normal).rounded()))
    }
}

/// Arrival times of a Poisson process whose rate may change piecewise: each call to `next(rate:)`
/// returns the next arrival after the previous one, drawn at the rate given.
public struct PoissonArrivals: Sendable {
    private var random: SplitMix64
    public private(set) var time: Double

    public init(seed: UInt64, start: Double = 0) {
        random = SplitMix64(seed: seed)
        time = start
    }

    public mutating func next(rate: Double) -> Double {
        time += random.exponential(rate: rate)
        return time
    }
}
