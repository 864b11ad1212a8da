import Foundation
import LoopixMetrics
import LoopixRandom
import LoopixSim
import Testing
@testable import LoopixBench

@Suite("Benchmark statistics")
struct StatisticsTests {
    @Test("quantiles interpolate between order statistics")
    func quantiles() {
        let v = [1.0, 2, 3, 4, 5]
        #expect(Stats.quantile(v.reversed(), 0.5) == 3)
        #expect(Stats.quantile(v, 0.25) == 2)
        #expect(abs(Stats.quantile(v, 0.99) - 4.96) < 1e-12)
        #expect(Stats.quantile([], 0.5).isNaN)
        // Summaries come from HdrHistogram: three significant digits.
        let s = Summary(seconds: [5, 1, 3])
        #expect(s.count == 3 && abs(s.min - 1) < 1e-3 && abs(s.max - 5) < 5e-3 && abs(s.p50 - 3) < 3e-3 && abs(s.mean - 3) < 3e-3)
    }

    @Test("a histogram counts each value once and leaves out the ones outside")
    func histogram() {
        let bins = Statistics.histogram([0, 0.5, 1, 1.5, 2, 9], bins: 2, lower: 0, upper: 2)
        #expect(bins.map(\.count) == [2, 2])
        #expect(bins[1].lower == 1 && bins[1].upper == 2)
    }

    @Test("the regularised incomplete gamma matches closed forms")
    func incompleteGamma() {
        for x in [0.1, 1, 3, 10] {
            #expect(abs(regularizedLowerGamma(1, x) - (1 - exp(-x))) < 1e-12)
            // shape 2: 1 − e^{−x}(1 + x)
            #expect(abs(regularizedLowerGamma(2, x) - (1 - exp(-x) * (1 + x))) < 1e-12)
        }
        #expect(abs(digamma(1) + 0.5772156649015329) < 1e-10)
        #expect(abs(trigamma(1) - Double.pi * Double.pi / 6) < 1e-10)
    }

    @Test("Gamma fits recover the parameters of a sum of exponentials; KS tells right from wrong")
    func gammaFit() {
        var random = SplitMix64(seed: 42)
        let values = (0..<4000).map { _ in (0..<5).reduce(0.0) { s, _ in s + random.exponential(rate: 20) } }
        let mle = GammaDistribution.fitMaximumLikelihood(values)!
        let moments = GammaDistribution.fitMoments(values)!
        #expect(abs(mle.shape - 5) < 0.4 && abs(mle.scale - 0.05) < 0.005)
        #expect(abs(moments.shape - 5) < 0.5)
        let right = kolmogorovSmirnov(values) { GammaDistribution(shape: 5, scale: 0.05).cdf($0) }
        let wrong = kolmogorovSmirnov(values) { GammaDistribution(shape: 3, scale: 0.05).cdf($0) }
        #expect(right < 0.03 && wrong > 0.2)
        #expect(kolmogorovSmirnovPValue(right, count: values.count) > 0.01)
        #expect(kolmogorovSmirnovPValue(wrong, count: values.count) < 1e-6)
        // Adding a uniform wait moves the CDF right by about half the wait.
        let g = GammaDistribution(shape: 5, scale: 0.05)
        #expect(gammaPlusUniformCDF(g, wait: 0.1, at: g.mean + 0.05) < g.cdf(g.mean + 0.05))
        #expect(abs(gammaPlusUniformCDF(g, wait: 0, at: 0.2) - g.cdf(0.2)) < 1e-15)
    }

    @Test("bucket histograms give interpolated quantiles and fractions above a bound")
    func buckets() {
        var samples: [String: Double] = [:]
        for (le, c) in [("0.001", 50.0), ("0.002", 90), ("0.005", 100), ("+Inf", 100)] {
            samples["loopix_crypto_sojourn_seconds_bucket{le=\"\(le)\"}"] = c
        }
        samples["loopix_crypto_sojourn_seconds_count"] = 100
        let h = BucketHistogram(samples: samples, name: "loopix_crypto_sojourn_seconds")
        #expect(h.count == 100)
        #expect(abs(h.quantile(0.5)! - 0.001) < 1e-12)
        #expect(abs(h.quantile(0.7)! - 0.0015) < 1e-12)
        #expect(abs(h.fractionAbove(0.002)! - 0.1) < 1e-12)
        // Between bounds, linear inside the bucket; beyond the last finite bound, unknown.
        #expect(abs(h.fractionAbove(0.0035)! - 0.05) < 1e-12)
        #expect(h.fractionAbove(0.01) == nil)
        let earlier = BucketHistogram(bounds: h.bounds, cumulative: [50, 50, 50, 50])
        #expect(h.subtracting(earlier).count == 50)
    }

    @Test("/proc lines are parsed after the command name, which may hold spaces")
    func procParsing() {
        let stat = "1234 (loopix mix) S 1 2 3 4 5 6 7 8 9 10 300 100 0 0 20 0 5"
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        #expect(ProcessProbe.cpuSeconds(statLine: stat) == 400 / ticks)
        #expect(ProcessProbe.residentBytes(status: "Name:\tx\nVmRSS:\t   2048 kB\n") == 2048 * 1024)
        #expect(ProcessProbe.cpuSeconds(pid: getpid()) != nil)
    }
}
