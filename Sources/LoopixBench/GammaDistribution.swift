// The Gamma model of end-to-end latency (the paper's Figure 11): the sum of k exponential hop
// delays of rate µ is Gamma(shape k, scale 1/µ). Fitting, its CDF, and goodness of fit.
import Foundation
import LoopixSim

/// A Gamma distribution by shape and scale.
public struct GammaDistribution: Codable, Sendable, Equatable {
    public var shape: Double
    public var scale: Double

    public init(shape: Double, scale: Double) {
        precondition(shape > 0 && scale > 0, "a Gamma distribution needs a positive shape and scale")
        self.shape = shape
        self.scale = scale
    }

    public var mean: Double { shape * scale }
    public var variance: Double { shape * scale * scale }

    public func cdf(_ x: Double) -> Double {
        x <= 0 ? 0 : regularizedLowerGamma(shape, x / scale)
    }

    public func density(_ x: Double) -> Double {
        guard x > 0 else { return 0 }
        return exp((shape - 1) * log(x) - x / scale - lgamma(shape) - shape * log(scale))
    }

    /// Shape and scale from the sample mean and variance.
    public static func fitMoments(_ values: [Double]) -> GammaDistribution? {
        let m = Stats.mean(values), v = Stats.sd(values) * Stats.sd(values)
        guard values.count > 1, m > 0, v > 0 else { return nil }
        return GammaDistribution(shape: m * m / v, scale: v / m)
    }

    /// The maximum-likelihood fit: Newton's method on the shape (Minka's starting point), then
    /// scale = mean / shape. Values must be positive.
    public static func fitMaximumLikelihood(_ values: [Double]) -> GammaDistribution? {
        guard values.count > 1, values.allSatisfy({ $0 > 0 }) else { return nil }
        let m = Stats.mean(values)
        let s = log(m) - values.reduce(0) { $0 + log($1) } / Double(values.count)
        guard s > 0 else { return nil }
        var k = (3 - s + ((s - 3) * (s - 3) + 24 * s).squareRoot()) / (12 * s)
        for _ in 0..<50 {
            let f = log(k) - digamma(k) - s
            let step = f / (1 / k - trigamma(k))
            let next = k - step
            k = next > 0 ? next : k / 2
            if abs(step) < 1e-12 * k { break }
        }
        return GammaDistribution(shape: k, scale: m / k)
    }
}

/// The CDF of Gamma(shape, scale) plus an independent uniform wait on [0, wait): what a loop's
/// round trip looks like when the client only sees it at its next pull.
public func gammaPlusUniformCDF(_ gamma: GammaDistribution, wait: Double, at x: Double) -> Double {
    guard wait > 0 else { return gamma.cdf(x) }
    // F(x) = (1/w) ∫₀ʷ G(x − u) du, by the trapezoid rule on 200 panels (G is smooth).
    let n = 200
    var sum = 0.0
    for i in 0...n {
        let weight = (i == 0 || i == n) ? 0.5 : 1
        sum += weight * gamma.cdf(x - wait * Double(i) / Double(n))
    }
    return sum / Double(n)
}

/// The Kolmogorov–Smirnov distance between the sample and a continuous CDF.
public func kolmogorovSmirnov(_ values: [Double], cdf: (Double) -> Double) -> Double {
    let sorted = values.sorted()
    let n = Double(sorted.count)
    var d = 0.0
    for (i, x) in sorted.enumerated() {
        let f = cdf(x)
        d = max(d, f - Double(i) / n, Double(i + 1) / n - f)
    }
    return d
}

/// The asymptotic p-value of a KS distance `d` over `n` values (Stephens' small-sample correction).
public func kolmogorovSmirnovPValue(_ d: Double, count n: Int) -> Double {
    guard n > 0, d > 0 else { return 1 }
    let root = Double(n).squareRoot()
    let lambda = (root + 0.12 + 0.11 / root) * d
    var sum = 0.0
    for j in 1...100 {
        let term = exp(-2 * Double(j * j) * lambda * lambda)
        sum += (j % 2 == 1 ? 2 : -2) * term
        if term < 1e-12 { break }
    }
    return min(max(sum, 0), 1)
}

/// P(a, x) = γ(a, x) / Γ(a): the series below a + 1, the continued fraction (Lentz) above.
func regularizedLowerGamma(_ a: Double, _ x: Double) -> Double {
    guard x > 0 else { return 0 }
    let logPrefix = a * log(x) - x - lgamma(a)
    if x < a + 1 {
        var term = 1 / a, sum = term, n = a
        for _ in 0..<1000 {
            n += 1
            term *= x / n
            sum += term
            if abs(term) < abs(sum) * 1e-15 { break }
        }
        return min(1, sum * exp(logPrefix))
    }
    let tiny = 1e-300
    var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
    for i in 1...1000 {
        let an = -Double(i) * (Double(i) - a)
        b += 2
        d = an * d + b
        if abs(d) < tiny { d = tiny }
        c = b + an / c
        if abs(c) < tiny { c = tiny }
        d = 1 / d
        let delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15 { break }
    }
    return max(0, 1 - exp(logPrefix) * h)
}

/// ψ(x) for x > 0: recurrence up to 6, then the asymptotic series.
func digamma(_ x: Double) -> Double {
    var x = x, result = 0.0
    while x < 6 { result -= 1 / x; x += 1 }
    let f = 1 / (x * x)
    return result + log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))))
}

/// ψ′(x) for x > 0, the same way (recurrence up to 10: its series converges more slowly).
func trigamma(_ x: Double) -> Double {
    var x = x, result = 0.0
    while x < 10 { result += 1 / (x * x); x += 1 }
    let f = 1 / (x * x)
    return result + 1 / x + f / 2 + (1 / (x * x * x)) * (1.0 / 6 - f * (1.0 / 30 - f * (1.0 / 42 - f / 30)))
}
