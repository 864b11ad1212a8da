// The runs behind `loopix simulate sweep`: the paper's entropy figure (Figure 5) with its
// Theorem 2 extensions, and the three epsilon figures (6, 7, 8), which differ only in the
// parameter they vary.
import Foundation
import LoopixRandom

/// One figure's run: its results, their CSV table, its headline numbers and how long it took.
public struct FigureRun<Result: Sendable>: Sendable {
    public var results: [Result]
    public var table: CSVTable
    public var headline: [String: String]
    public var seconds: Double
}

/// An epsilon figure: the parameter it varies over the paper's 3 × 3 network (λ = 2, µ = 1).
public enum EpsilonFigure: String, CaseIterable, Sendable {
    case mu = "fig6", layers = "fig7", corrupt = "fig8"

    /// The name of its timing entry and CSV file (without .csv).
    public var name: String {
        switch self {
        case .mu: "fig6_eps_mu"
        case .layers: "fig7_eps_layers"
        case .corrupt: "fig8_eps_corrupt"
        }
    }

    public var title: String {
        switch self {
        case .mu: "Figure 6: epsilon vs mu (lambda = 2, 3 x 3, no corruption)"
        case .layers: "Figure 7: epsilon vs layers (3 per layer, lambda = 2, mu = 1)"
        case .corrupt: "Figure 8: epsilon vs corrupt fraction (3 x 3, lambda = 2, mu = 1)"
        }
    }

    /// The key of its headline in summary.json.
    public var headlineKey: String { rawValue + "_eps_mean" }

    /// Its seed's index under the run's base seed.
    var seedIndex: Int {
        switch self {
        case .mu: 6
        case .layers: 7
        case .corrupt: 8
        }
    }

    /// The figure's points, each a copy of `base` with the varied parameter set.
    func points(from base: UnlinkabilityConfig) -> [UnlinkabilityConfig] {
        func with(_ change: (inout UnlinkabilityConfig) -> Void) -> UnlinkabilityConfig {
            var c = base
            change(&c)
            return c
        }
        switch self {
        case .mu: return PaperSweeps.epsilonMus.map { m in with { $0.mu = m } }
        case .layers: return PaperSweeps.epsilonLayers.map { l in with { $0.layers = l } }
        case .corrupt: return PaperSweeps.epsilonCorrupt.map { f in with { $0.corruptFraction = f } }
        }
    }

    /// How a point is named in the headline, and what is said of it.
    func headline(_ r: EpsilonPointResult) -> (String, String) {
        let value = "\(fmt(r.summary.mean, 3)) ± \(fmt(r.summary.sd, 2))"
        switch self {
        case .mu: return ("mu=\(fmt(r.config.mu))", value)
        case .layers: return ("layers=\(r.config.layers)", value)
        case .corrupt: return ("corrupt=\(fmt(r.config.corruptFraction))", value + " (inf \(r.summary.infinite)/\(r.summary.reps))")
        }
    }
}

/// The sweeps' settings: repetitions, the epsilon measurement and the base seed.
public struct PaperFigures: Sendable {
    public var entropyReps = 50
    public var epsilonReps = 100
    public var nMinusOneTrials = 100_000
    public var epsCap = 10.0
    public var burnIn = 50.0
    public var window = 100.0
    public var seed: UInt64 = 2017

    public init() {}

    /// Figure 5: the mean entropy of an outgoing message over λ × µ.
    public func entropy() -> FigureRun<EntropyPointResult> {
        let points = PaperSweeps.entropyMus.flatMap { m in PaperSweeps.entropyLambdas.map { MixEntropyConfig(lambda: $0, mu: m) } }
        let (r, t) = timed { PaperSweeps.entropy(points, reps: entropyReps, seed: deriveSeed(seed, 5)) }
        var h = [String: String]()
        for x in r where x.config.lambda == 100 || x.config.lambda == 500 {
            h["lambda=\(fmt(x.config.lambda)),mu=\(fmt(x.config.mu))"] = fmt(x.meanBits, 4)
        }
        return FigureRun(results: r, table: PaperSweeps.entropyTable(r), headline: h, seconds: t)
    }

    /// Theorem 2's extension of Figure 5: entropy against the mix loop rate (λ = 100, µ = 2).
    public func entropyWithLoops() -> FigureRun<EntropyPointResult> {
        let points = PaperSweeps.loopSweepRates.map {
            MixEntropyConfig(lambda: PaperSweeps.loopSweepLambda, mu: PaperSweeps.loopSweepMu, loopRate: $0)
        }
        let (r, t) = timed { PaperSweeps.entropy(points, reps: entropyReps, seed: deriveSeed(seed, 55)) }
        let h = Dictionary(uniqueKeysWithValues: r.map {
            ("lambda_M=\(fmt($0.config.loopRate))", "H \(fmt($0.meanBits, 4)) bits, link prob \(fmt($0.meanLinkProbability, 4))")
        })
        return FigureRun(results: r, table: PaperSweeps.entropyTable(r), headline: h, seconds: t)
    }

    /// The (n−1) attack with mix loops, µ = 1.
    public func nMinusOne() -> FigureRun<NMinusOneResult> {
        let (r, t) = timed {
            PaperSweeps.nMinusOne(mu: PaperSweeps.nMinusOneMu, loopRates: PaperSweeps.nMinusOneLoopRates,
                                  trials: nMinusOneTrials, seed: deriveSeed(seed, 2))
        }
        return FigureRun(results: r, table: PaperSweeps.nMinusOneTable(r), headline: [:], seconds: t)
    }

    /// One of the epsilon figures.
    public func epsilon(_ figure: EpsilonFigure) -> FigureRun<EpsilonPointResult> {
        var base = UnlinkabilityConfig()
        base.burnIn = burnIn
        base.window = window
        let (r, t) = timed {
            PaperSweeps.epsilon(figure.points(from: base), reps: epsilonReps, seed: deriveSeed(seed, figure.seedIndex), cap: epsCap)
        }
        return FigureRun(results: r, table: PaperSweeps.epsilonTable(r), headline: Dictionary(uniqueKeysWithValues: r.map(figure.headline)),
                         seconds: t)
    }
}

/// What `simulate sweep` records in summary.json beside its CSV files.
public struct SweepSummary: Codable, Sendable {
    public var seed: UInt64
    public var threads: Int
    public var seconds: [String: Double]
    public var entropyReps: Int
    public var epsilonReps: Int
    public var epsCap: Double
    public var burnIn: Double
    public var window: Double
    public var headline: [String: [String: String]]

    public init(figures: PaperFigures, seconds: [String: Double], headline: [String: [String: String]]) {
        seed = figures.seed
        threads = ProcessInfo.processInfo.activeProcessorCount
        self.seconds = seconds
        entropyReps = figures.entropyReps
        epsilonReps = figures.epsilonReps
        epsCap = figures.epsCap
        burnIn = figures.burnIn
        window = figures.window
        self.headline = headline
    }
}

/// Runs `body`, returning its result and the wall-clock seconds it took.
public func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let clock = ContinuousClock()
    let start = clock.now
    let r = try body()
    let d = clock.now - start
    return (r, Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
}
