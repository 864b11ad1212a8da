// SplitMix64 (Steele, Lea and Flood): a seeded generator small enough to copy into any value,
// and the expander that turns one 64-bit seed into the state of a larger generator.

/// A seeded generator: the same seed gives the same draws on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The seed of job `(a, b)` of a run seeded with `base`: distinct pairs give independent
/// streams, so a job's result does not depend on which thread ran it or when.
public func deriveSeed(_ base: UInt64, _ a: Int, _ b: Int = 0) -> UInt64 {
    var mixer = SplitMix64(seed: base)
    var seed = mixer.next()
    mixer = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: a) &* 0xD605_BBB5_8C8A_BBEB))
    seed = mixer.next()
    mixer = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: b) &* 0x9E37_79B9_7F4A_7C15))
    return mixer.next()
}
