// `loopix bench e2e`'s analysis: the clients' loop round trips against the paper's Gamma model
// of end-to-end latency (Figure 11), and against the model of what the code does
// (`EndToEndModel`: the Gamma, the hops' overhead, the commit, the pull grid and the pull).
import Foundation
import LoopixSim
import LoopixMetrics
import LoopixTestnet

/// The testnet `bench e2e` runs, and how long.
public struct EndToEndBench: Sendable {
    public var options: TestnetLayout.Options
    public var duration: Double

    public init(options: TestnetLayout.Options, duration: Double) {
        self.options = options
        self.duration = duration
    }

    /// Runs the testnet in `run`'s folder for `duration` seconds, then fits the round trips and
    /// writes histogram.csv and round_trips.csv.
    public func run(in run: BenchRun, progress: BenchProgress) async throws -> E2EResults {
        let directory = run.url("testnet")
        let layout = try TestnetLayout.create(in: directory, options: options)
        let testnet = try await Testnet(layout: layout)
        let end = await testnet.run(duration: duration, interval: .seconds(2)) { view, elapsed in
            progress.update(String(format: "%.0f of %.0f s: %d loops returned of %d sent, %d nodes up", elapsed, duration,
                                   view.loopsReturned, view.loopsSent, view.nodes.filter(\.up).count))
        }
        let (final, _) = await testnet.stop()
        if case .processExited(let name, let status) = end {
            progress.done("\(name) exited (status \(status)); see \(directory.path)/logs/\(name).log")
            throw BenchError("\(name) exited (status \(status)); see \(directory.path)/logs/\(name).log")
        }
        progress.done("testnet stopped")
        let roundTrips = final.clients.flatMap { $0.status?.statistics.loopRoundTrips ?? [] }.filter { $0 > 0 }
        guard roundTrips.count >= 20 else { throw BenchError("only \(roundTrips.count) loops returned; run longer") }
        let statistics = final.clients.compactMap { $0.status?.statistics }
        let providers = final.nodes.filter { $0.kind == .provider }
        let providerOverhead = BucketHistogram.pooled(providers.map(\.hopOverhead))
        let mixOverheads = (1...options.layers).map { l in
            BucketHistogram.pooled(final.nodes.filter { $0.kind == .mix && $0.layer == l }.map(\.hopOverhead))
        }
        let model = EndToEndModel(
            hops: options.layers + 2, meanDelay: options.meanDelayMs / 1000, pullInterval: options.pullInterval,
            hopOverheads: [providerOverhead] + mixOverheads + [providerOverhead],
            commitDelay: BucketHistogram.pooled(providers.map(\.commitDelay)),
            pullAnswerDelays: statistics.flatMap(\.pullAnswerDelays))
        let simulated = model.simulate(count: 200_000, seed: 0x4C4F4F50)
        let results = E2EResults(roundTrips: roundTrips, options: options, seconds: Date().timeIntervalSince(testnet.started),
                                 loopsSent: final.loopsSent, loopsReturned: final.loopsReturned,
                                 drops: final.drops.mapValues { Int($0) }, model: simulated,
                                 pullDeadlinesMissed: statistics.reduce(0) { $0 + $1.pullDeadlinesMissed },
                                 pulls: statistics.reduce(0) { $0 + $1.pulls })
        try results.writeTables(roundTrips: roundTrips, model: simulated.sortedTotals, to: run)
        return results
    }
}

public struct E2EResults: Codable, Sendable {
    public var seconds: Double
    public var layers: Int
    public var mixesPerLayer: Int
    public var providers: Int
    public var clients: Int
    public var meanDelayMs: Double
    public var pullIntervalMs: Double
    public var loopRate: Double
    public var loopsSent: Int
    public var loopsReturned: Int
    public var samples: Int
    public var roundTripMs: Summary
    public var expected: GammaDistribution
    public var poissonHops: Int
    public var fittedMaximumLikelihood: GammaDistribution?
    public var fittedMoments: GammaDistribution?
    public var ksAgainstExpected: Double
    public var ksAgainstExpectedPlusPull: Double
    public var ksAgainstFitted: Double?
    public var ksPValueExpectedPlusPull: Double
    public var modelMeanMs: Double
    public var residualMeanMs: Double
    public var dropsByCause: [String: Int]
    /// The model of what the code does: the mean of each part, ms, and its KS distance and p.
    public var modelPartsMs: EndToEndModel.Draw
    public var ksAgainstModel: Double
    public var ksPValueModel: Double
    public var pulls: Int
    public var pullDeadlinesMissed: Int
}

extension E2EResults {
    init(roundTrips: [Double], options o: TestnetLayout.Options, seconds: Double, loopsSent: Int, loopsReturned: Int,
         drops: [String: Int], model: (sortedTotals: [Double], means: EndToEndModel.Draw), pullDeadlinesMissed: Int, pulls: Int) {
        let hops = o.layers + 2
        let (modelTotals, parts) = model
        let ksModel = kolmogorovSmirnov(roundTrips) { empiricalCDF(sorted: modelTotals, at: $0) }
        let expected = GammaDistribution(shape: Double(hops), scale: o.meanDelayMs / 1000)
        let fitted = GammaDistribution.fitMaximumLikelihood(roundTrips)
        let ksWithPull = kolmogorovSmirnov(roundTrips) { gammaPlusUniformCDF(expected, wait: o.pullInterval, at: $0) }
        let summary = Summary(seconds: roundTrips).scaled(by: 1000)
        let modelMeanMs = (expected.mean + o.pullInterval / 2) * 1000
        self.init(
            seconds: seconds, layers: o.layers, mixesPerLayer: o.mixesPerLayer, providers: o.providers, clients: o.clients,
            meanDelayMs: o.meanDelayMs, pullIntervalMs: o.pullInterval * 1000, loopRate: o.loopRate,
            loopsSent: loopsSent, loopsReturned: loopsReturned, samples: roundTrips.count, roundTripMs: summary,
            expected: expected, poissonHops: hops, fittedMaximumLikelihood: fitted, fittedMoments: GammaDistribution.fitMoments(roundTrips),
            ksAgainstExpected: kolmogorovSmirnov(roundTrips) { expected.cdf($0) }, ksAgainstExpectedPlusPull: ksWithPull,
            ksAgainstFitted: fitted.map { f in kolmogorovSmirnov(roundTrips) { f.cdf($0) } },
            ksPValueExpectedPlusPull: kolmogorovSmirnovPValue(ksWithPull, count: roundTrips.count),
            modelMeanMs: modelMeanMs, residualMeanMs: summary.mean - modelMeanMs, dropsByCause: drops,
            modelPartsMs: EndToEndModel.Draw(mixing: parts.mixing * 1000, overhead: parts.overhead * 1000, commit: parts.commit * 1000,
                                             pullWait: parts.pullWait * 1000, pullAnswer: parts.pullAnswer * 1000),
            ksAgainstModel: ksModel, ksPValueModel: kolmogorovSmirnovPValue(ksModel, count: roundTrips.count),
            pulls: pulls, pullDeadlinesMissed: pullDeadlinesMissed)
    }

    /// histogram.csv (the round trips against the three models) and round_trips.csv.
    func writeTables(roundTrips: [Double], model: [Double], to run: BenchRun) throws {
        let wait = pullIntervalMs / 1000
        let upper = Stats.quantile(roundTrips, 0.999) * 1.1
        let bins = Statistics.histogram(roundTrips, bins: 60, lower: 0, upper: upper)
        try run.writeCSV("histogram.csv", header: ["lower_ms", "upper_ms", "count", "expected_gamma", "expected_with_pull", "fitted_gamma", "model"],
                         rows: bins.map { b in
                             let n = Double(roundTrips.count)
                             func mass(_ f: (Double) -> Double) -> String { csv(n * (f(b.upper) - f(b.lower)), 2) }
                             return [csv(b.lower * 1000, 2), csv(b.upper * 1000, 2), "\(b.count)", mass { expected.cdf($0) },
                                     mass { gammaPlusUniformCDF(expected, wait: wait, at: $0) },
                                     fittedMaximumLikelihood.map { f in mass { f.cdf($0) } } ?? "",
                                     mass { empiricalCDF(sorted: model, at: $0) }]
                         })
        try run.writeCSV("round_trips.csv", header: ["round_trip_ms"], rows: roundTrips.map { [csv($0 * 1000, 3)] })
    }
}

extension E2EResults {
    /// What `loopix bench e2e` prints: the round trips, both models, their parts and KS tests.
    public func reportText() -> String {
        var lines: [String] = []
        lines.append(String(format: "testnet: %d layers × %d mixes, %d providers, %d clients, 1/µ = %.0f ms, pull every %.0f ms, %.0f s",
                     layers, mixesPerLayer, providers, clients, meanDelayMs, pullIntervalMs, seconds))
        lines.append("loops: \(loopsReturned) returned of \(loopsSent) sent; \(samples) round trips in the clients' status files")
        lines.append(String(format: "round trip: mean %.1f ms, p50 %.1f, p95 %.1f, p99 %.1f, max %.1f", roundTripMs.mean, roundTripMs.p50,
                     roundTripMs.p95, roundTripMs.p99, roundTripMs.max))
        lines.append(String(format: "expected: Gamma(shape %d, scale %.1f ms) (mean %.1f ms) + pull wait U(0, %.0f ms) (mean %.1f ms) = mean %.1f ms",
                     poissonHops, expected.scale * 1000, expected.mean * 1000, pullIntervalMs, pullIntervalMs / 2, modelMeanMs))
        let m = modelPartsMs
        lines.append(String(format: "model of the code: mixing %.1f + hop overhead %.2f + commit %.2f + pull wait %.1f + pull %.2f = mean %.1f ms",
                     m.mixing, m.overhead, m.commit, m.pullWait, m.pullAnswer, m.total))
        lines.append("pulls: \(pulls), deadlines missed (a pull overran its slot): \(pullDeadlinesMissed)")
        if let f = fittedMaximumLikelihood {
            lines.append(String(format: "fitted (maximum likelihood): shape %.2f, scale %.1f ms (mean %.1f ms)", f.shape, f.scale * 1000, f.mean * 1000))
        }
        lines.append(String(format: "residual mean: %.1f ms against Gamma + pull wait, %.1f ms against the model of the code", residualMeanMs,
                     roundTripMs.mean - m.total))
        lines.append(String(format: "Kolmogorov–Smirnov D: %.4f against Gamma(%d, 1/µ); %.4f with the pull wait (p ≈ %.3g); %@ against the fit",
                     ksAgainstExpected, poissonHops, ksAgainstExpectedPlusPull, ksPValueExpectedPlusPull,
                     ksAgainstFitted.map { String(format: "%.4f", $0) } ?? "-"))
        lines.append(String(format: "Kolmogorov–Smirnov D against the model of the code: %.4f (p ≈ %.3g, n = %d): %@", ksAgainstModel,
                     ksPValueModel, samples, ksPValueModel > 0.01 ? "fits at p > 0.01" : "REJECTED at p = 0.01"))
        let drops = dropsByCause.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        lines.append("drops by cause: \(drops.isEmpty ? "none" : drops.joined(separator: ", "))")
        return lines.joined(separator: "\n")
    }
}
