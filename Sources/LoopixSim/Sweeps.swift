// The parameter sweeps behind the paper's entropy figure (Figure 5 in the USENIX Security
// version, Figure 4 in arXiv v1) and epsilon figures (Figures 6-8; arXiv v1 Figures 5-7), run
// as independent (point, repetition) jobs on all cores.
import Foundation
import LoopixRandom

public struct EntropyPointResult: Sendable, Codable {
    public var config: MixEntropyConfig
    public var reps: Int
    public var meanBits: Double
    /// Standard deviation across repetitions.
    public var sdBits: Double
    public var meanRealBits: Double
    public var meanLinkProbability: Double
    public var meanPoolSize: Double
    public var sdPoolSize: Double
    public var largePoolApproxBits: Double
}

public struct EpsilonPointResult: Sendable, Codable {
    public var config: UnlinkabilityConfig
    public var summary: EpsilonSummary
    public var meanLabelledSent: Double
    public var meanFinalPool: Double
    public var events: Int
}

public enum PaperSweeps {
    // Figure 5 (entropy): lambda 100..500, curves for mu in {200, 20, 2, 0.2, 0.02}.
    public static let entropyLambdas: [Double] = stride(from: 100.0, through: 500.0, by: 50.0).map { $0 }
    public static let entropyMus: [Double] = [200, 20, 2, 0.2, 0.02]
    // Extension for Theorem 2: entropy versus the mix loop rate at lambda = 100, mu = 2.
    public static let loopSweepLambda = 100.0
    public static let loopSweepMu = 2.0
    public static let loopSweepRates: [Double] = [0, 1, 2, 5, 10, 20, 50, 100, 200]
    // (n-1) attack with loops: mu = 1, lambda_M / mu from 0.25 to 20.
    public static let nMinusOneMu = 1.0
    public static let nMinusOneLoopRates: [Double] = [0.25, 0.5, 1, 2, 5, 10, 20]
    // Figure 6: epsilon versus mu (lambda = 2, 3 layers of 3, no corruption).
    public static let epsilonMus: [Double] = stride(from: 0.2, through: 2.0001, by: 0.2).map { ($0 * 10).rounded() / 10 }
    // Figure 7: epsilon versus layers (3 per layer, lambda = 2, mu = 1).
    public static let epsilonLayers: [Int] = Array(1...19)
    // Figure 8: epsilon versus the fraction of corrupt mixes (3 x 3, lambda = 2, mu = 1).
    public static let epsilonCorrupt: [Double] = stride(from: 0.0, through: 1.0001, by: 0.1).map { ($0 * 10).rounded() / 10 }

    /// Every (point, repetition) job of the entropy simulation, in parallel (see `repetitions`).
    public static func entropy(_ points: [MixEntropyConfig], reps: Int, seed: UInt64,
                               commonSeeds: Bool = false) -> [EntropyPointResult] {
        let runs = repetitions(of: points, reps: reps, seed: seed, commonSeeds: commonSeeds) { PoissonMixEntropy.run($0, seed: $1) }
        return points.enumerated().map { i, c in
            let rs = runs[i]
            return EntropyPointResult(
                config: c, reps: reps,
                meanBits: Stats.mean(rs.map(\.meanEntropyBits)),
                sdBits: Stats.sd(rs.map(\.meanEntropyBits)),
                meanRealBits: Stats.mean(rs.map(\.meanEntropyRealBits)),
                meanLinkProbability: Stats.mean(rs.map(\.meanLinkProbabilityReal)),
                meanPoolSize: Stats.mean(rs.map(\.meanPoolSize)), sdPoolSize: Stats.sd(rs.map(\.meanPoolSize)),
                largePoolApproxBits: PoissonMixEntropy.largePoolApproximation(lambda: c.lambda, mu: c.mu))
        }
    }

    /// Every (point, repetition) job of the unlinkability simulation, in parallel (see `repetitions`).
    public static func epsilon(_ configs: [UnlinkabilityConfig], reps: Int, seed: UInt64,
                               cap: Double, commonSeeds: Bool = false) -> [EpsilonPointResult] {
        let runs = repetitions(of: configs, reps: reps, seed: seed, commonSeeds: commonSeeds) { UnlinkabilitySimulation.run($0, seed: $1) }
        return configs.enumerated().map { i, c in
            let rs = runs[i]
            return EpsilonPointResult(
                config: c, summary: EpsilonSummary(rs.map(\.epsilon), cap: cap),
                meanLabelledSent: Stats.mean(rs.map { Double($0.labelledSent) }),
                meanFinalPool: Stats.mean(rs.map { Double($0.finalPool) }),
                events: rs.reduce(0) { $0 + $1.events })
        }
    }

    /// `run(point, seed)` for every (point, repetition) job in parallel, grouped by point. With
    /// `commonSeeds`, repetition r uses the same seed at every point (common random numbers, for
    /// comparing points); otherwise each point has its own seeds.
    static func repetitions<Point: Sendable, Run: Sendable>(
        of points: [Point], reps: Int, seed: UInt64, commonSeeds: Bool, _ run: @escaping @Sendable (Point, UInt64) -> Run
    ) -> [[Run]] {
        let runs = Parallel.map(points.count * reps) { job in
            run(points[job / reps], deriveSeed(seed, commonSeeds ? 0 : job / reps, job % reps))
        }
        return points.indices.map { i in Array(runs[(i * reps)..<((i + 1) * reps)]) }
    }

    public static func nMinusOne(mu: Double, loopRates: [Double], trials: Int, seed: UInt64) -> [NMinusOneResult] {
        // Split each point's trials into chunks so both cores are busy.
        let chunks = 8
        let per = (trials + chunks - 1) / chunks
        let runs = Parallel.map(loopRates.count * chunks) { job in
            NMinusOneAttack.run(mu: mu, loopRate: loopRates[job / chunks], trials: per,
                                seed: deriveSeed(seed, job / chunks, job % chunks))
        }
        return loopRates.indices.map { i in
            let rs = runs[(i * chunks)..<((i + 1) * chunks)]
            var positions = [Int]()
            for r in rs {
                if r.positionCounts.count > positions.count {
                    positions += Array(repeating: 0, count: r.positionCounts.count - positions.count)
                }
                for (j, c) in r.positionCounts.enumerated() { positions[j] += c }
            }
            let total = rs.reduce(0) { $0 + $1.trials }
            return NMinusOneResult(
                mu: mu, loopRate: loopRates[i], trials: total,
                firstIsTarget: rs.reduce(0) { $0 + $1.firstIsTarget },
                positionCounts: positions,
                meanTimingEntropyBits: rs.reduce(0) { $0 + $1.meanTimingEntropyBits * Double($1.trials) } / Double(total))
        }
    }

    // MARK: CSV tables

    public static func entropyTable(_ results: [EntropyPointResult]) -> CSVTable {
        var t = CSVTable(header: ["lambda", "mu", "loop_rate", "lambda_over_mu", "reps", "entropy_mean_bits",
                                  "entropy_sd_bits", "entropy_real_mean_bits", "link_prob_real", "anonymity_set",
                                  "pool_mean", "large_pool_approx_bits"])
        for r in results {
            t.append([fmt(r.config.lambda), fmt(r.config.mu), fmt(r.config.loopRate),
                      fmt(r.config.lambda / r.config.mu), fmt(r.reps), fmt(r.meanBits), fmt(r.sdBits),
                      fmt(r.meanRealBits), fmt(r.meanLinkProbability), fmt(1 / r.meanLinkProbability),
                      fmt(r.meanPoolSize), fmt(r.largePoolApproxBits)])
        }
        return t
    }

    public static func epsilonTable(_ results: [EpsilonPointResult]) -> CSVTable {
        var t = CSVTable(header: ["users", "rate", "challenge_payload_rate", "mu", "lambda_over_mu", "layers",
                                  "width", "corrupt_fraction", "corrupt_mixes", "burn_in", "window", "reps",
                                  "defined", "infinite", "eps_mean", "eps_sd", "eps_ci95", "eps_median", "eps_q25", "eps_q75",
                                  "eps_mean_finite", "eps_cap", "labelled_sent_mean", "final_pool_mean"])
        for r in results {
            let c = r.config, s = r.summary
            t.append([fmt(c.users), fmt(c.rate), fmt(c.challengePayloadRate), fmt(c.mu), fmt(c.rate / c.mu),
                      fmt(c.layers), fmt(c.width), fmt(c.corruptFraction), fmt(c.corruptMixes), fmt(c.burnIn),
                      fmt(c.window), fmt(s.reps), fmt(s.defined), fmt(s.infinite), fmt(s.mean), fmt(s.sd), fmt(s.ci95),
                      fmt(s.median), fmt(s.q25), fmt(s.q75), fmt(s.meanFinite), fmt(s.cap),
                      fmt(r.meanLabelledSent), fmt(r.meanFinalPool)])
        }
        return t
    }

    public static func nMinusOneTable(_ results: [NMinusOneResult]) -> CSVTable {
        var t = CSVTable(header: ["mu", "loop_rate", "trials", "p_first_sim", "p_first_theory", "p_first_se",
                                  "position_entropy_sim_bits", "position_entropy_theory_bits",
                                  "timing_entropy_sim_bits"])
        for r in results {
            let se = (r.theoryPFirst * (1 - r.theoryPFirst) / Double(r.trials)).squareRoot()
            t.append([fmt(r.mu), fmt(r.loopRate), fmt(r.trials), fmt(r.pFirst), fmt(r.theoryPFirst), fmt(se),
                      fmt(r.empiricalPositionEntropyBits), fmt(r.theoryPositionEntropyBits),
                      fmt(r.meanTimingEntropyBits)])
        }
        return t
    }

    // MARK: Theorem checks as a table

    public static let theoremScenarios: [PoolScenario] = [
        PoolScenario(n: 6, k: 3, l: 4, arrivalRate: 20, mu: 1),
        PoolScenario(n: 4, k: 4, l: 0, arrivalRate: 20, mu: 1),
        PoolScenario(n: 8, k: 2, l: 2, arrivalRate: 20, mu: 1),
        PoolScenario(n: 6, k: 3, l: 4, arrivalRate: 20, mu: 1, loopRate: 3),
        PoolScenario(n: 1, k: 1, l: 0, arrivalRate: 20, mu: 1, loopRate: 1),
        PoolScenario(n: 5, k: 2, l: 3, arrivalRate: 20, mu: 0.5, loopRate: 5),
    ]

    public static func theoremTable(_ scenarios: [PoolScenario], accepted: Int, seed: UInt64) -> CSVTable {
        let counts = Parallel.map(scenarios.count) { i in
            PoolTheoremCheck.run(scenarios[i], accepted: accepted, seed: deriveSeed(seed, i))
        }
        var t = CSVTable(header: ["n", "k", "l", "mu", "loop_rate", "accepted", "freq_original_min",
                                  "freq_original_max", "theory_original", "freq_late_min", "freq_late_max",
                                  "theory_late", "freq_loop", "theory_loop", "max_abs_z"])
        for (s, c) in zip(scenarios, counts) {
            let fo = (0..<s.n).map { c.frequency(original: $0) }
            let fl = (0..<s.l).map { c.frequency(late: $0) }
            var z = fo.map { abs($0 - s.theoryOriginal) / max(c.standardError(s.theoryOriginal), 1e-300) }
            z += fl.map { abs($0 - s.theoryLate) / c.standardError(s.theoryLate) }
            if s.loopRate > 0 { z.append(abs(c.loopFrequency - s.theoryLoop) / c.standardError(s.theoryLoop)) }
            t.append([fmt(s.n), fmt(s.k), fmt(s.l), fmt(s.mu), fmt(s.loopRate), fmt(c.accepted),
                      fmt(fo.min() ?? .nan), fmt(fo.max() ?? .nan), fmt(s.theoryOriginal),
                      fmt(fl.min() ?? .nan), fmt(fl.max() ?? .nan), fmt(s.theoryLate),
                      fmt(c.loopFrequency), fmt(s.theoryLoop), fmt(z.max() ?? 0, 3)])
        }
        return t
    }
}
