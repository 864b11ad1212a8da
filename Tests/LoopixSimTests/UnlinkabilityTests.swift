// The end-to-end unlinkability simulation and the advisor.
import Foundation
import LoopixRandom
import Testing
@testable import LoopixSim

private func smallConfig(mu: Double = 1, layers: Int = 2, corrupt: Double = 0) -> UnlinkabilityConfig {
    var c = UnlinkabilityConfig()
    c.users = 20
    c.mu = mu
    c.layers = layers
    c.width = 2
    c.corruptFraction = corrupt
    c.burnIn = 20
    c.window = 40
    return c
}

@Suite("Unlinkability epsilon")
struct UnlinkabilityTests {
    @Test("Label mass is conserved through honest and corrupt mixes")
    func massConservation() {
        for f in [0.0, 0.5, 1.0] {
            let r = UnlinkabilitySimulation.run(smallConfig(corrupt: f), seed: 51)
            #expect(r.labelledSent > 0)
            #expect(abs(r.labelMassAccounted - Double(r.labelledSent)) < 1e-6,
                    "corrupt \(f): \(r.labelMassAccounted) vs \(r.labelledSent)")
        }
    }

    @Test("With every mix corrupt the final pool's label masses are message counts")
    func allCorrupt() {
        for seed in UInt64(52)..<UInt64(60) {
            let r = UnlinkabilitySimulation.run(smallConfig(corrupt: 1), seed: seed)
            let n0 = r.p0 * Double(r.finalPool), n1 = r.p1 * Double(r.finalPool)
            #expect(abs(n0 - n0.rounded()) < 1e-9 && abs(n1 - n1.rounded()) < 1e-9)
        }
    }

    @Test("epsilon falls as lambda/mu grows (the paper's Figure 6 trend)")
    func delayTrend() {
        let r = PaperSweeps.epsilon([smallConfig(mu: 2), smallConfig(mu: 0.25)], reps: 24, seed: 53, cap: 10)
        let short = r[0].summary, long = r[1].summary
        #expect(long.mean < short.mean, "mu 2: \(short.mean), mu 0.25: \(long.mean)")
        // Separation well beyond the standard errors of the two means.
        let se = (short.sd * short.sd / 24 + long.sd * long.sd / 24).squareRoot()
        #expect(short.mean - long.mean > 3 * se)
    }

    @Test("Corrupt mixes raise epsilon (the paper's Figure 8 trend)")
    func corruptionTrend() {
        let r = PaperSweeps.epsilon([smallConfig(), smallConfig(corrupt: 0.75)], reps: 24, seed: 54, cap: 10)
        #expect(r[1].summary.mean > r[0].summary.mean)
    }

    @Test("Reproducible for a fixed seed, independent of threads")
    func deterministic() {
        let c = smallConfig()
        let a = PaperSweeps.epsilon([c], reps: 6, seed: 55, cap: 10)[0]
        let direct = (0..<6).map { UnlinkabilitySimulation.run(c, seed: deriveSeed(55, 0, $0)).epsilon }
        #expect(a.summary.mean == EpsilonSummary(direct, cap: 10).mean)
    }

    @Test("EpsilonSummary counts infinite and undefined runs")
    func summary() {
        let s = EpsilonSummary([0.5, .infinity, .nan, 1.5], cap: 10)
        #expect(s.reps == 4 && s.defined == 3 && s.infinite == 1)
        #expect(abs(s.mean - 4) < 1e-12)       // (0.5 + 10 + 1.5) / 3
        #expect(s.median == 1.5)
        #expect(s.meanFinite == 1.0)
    }
}

@Suite("Epsilon and the instant it is read")
struct ReadingInstantTests {
    /// epsilon at windows of 100 and 100.5 time units, the same seeds for both (common random numbers).
    func atTwoInstants(_ c: UnlinkabilityConfig, reps: Int, seed: UInt64) -> (EpsilonSummary, EpsilonSummary) {
        var later = c
        later.window += 0.5
        let r = PaperSweeps.epsilon([c, later], reps: reps, seed: seed, cap: 10, commonSeeds: true)
        return (r[0].summary, r[1].summary)
    }

    @Test("at the paper's settings epsilon moves by less than its 95 % CI between two reading instants")
    func paperSettings() {
        // 100 senders at lambda 2, mu 1, 3 x 3 mixes, a payload per time unit, the 100-unit window;
        // a burn-in of 10 after the stationary start, as the advisor uses, to keep the test short.
        var c = UnlinkabilityConfig()
        c.burnIn = 10
        let (a, b) = atTwoInstants(c, reps: 40, seed: 71)
        #expect(abs(a.mean - b.mean) <= min(a.ci95, b.ci95), "\(a.mean) ± \(a.ci95) vs \(b.mean) ± \(b.ci95)")
    }

    @Test("at low latency, read at one fixed instant epsilon moves far beyond its CI; averaged over the period it does not")
    func lowLatency() {
        // The setting scaled down: mean path delay 3/6.3 of the payload period.
        var c = UnlinkabilityConfig()
        c.users = 20; c.rate = 16; c.mu = 6.296; c.burnIn = 5; c.window = 20
        c.randomReadingInstant = false
        let (fixedA, fixedB) = atTwoInstants(c, reps: 100, seed: 72)
        #expect(abs(fixedA.mean - fixedB.mean) > 2 * max(fixedA.ci95, fixedB.ci95),
                "fixed instant: \(fixedA.mean) ± \(fixedA.ci95) vs \(fixedB.mean) ± \(fixedB.ci95)")
        c.randomReadingInstant = true
        let (a, b) = atTwoInstants(c, reps: 100, seed: 72)
        #expect(abs(a.mean - b.mean) <= min(a.ci95, b.ci95), "\(a.mean) ± \(a.ci95) vs \(b.mean) ± \(b.ci95)")
    }
}

@Suite("Advisor")
struct AdvisorTests {
    @Test("with a pull interval, the latency is Erlang plus a uniform wait, and mu* puts its quantile on the budget")
    func pullWait() {
        // Monte Carlo of Erlang(5, 9) + U(0, 0.05) against the numerical CDF at three points.
        var g = Xoshiro256(seed: 81)
        let draws = (0..<40_000).map { _ in
            (0..<5).reduce(0.0) { s, _ in s + g.exponential(rate: 9) } + 0.05 * g.openUnitInterval()
        }
        for x in [0.4, 0.6, 1.0] {
            let empirical = Double(draws.filter { $0 <= x }.count) / Double(draws.count)
            let p = Erlang.cdfPlusUniform(k: 5, rate: 9, wait: 0.05, x: x)
            #expect(abs(empirical - p) < 4.5 * (p * (1 - p) / Double(draws.count)).squareRoot() + 1e-4, "x \(x): \(empirical) vs \(p)")
        }
        var input = AdvisorInput()
        input.latencyBudget = 1
        input.pullInterval = 0.05
        let mu = Advisor.muForBudget(input)
        #expect(abs(Erlang.quantilePlusUniform(k: 5, rate: mu, wait: 0.05, q: 0.95) - 1) < 1e-6)
        input.pullInterval = 0
        #expect(mu > Advisor.muForBudget(input))
        input.latencyQuantile = nil
        input.pullInterval = 0.2
        #expect(abs(5 / Advisor.muForBudget(input) + 0.1 - 1) < 1e-12)
    }

    @Test("mu* fits the latency budget and the recommended rate is the smallest meeting an entropy target")
    func entropyTarget() {
        var input = AdvisorInput()
        input.users = 100
        input.payloadRate = 0.5
        input.maxUserRate = 8
        input.layers = 3
        input.width = 2
        input.latencyBudget = 6
        input.latencyQuantile = 0.95
        input.targetEntropyBits = 9
        input.gridRates = 4
        input.gridMus = [1]
        let report = Advisor.advise(input)
        // Five hops hold a message: the two providers and one mix in each of the three layers.
        #expect(input.pathHops == 5)
        let k = Erlang.quantile(k: 5, q: 0.95)
        #expect(abs(report.muStar - k / 6) < 1e-9)
        #expect(report.tradeoff.allSatisfy { $0.meetsLatency })
        let rec = try! #require(report.recommended)
        #expect(rec.entropyBits >= 9)
        #expect(rec.userRate > input.payloadRate && rec.userRate <= input.maxUserRate)
        // The next lower grid rate misses the target.
        let lower = report.tradeoff.filter { $0.userRate < rec.userRate }
        #expect(lower.allSatisfy { !$0.meetsTarget })
        #expect(abs(report.nMinusOneLinkProbability - 0.5) < 1e-12)
    }
}
