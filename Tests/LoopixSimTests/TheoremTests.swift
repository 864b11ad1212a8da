// Numerical checks of the paper's Theorems 1 and 2 with real exponential
// delays and message identities. Every run uses a fixed seed, so the outcome
// is deterministic; the tolerances are what a correct implementation must
// meet for almost every seed: a frequency estimated from N trials with true
// probability p has standard error sqrt(p (1 - p) / N), and each check allows
// 4.5 standard errors (two-sided probability about 7e-6 per check).
import Foundation
import Testing
@testable import LoopixSim

private let z = 4.5

@Suite("Theorem 1: memoryless pool")
struct Theorem1Tests {
    @Test("o_{6,3,4}: every earlier message k/(n(l+k)), every later one 1/(l+k)")
    func scenario634() {
        let s = PoolScenario(n: 6, k: 3, l: 4, arrivalRate: 20, mu: 1)
        let c = PoolTheoremCheck.run(s, accepted: 20000, seed: 11)
        #expect(abs(s.theoryOriginal - 3.0 / (6.0 * 7.0)) < 1e-15)
        #expect(abs(s.theoryLate - 1.0 / 7.0) < 1e-15)
        for i in 0..<s.n {
            #expect(abs(c.frequency(original: i) - s.theoryOriginal) <= z * c.standardError(s.theoryOriginal),
                    "original \(i): \(c.frequency(original: i)) vs \(s.theoryOriginal)")
        }
        for j in 0..<s.l {
            #expect(abs(c.frequency(late: j) - s.theoryLate) <= z * c.standardError(s.theoryLate),
                    "late \(j): \(c.frequency(late: j)) vs \(s.theoryLate)")
        }
        #expect(c.loops == 0)
        // Aggregate: the next output is one of the earlier n with probability k/(l+k).
        let pAll = Double(s.k) / Double(s.k + s.l)
        let fAll = Double(c.original.reduce(0, +)) / Double(c.accepted)
        #expect(abs(fAll - pAll) <= z * c.standardError(pAll))
    }

    @Test("o_{8,2,2}: the departed messages' identities stay hidden")
    func scenario822() {
        // Only 2 of the first 8 are still inside, but the adversary cannot tell
        // which: each of the 8 is the next output with probability 2/(8*4).
        let s = PoolScenario(n: 8, k: 2, l: 2, arrivalRate: 20, mu: 1)
        let c = PoolTheoremCheck.run(s, accepted: 20000, seed: 12)
        for i in 0..<s.n {
            #expect(abs(c.frequency(original: i) - 1.0 / 16.0) <= z * c.standardError(1.0 / 16.0))
        }
        for j in 0..<s.l {
            #expect(abs(c.frequency(late: j) - 0.25) <= z * c.standardError(0.25))
        }
    }

    @Test("Pool propagation is calibrated over a long trace")
    func calibration() {
        // Beliefs w_i = mass_i / n with masses scaled by (n-1)/n at each departure:
        // E[w_true] = E[sum w_i^2]; the differences are martingale differences, so
        // their mean has standard error sd / sqrt(N).
        let cal = PoolCalibrationCheck.run(lambda: 5, mu: 1, departures: 20000, seed: 13)
        #expect(abs(cal.meanDifference) <= z * cal.standardErrorOfMeanDifference,
                "mean difference \(cal.meanDifference), s.e. \(cal.standardErrorOfMeanDifference)")
        // Per band of predicted probability: hits minus predicted hits has
        // standard deviation sqrt(sum w (1 - w)); allow z of it plus 1 for discreteness.
        for b in 0..<cal.observed.count {
            #expect(abs(cal.observed[b] - cal.predicted[b]) <= z * cal.variance[b].squareRoot() + 1,
                    "band \(b): observed \(cal.observed[b]) predicted \(cal.predicted[b])")
        }
    }
}

@Suite("Theorem 2: the mix's own loops")
struct Theorem2Tests {
    @Test("o_{6,3,4} with lambda_M = 3: probabilities scaled by (l+k)mu/((l+k)mu + lambda_M)")
    func scenarioWithLoops() {
        let s = PoolScenario(n: 6, k: 3, l: 4, arrivalRate: 20, mu: 1, loopRate: 3)
        let c = PoolTheoremCheck.run(s, accepted: 20000, seed: 21)
        #expect(abs(s.theoryLate - 0.1) < 1e-15)          // mu / (7 mu + 3)
        #expect(abs(s.theoryOriginal - 0.05) < 1e-15)     // (3/6) mu / (7 mu + 3)
        #expect(abs(s.theoryLoop - 0.3) < 1e-15)
        for i in 0..<s.n {
            #expect(abs(c.frequency(original: i) - s.theoryOriginal) <= z * c.standardError(s.theoryOriginal))
        }
        for j in 0..<s.l {
            #expect(abs(c.frequency(late: j) - s.theoryLate) <= z * c.standardError(s.theoryLate))
        }
        #expect(abs(c.loopFrequency - s.theoryLoop) <= z * c.standardError(s.theoryLoop))
    }

    @Test("(n-1) attack: first output is the target with probability mu/(mu + lambda_M)")
    func nMinusOneFirstOutput() {
        for (mu, lm) in [(1.0, 1.0), (0.5, 2.0), (2.0, 10.0)] {
            let r = NMinusOneAttack.run(mu: mu, loopRate: lm, trials: 20000, seed: 22, timing: false)
            let p = mu / (mu + lm)
            let se = (p * (1 - p) / Double(r.trials)).squareRoot()
            #expect(abs(r.pFirst - p) <= z * se, "mu \(mu) lambda_M \(lm): \(r.pFirst) vs \(p)")
        }
    }

    @Test("(n-1) attack: entropy of the target's output position equals h2(p)/p")
    func nMinusOneEntropy() {
        // The position J is geometric(p). The plug-in entropy of N samples has
        // standard error sd(-log2 P(J)) / sqrt(N), with Var(-log2 P(J)) =
        // (1-p)/p^2 * log2(1-p)^2, and a downward bias of about (K-1)/(2 N ln 2)
        // for K observed values, which is added to the tolerance.
        for (mu, lm) in [(1.0, 1.0), (1.0, 5.0)] {
            let r = NMinusOneAttack.run(mu: mu, loopRate: lm, trials: 20000, seed: 23, timing: false)
            let p = mu / (mu + lm)
            let theory = Entropy.geometric(p: p)
            let sd = ((1 - p) / (p * p)).squareRoot() * abs(Foundation.log2(1 - p))
            let se = sd / Double(r.trials).squareRoot()
            let bias = Double(r.positionCounts.count - 1) / (2 * Double(r.trials) * Foundation.log(2))
            #expect(abs(r.empiricalPositionEntropyBits - theory) <= z * se + bias,
                    "lambda_M \(lm): \(r.empiricalPositionEntropyBits) vs \(theory)")
        }
        #expect(abs(Entropy.geometric(p: 0.5) - 2) < 1e-12)
    }

    @Test("The timing-aware (n-1) adversary does at least as well as the order-only one")
    func timingAdversary() {
        let r = NMinusOneAttack.run(mu: 1, loopRate: 2, trials: 3000, seed: 24, timing: true)
        #expect(r.meanTimingEntropyBits > 0)
        #expect(r.meanTimingEntropyBits < r.theoryPositionEntropyBits)
    }
}
