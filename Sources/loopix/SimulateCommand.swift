// `loopix simulate …`: the anonymity evaluation of the Loopix paper (entropy of
// a Poisson mix, end-to-end unlinkability epsilon, checks of Theorems 1 and 2)
// and a parameter advisor. Writes CSV and JSON; plots come from
// scripts/plot_sim.py.
import ArgumentParser
import Foundation
import LoopixRandom
import LoopixSim

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Anonymity evaluation of the Loopix model (paper sections 4.1.3 and 4.3) and a parameter advisor.",
        discussion: """
            Time is in abstract time units and rates are per time unit; entropies are in bits and \
            epsilon = |ln(p0/p1)| in nats. Results go to --out as CSV and JSON; \
            `python3 scripts/plot_sim.py DIR` turns them into PNG plots.
            """,
        subcommands: [
            SimEntropyCommand.self, SimUnlinkabilityCommand.self, SimTheoremsCommand.self,
            SimSweepCommand.self, SimAdviseCommand.self,
        ]
    )
}

struct SimOutputOptions: ParsableArguments {
    @Option(help: "Output directory for CSV and JSON.")
    var out: String = "results/sim"

    @Option(help: "Base seed; every (point, repetition) job derives its own seed from it.")
    var seed: UInt64 = 2017

    func write(_ table: CSVTable, _ name: String) throws { print("wrote \(try ResultsFolder(out).write(table, name))") }
    func writeJSON(_ value: some Encodable, _ name: String) throws { print("wrote \(try ResultsFolder(out).writeJSON(value, name))") }

    func plotHint() {
        print("plots: python3 scripts/plot_sim.py \(out)")
    }
}

// MARK: - entropy

struct SimEntropyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "entropy",
        abstract: "Single Poisson mix: mean entropy of outgoing messages over lambda x mu x lambda_M (Figure 5).",
        discussion: """
            Event-driven simulation of one mix with Poisson(lambda) input and Exp(mu) delays; the \
            adversary's entropy for each outgoing message is computed incrementally (Appendix A.1). \
            With --loop-rates, the mix also emits its own loops (Theorem 2). --n-minus-one adds the \
            (n-1) attack table (target alone in the mix with loops).
            """)

    @OptionGroup var output: SimOutputOptions

    @Option(help: "Comma-separated input rates lambda.")
    var lambdas: String = "100,150,200,250,300,350,400,450,500"

    @Option(help: "Comma-separated delay parameters mu (mean delay 1/mu).")
    var mus: String = "200,20,2,0.2,0.02"

    @Option(help: "Comma-separated mix loop rates lambda_M.")
    var loopRates: String = "0"

    @Option(help: "Repetitions per point (the paper averages 50).")
    var reps: Int = 50

    @Option(help: "Warm-up, in mean delays 1/mu.")
    var warmupDelays: Double = 8

    @Option(help: "Measurement window, in mean delays 1/mu.")
    var measureDelays: Double = 4

    @Flag(help: "Also simulate the (n-1) attack with loops for each mu and lambda_M > 0.")
    var nMinusOne = false

    @Option(help: "Trials per (n-1) point.")
    var trials: Int = 20000

    mutating func run() throws {
        let ls: [Double] = try numberList(lambdas, "--lambdas"), ms: [Double] = try numberList(mus, "--mus")
        let lms: [Double] = try numberList(loopRates, "--loop-rates")
        let points = MixEntropyConfig.grid(lambdas: ls, mus: ms, loopRates: lms, warmupDelays: warmupDelays, measureDelays: measureDelays)
        let (results, t) = timed { PaperSweeps.entropy(points, reps: reps, seed: deriveSeed(output.seed, 5)) }
        print(textTable(["lambda", "mu", "lambda_M", "lambda/mu", "H mean (bits)", "sd", "approx", "link prob"],
                        results.map { [fmt($0.config.lambda), fmt($0.config.mu), fmt($0.config.loopRate),
                                       fmt($0.config.lambda / $0.config.mu, 4), fmt($0.meanBits, 4),
                                       fmt($0.sdBits, 2), fmt($0.largePoolApproxBits, 4),
                                       fmt($0.meanLinkProbability, 4)] }))
        print("time: \(fmt(t, 3)) s for \(points.count) points x \(reps) reps")
        try output.write(PaperSweeps.entropyTable(results), "entropy.csv")
        if nMinusOne {
            var rows = [NMinusOneResult]()
            for m in ms {
                rows += PaperSweeps.nMinusOne(mu: m, loopRates: lms.filter { $0 > 0 }, trials: trials,
                                              seed: deriveSeed(output.seed, 51))
            }
            let table = PaperSweeps.nMinusOneTable(rows)
            print(textTable(table.header, table.rows))
            try output.write(table, "n_minus_one.csv")
        }
        output.plotHint()
    }
}

// MARK: - unlinkability

struct SimUnlinkabilityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlinkability",
        abstract: "End-to-end unlinkability epsilon = |ln(p0/p1)| (section 4.3, Figures 6-8).",
        discussion: """
            Every combination of the comma-separated --rates, --mus, --layers and --corrupt values is a point; \
            each point runs --reps independent repetitions in parallel. epsilon is summarised by its \
            mean and standard deviation (values capped at --eps-cap), median and quartiles, and the \
            number of runs where it is infinite.
            """)

    @OptionGroup var output: SimOutputOptions

    @Option(help: "Number of senders U, including the two challenge senders.")
    var users: Int = 100

    @Option(help: "Comma-separated per-sender sending rates lambda (payload and cover).")
    var rates: String = "2"

    @Option(help: "Payload messages per time unit added to each challenge sender's buffer.")
    var payloadRate: Double = 1

    @Option(help: "Comma-separated delay parameters mu.")
    var mus: String = "1"

    @Option(help: "Comma-separated numbers of layers (ranges like 1-19 allowed).")
    var layers: String = "3"

    @Option(help: "Mixes per layer.")
    var width: Int = 3

    @Option(help: "Comma-separated fractions of corrupt mixes (0..1).")
    var corrupt: String = "0"

    @Option(help: "Burn-in time before the challenge senders start (the paper uses 2500).")
    var burnIn: Double = 50

    @Option(help: "Time the challenge senders send before epsilon is measured.")
    var window: Double = 100

    @Flag(help: "Start from empty mixes instead of the stationary state.")
    var emptyStart = false

    @Flag(help: "Read epsilon at the end of the window, not at a random point of the payload period after it.")
    var fixedReadingInstant = false

    @Option(help: "Repetitions per point (the paper uses 100).")
    var reps: Int = 100

    @Option(help: "Cap (nats) applied to epsilon before averaging.")
    var epsCap: Double = 10

    @Option(help: "Output file name.")
    var file: String = "unlinkability.csv"

    mutating func run() throws {
        var base = UnlinkabilityConfig()
        base.users = users; base.challengePayloadRate = payloadRate; base.width = width
        base.burnIn = burnIn; base.window = window; base.stationaryStart = !emptyStart
        base.randomReadingInstant = !fixedReadingInstant
        let configs = UnlinkabilityConfig.grid(base, rates: try numberList(rates, "--rates"), mus: try numberList(mus, "--mus"),
                                               layers: try numberList(layers, "--layers"), corrupt: try numberList(corrupt, "--corrupt"))
        let (results, t) = timed {
            PaperSweeps.epsilon(configs, reps: reps, seed: deriveSeed(output.seed, 6), cap: epsCap)
        }
        print(epsilonText(results))
        print("time: \(fmt(t, 3)) s for \(configs.count) points x \(reps) reps")
        try output.write(PaperSweeps.epsilonTable(results), file)
        output.plotHint()
    }
}

// MARK: - theorems

struct SimTheoremsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "theorems",
        abstract: "Numerical checks of Theorems 1 and 2 with real exponential delays and identities.")

    @OptionGroup var output: SimOutputOptions

    @Option(help: "Accepted trials per o_{n,k,l} scenario.")
    var trials: Int = 200_000

    @Option(help: "Trials per (n-1) attack point.")
    var nMinusOneTrials: Int = 100_000

    @Option(help: "Departures observed for the pool-calibration check.")
    var departures: Int = 200_000

    mutating func run() throws {
        let (table, t1) = timed {
            PaperSweeps.theoremTable(PaperSweeps.theoremScenarios, accepted: trials, seed: deriveSeed(output.seed, 1))
        }
        print("Theorems 1 and 2, observation o_{n,k,l} (frequencies of the next output vs the formulas):")
        print(textTable(table.header, table.rows))
        try output.write(table, "theorems.csv")

        let (n1, t2) = timed {
            PaperSweeps.nMinusOne(mu: PaperSweeps.nMinusOneMu, loopRates: PaperSweeps.nMinusOneLoopRates,
                                  trials: nMinusOneTrials, seed: deriveSeed(output.seed, 2))
        }
        let n1t = PaperSweeps.nMinusOneTable(n1)
        print("\n(n-1) attack with mix loops (Theorem 2 with n = k = 1, l = 0):")
        print(textTable(n1t.header, n1t.rows))
        try output.write(n1t, "n_minus_one.csv")

        let (cal, t3) = timed {
            PoolCalibrationCheck.run(lambda: 5, mu: 1, departures: departures, seed: deriveSeed(output.seed, 3))
        }
        let ct = cal.table
        print("\nPool-model calibration over a trace (lambda = 5, mu = 1, \(cal.departures) departures):")
        print("mean w_true - sum w^2 = \(fmt(cal.meanDifference, 3)) (s.e. \(fmt(cal.standardErrorOfMeanDifference, 3)))")
        print(textTable(ct.header, ct.rows))
        try output.write(ct, "pool_calibration.csv")
        print("time: \(fmt(t1 + t2 + t3, 3)) s")
    }
}

// MARK: - sweep

struct SimSweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "All sweeps of the paper's Figures 5-8 (plus the Theorem 2 extensions) with the paper's parameters.",
        discussion: """
            Writes fig5_entropy.csv, fig5_loops.csv, fig5_n_minus_one.csv, fig6_eps_mu.csv, \
            fig7_eps_layers.csv, fig8_eps_corrupt.csv and summary.json (timings and headline numbers).
            """)

    @OptionGroup var output: SimOutputOptions

    @Option(help: "Repetitions per entropy point (paper: 50).")
    var entropyReps: Int = 50

    @Option(help: "Repetitions per epsilon point (paper: 100).")
    var reps: Int = 100

    @Option(help: "Trials per (n-1) attack point.")
    var nMinusOneTrials: Int = 100_000

    @Option(help: "Cap (nats) applied to epsilon before averaging.")
    var epsCap: Double = 10

    @Option(help: "Burn-in before the challenge senders start (paper: 2500; stationary start makes 50 enough).")
    var burnIn: Double = 50

    @Option(help: "Challenge window (paper: 100).")
    var window: Double = 100

    @Option(help: "Comma-separated subset of fig5,fig6,fig7,fig8.")
    var only: String = "fig5,fig6,fig7,fig8"

    @Flag(help: "Quick run: 10 entropy and 30 epsilon repetitions.")
    var quick = false

    mutating func run() throws {
        if quick { entropyReps = min(entropyReps, 10); reps = min(reps, 30); nMinusOneTrials = min(nMinusOneTrials, 20000) }
        let figs = Set(only.split(separator: ",").map { String($0) })
        var figures = PaperFigures()
        figures.entropyReps = entropyReps; figures.epsilonReps = reps; figures.nMinusOneTrials = nMinusOneTrials
        figures.epsCap = epsCap; figures.burnIn = burnIn; figures.window = window; figures.seed = output.seed
        var secs = [String: Double]()
        var headline = [String: [String: String]]()

        if figs.contains("fig5") {
            let entropy = figures.entropy()
            secs["fig5_entropy"] = entropy.seconds
            try output.write(entropy.table, "fig5_entropy.csv")
            print("Figure 5: mean entropy (bits) of an outgoing message, rows lambda, columns mu (\(fmt(entropy.seconds, 3)) s)")
            print(textTable(["lambda"] + PaperSweeps.entropyMus.map { "mu=\(fmt($0))" }, PaperSweeps.entropyLambdas.map { l in
                [fmt(l)] + PaperSweeps.entropyMus.map { m in fmt(entropy.results.first { $0.config.lambda == l && $0.config.mu == m }!.meanBits, 4) }
            }))
            headline["fig5_entropy_bits"] = entropy.headline

            let loops = figures.entropyWithLoops()
            secs["fig5_loops"] = loops.seconds
            try output.write(loops.table, "fig5_loops.csv")
            print("\nEntropy with mix loops (lambda = 100, mu = 2) (\(fmt(loops.seconds, 3)) s)")
            print(textTable(["lambda_M", "H all outputs", "H real outputs", "link prob (real)", "anonymity set"],
                            loops.results.map { [fmt($0.config.loopRate), fmt($0.meanBits, 4), fmt($0.meanRealBits, 4),
                                                 fmt($0.meanLinkProbability, 4), fmt(1 / $0.meanLinkProbability, 4)] }))
            headline["fig5_loops"] = loops.headline

            let attack = figures.nMinusOne()
            secs["fig5_n_minus_one"] = attack.seconds
            try output.write(attack.table, "fig5_n_minus_one.csv")
            print("\n(n-1) attack with loops, mu = 1 (\(fmt(attack.seconds, 3)) s)")
            print(textTable(attack.table.header, attack.table.rows))
        }
        for figure in EpsilonFigure.allCases where figs.contains(figure.rawValue) {
            let run = figures.epsilon(figure)
            secs[figure.name] = run.seconds
            try output.write(run.table, figure.name + ".csv")
            print("\n\(figure.title) (\(fmt(run.seconds, 3)) s)")
            print(epsilonText(run.results))
            headline[figure.headlineKey] = run.headline
        }
        secs["total"] = secs.values.reduce(0, +)
        print("\ntimes (s): " + secs.sorted { $0.key < $1.key }.map { "\($0.key) \(fmt($0.value, 3))" }.joined(separator: ", "))
        try output.writeJSON(SweepSummary(figures: figures, seconds: secs, headline: headline), "summary.json")
        output.plotHint()
    }
}

// MARK: - advise

struct SimAdviseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advise",
        abstract: "Propose mu and cover-traffic rates for a latency budget and an anonymity target.",
        discussion: """
            mu is the smallest delay parameter whose end-to-end mixing delay (Erlang over --hops hops) \
            fits --latency-budget at --latency-quantile; the per-user cover rate is the smallest that \
            meets --target-epsilon (network simulation, 95% upper bound of the mean) and/or \
            --target-entropy (per-mix entropy, single-mix simulation). Writes advise.json and \
            advise_tradeoff.csv.
            """)

    @OptionGroup var output: SimOutputOptions

    @Option(help: "Expected number of online users.")
    var users: Int = 1000

    @Option(help: "Per-user payload rate lambda_P (messages per time unit).")
    var payloadRate: Double = 1

    @Option(help: "Minimum per-user loop rate lambda_L already in use.")
    var loopRate: Double = 0

    @Option(help: "Minimum per-user drop rate lambda_D already in use.")
    var dropRate: Double = 0

    @Option(help: "Maximum total per-user rate (bandwidth budget).")
    var maxUserRate: Double = 20

    @Option(help: "Mix loop rate lambda_M (default: chosen from --max-n-minus-one-link).")
    var mixLoopRate: Double?

    @Option(help: "Largest acceptable probability that an (n-1) attack links the first output.")
    var maxNMinusOneLink: Double = 0.5

    @Option(help: "Mix layers.")
    var layers: Int = 3

    @Option(help: "Mixes per layer.")
    var width: Int = 3

    @Option(help: "Delaying hops per path (default: layers + 2: both providers and one mix per layer hold a message).")
    var hops: Int?

    @Option(help: "End-to-end mixing delay budget (time units).")
    var latencyBudget: Double = 5

    @Option(help: "The recipient's pull interval (time units), whose wait the latency counts; 0: mixing only.")
    var pullInterval: Double = 0

    @Option(help: "Quantile of the end-to-end delay held to the budget; 0 means the mean.")
    var latencyQuantile: Double = 0.95

    @Option(help: "Target epsilon (nats).")
    var targetEpsilon: Double?

    @Option(help: "Target per-mix entropy (bits).")
    var targetEntropy: Double?

    @Option(help: "Fraction of corrupt mixes assumed.")
    var corrupt: Double = 0

    @Option(help: "Repetitions per epsilon evaluation.")
    var reps: Int = 40

    @Option(help: "Repetitions per single-mix entropy evaluation.")
    var entropyReps: Int = 4

    @Option(help: "Cap (nats) applied to epsilon before averaging.")
    var epsCap: Double = 10

    mutating func run() throws {
        var input = AdvisorInput()
        input.users = users; input.payloadRate = payloadRate
        input.minLoopRate = loopRate; input.minDropRate = dropRate; input.maxUserRate = maxUserRate
        input.mixLoopRate = mixLoopRate; input.maxNMinusOneLink = maxNMinusOneLink
        input.layers = layers; input.width = width; input.hops = hops
        input.latencyBudget = latencyBudget; input.pullInterval = pullInterval
        input.latencyQuantile = latencyQuantile > 0 ? latencyQuantile : nil
        input.targetEpsilon = targetEpsilon; input.targetEntropyBits = targetEntropy
        input.corruptFraction = corrupt; input.reps = reps; input.entropyReps = entropyReps; input.epsCap = epsCap; input.seed = output.seed
        let (report, t) = timed { Advisor.advise(input) { print($0) } }
        let table = Advisor.tradeoffTable(report.tradeoff)
        print(report.text())
        print("time: \(fmt(t, 3)) s")
        try output.writeJSON(report, "advise.json")
        try output.write(table, "advise_tradeoff.csv")
        output.plotHint()
    }
}
