// The incremental entropy of Appendix A.1 and the single-mix simulation.
import Foundation
import LoopixRandom
import Testing
@testable import LoopixSim

@Suite("Entropy of a Poisson mix")
struct EntropyTests {
    @Test("Appendix A.1 merge formula equals the entropy of the explicitly tracked distribution")
    func incrementalMatchesExplicit() {
        // A random sequence of arrivals and departures in a pool mix. Explicitly:
        // a vector of masses over input identities (arrival adds a unit vector,
        // departure emits mass/n and scales by (n-1)/n). Incrementally: (old
        // count, entropy, fresh) as in the simulation. They must agree exactly.
        var rng = Xoshiro256(seed: 31)
        var mass = [Double]()
        var n = 0
        var oldCount = 0, oldEntropy = 0.0, fresh = 0
        var checked = 0
        for _ in 0..<3000 {
            if n == 0 || rng.openUnitInterval() < 0.52 {
                mass.append(1)
                n += 1
                fresh += 1
            } else {
                let explicit = Entropy.shannon(mass.map { $0 / Double(n) })
                let incremental = Entropy.merged(old: Double(oldCount), oldEntropy: oldEntropy, fresh: fresh)
                #expect(abs(explicit - incremental) < 1e-9, "step \(checked): \(explicit) vs \(incremental)")
                checked += 1
                let f = Double(n - 1) / Double(n)
                mass = mass.map { $0 * f }
                n -= 1
                oldCount = n
                oldEntropy = n > 0 ? incremental : 0
                fresh = 0
            }
        }
        #expect(checked > 1000)
    }

    @Test("Large-pool entropy is close to log2(lambda/mu) + log2(e)")
    func largePool() {
        // For a pool of mean size N = lambda/mu the outgoing message's age is
        // ~Exp(mu) over lambda inputs per unit time, entropy log2(N) + log2(e);
        // the finite-N and Poisson-fluctuation corrections are O(1/N), well
        // under 0.05 bits at N = 200.
        let r = PoissonMixEntropy.run(MixEntropyConfig(lambda: 200, mu: 1), seed: 32)
        let approx = PoissonMixEntropy.largePoolApproximation(lambda: 200, mu: 1)
        #expect(abs(r.meanEntropyBits - approx) < 0.05, "\(r.meanEntropyBits) vs \(approx)")
        #expect(abs(r.meanPoolSize - 200) < 10)
    }

    @Test("Entropy grows with lambda and with the mean delay; loops lower the link probability")
    func trends() {
        func run(_ l: Double, _ m: Double, _ lm: Double = 0) -> MixEntropyResult {
            PoissonMixEntropy.run(MixEntropyConfig(lambda: l, mu: m, loopRate: lm, minMeasuredOutputs: 3000),
                                  seed: 33)
        }
        #expect(run(100, 2).meanEntropyBits < run(400, 2).meanEntropyBits)
        #expect(run(100, 2).meanEntropyBits < run(100, 0.5).meanEntropyBits)
        let a = run(20, 2), b = run(20, 2, 5), c = run(20, 2, 20)
        #expect(a.meanLinkProbabilityReal > b.meanLinkProbabilityReal)
        #expect(b.meanLinkProbabilityReal > c.meanLinkProbabilityReal)
    }

    @Test("Without loops the mean link probability is the collision sum of the pool")
    func linkProbability() {
        // A pool of one message is linked with certainty; a large pool of N has
        // link probability about 1/(2N) (ages ~ Exp(mu): sum of squared weights).
        let r = PoissonMixEntropy.run(MixEntropyConfig(lambda: 200, mu: 1), seed: 35)
        #expect(abs(r.meanLinkProbabilityReal * 2 * 200 - 1) < 0.05)
    }

    @Test("Reproducible for a fixed seed")
    func deterministic() {
        let c = MixEntropyConfig(lambda: 50, mu: 1, loopRate: 5, minMeasuredOutputs: 1000)
        let a = PoissonMixEntropy.run(c, seed: 34), b = PoissonMixEntropy.run(c, seed: 34)
        #expect(a.meanEntropyBits == b.meanEntropyBits && a.outputs == b.outputs)
    }
}

// The draws themselves are tested in LoopixRandomTests.
@Suite("Simulation helpers")
struct HelperTests {
    @Test("parallel results are in order")
    func seedsAndParallel() {
        let xs = Parallel.map(100) { i in i * i }
        #expect(xs == (0..<100).map { $0 * $0 })
    }

    @Test("Erlang quantile inverts the CDF")
    func erlang() {
        #expect(abs(Erlang.quantile(k: 1, q: 0.95) - (-Foundation.log(0.05))) < 1e-9)
        for k in [1, 3, 5] {
            let x = Erlang.quantile(k: k, q: 0.9)
            #expect(abs(Erlang.cdf(k: k, x: x) - 0.9) < 1e-9)
        }
        #expect(abs(Erlang.quantile(k: 3, q: 0.5) - 2.67406) < 1e-4)
    }
}
