// Small statistics helpers and the entropy function.
import Foundation

public enum Stats {
    public static func mean(_ xs: [Double]) -> Double {
        xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count)
    }

    /// Sample standard deviation (n - 1 in the denominator).
    public static func sd(_ xs: [Double]) -> Double {
        guard xs.count > 1 else { return 0 }
        let m = mean(xs)
        let ss = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        return (ss / Double(xs.count - 1)).squareRoot()
    }

    /// Median; +infinity sorts last, NaN must be removed by the caller.
    public static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        let n = s.count
        if n % 2 == 1 { return s[n / 2] }
        let a = s[n / 2 - 1], b = s[n / 2]
        if a.isInfinite || b.isInfinite { return b }
        return (a + b) / 2
    }

    public static func quantile(_ xs: [Double], _ q: Double) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        let pos = q * Double(s.count - 1)
        let lo = Int(pos.rounded(.down)), hi = Int(pos.rounded(.up))
        if lo == hi || s[hi].isInfinite { return s[hi] }
        return s[lo] + (s[hi] - s[lo]) * (pos - Double(lo))
    }
}

public enum Entropy {
    public static let log2e = 1.0 / Foundation.log(2.0)

    /// x * log2(x) with 0 log 0 = 0.
    @inline(__always)
    public static func xlog2x(_ x: Double) -> Double {
        x > 0 ? x * Foundation.log2(x) : 0
    }

    /// Binary entropy in bits.
    @inline(__always)
    public static func h2(_ p: Double) -> Double {
        -(xlog2x(p) + xlog2x(1 - p))
    }

    /// Shannon entropy in bits of a distribution (normalised internally).
    public static func shannon(_ ps: [Double]) -> Double {
        let total = ps.reduce(0, +)
        guard total > 0 else { return 0 }
        return -ps.reduce(0) { $0 + xlog2x($1 / total) }
    }

    /// Appendix A.1 of the paper: the entropy of the pool distribution after
    /// `fresh` new messages (each a distinct, fully identified input) join a pool
    /// holding `old` messages whose common normalised distribution has entropy
    /// `oldEntropy` bits. Exact, because the pool is a mixture with weights
    /// old/(old+fresh) and fresh/(old+fresh) of two distributions on disjoint supports.
    @inline(__always)
    public static func merged(old: Double, oldEntropy: Double, fresh: Int) -> Double {
        let k = Double(fresh)
        let total = old + k
        guard total > 0 else { return 0 }
        guard fresh > 0 else { return oldEntropy }
        let wk = k / total, wl = old / total
        return h2(wk) + wk * Foundation.log2(k) + wl * oldEntropy
    }

    /// Entropy in bits of the geometric distribution Pr[J = j] = p (1-p)^(j-1), j >= 1.
    public static func geometric(p: Double) -> Double {
        p >= 1 ? 0 : h2(p) / p
    }
}
