// xoshiro256** (Blackman and Vigna): the fast seeded generator of the simulations.

/// A seeded generator with a 256-bit state, seeded through SplitMix64.
public struct Xoshiro256: RandomNumberGenerator, Sendable {
    // Inlinable so that the simulations' inner loops, in another module, are specialised for it.
    @usableFromInline var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var expander = SplitMix64(seed: seed)
        s0 = expander.next(); s1 = expander.next(); s2 = expander.next(); s3 = expander.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    @inlinable
    static func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    @inlinable
    public mutating func next() -> UInt64 {
        let result = Self.rotateLeft(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Self.rotateLeft(s3, 45)
        return result
    }
}
