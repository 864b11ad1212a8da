// Seedable pseudo-random numbers: splitmix64 for seeding and seed derivation,
// xoshiro256** as the generator. Every simulation run gets its own generator,
// so results do not depend on thread scheduling.
import Foundation

/// splitmix64 (Steele, Lea, Flood). Used to expand a 64-bit seed into
/// generator state and to derive independent per-job seeds.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Derives a seed for job `(a, b)` of a run seeded with `base`.
/// Distinct `(a, b)` give statistically independent streams.
public func deriveSeed(_ base: UInt64, _ a: Int, _ b: Int = 0) -> UInt64 {
    var sm = SplitMix64(seed: base)
    var s = sm.next()
    sm = SplitMix64(seed: s ^ (UInt64(truncatingIfNeeded: a) &* 0xD605_BBB5_8C8A_BBEB))
    s = sm.next()
    sm = SplitMix64(seed: s ^ (UInt64(truncatingIfNeeded: b) &* 0x9E37_79B9_7F4A_7C15))
    return sm.next()
}

/// xoshiro256** (Blackman, Vigna).
public struct Xoshiro256: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = Xoshiro256.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Xoshiro256.rotl(s3, 45)
        return result
    }

    /// Uniform in the open interval (0, 1).
    @inline(__always)
    public mutating func uniform() -> Double {
        (Double(next() >> 11) + 0.5) * 0x1p-53
    }

    /// Exponential variate with the given rate (mean 1/rate); +infinity for rate 0.
    @inline(__always)
    public mutating func exponential(rate: Double) -> Double {
        rate > 0 ? -Foundation.log(uniform()) / rate : .infinity
    }

    /// Uniform integer in 0..<n (n > 0), without modulo bias worth noting for n << 2^64.
    @inline(__always)
    public mutating func index(_ n: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(n)).high)
    }

    /// Poisson variate with the given mean, by counting unit-rate arrivals
    /// (exact; cost proportional to the mean, which is fine for pool sizes).
    public mutating func poisson(mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        var count = 0
        var t = exponential(rate: 1)
        while t <= mean {
            count += 1
            t += exponential(rate: 1)
        }
        return count
    }
}
