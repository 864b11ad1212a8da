// `loopix bench e2e`: a testnet of separate processes, and the round trips of the clients' loops
// against the paper's Gamma model of end-to-end latency (Figure 11).
import ArgumentParser
import Foundation
import LoopixBench

struct BenchE2ECommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "e2e",
        abstract: "Loop round trips on a local testnet against the Gamma(hops, 1/µ) model.",
        discussion: """
            A client's loop goes client → its provider → one mix per layer → its provider (each of these \
            layers + 2 hops holds it for an Exp(µ) delay) → its mailbox, where the client finds it at its \
            next pull. So the model is Gamma(shape layers + 2, scale 1/µ) plus a wait of up to one pull \
            interval (uniform), plus the hops' own overhead. The loop is built and sent at its λL tick, \
            so no λP buffer wait applies. A short pull interval keeps that extra term small; the report \
            gives the fit to the data, the expected model with and without the pull wait, their \
            Kolmogorov–Smirnov distances, and the residual mean.
            """)

    @Option(help: "Seconds to run the testnet.") var duration = 60.0
    @Option(help: "Mean per-hop delay 1/µ in milliseconds.") var meanDelayMs = 50.0
    @Option(help: "Mix layers.") var layers = 3
    @Option(help: "Mixes per layer.") var mixesPerLayer = 1
    @Option(help: "Providers.") var providers = 2
    @Option(help: "Clients.") var clients = 4
    @Option(help: "λL: loops per second per client.") var loopRate = 4.0
    @Option(help: "λP: payload (or cover) packets per second per client.") var payloadRate = 1.0
    @Option(help: "λD: drops per second per client.") var dropRate = 1.0
    @Option(help: "λM: loops per second per mix.") var mixLoopRate = 1.0
    @Option(help: "Seconds between a client's pulls.") var pullInterval = 0.05
    @OptionGroup var output: BenchOutputOptions

    func validate() throws {
        guard duration >= 10 else { throw ValidationError("--duration must be at least 10 s") }
        guard meanDelayMs > 0, (1...3).contains(layers), (1...8).contains(mixesPerLayer), (1...8).contains(providers),
            (1...32).contains(clients), loopRate > 0, pullInterval > 0
        else { throw ValidationError("out of range: layers 1...3, mixes 1...8, providers 1...8, clients 1...32, positive rates") }
    }

    func run() async throws {
        let run = try BenchRun("e2e", options: output)
        let progress = BenchProgress("e2e")
        let directory = run.url("testnet")
        let layout = try TestnetLayout.create(in: directory, options: .init(
            layers: layers, mixesPerLayer: mixesPerLayer, providers: providers, clients: clients, meanDelayMs: meanDelayMs,
            payloadRate: payloadRate, loopRate: loopRate, dropRate: dropRate, mixLoopRate: mixLoopRate, pullSize: 16,
            pullInterval: pullInterval, demoInterval: 0, workers: 1))
        let supervisor = try Supervisor(layout: layout)
        let monitor = TestnetMonitor(layout: layout)
        let started = Date()
        var failure: String? = nil
        while Date().timeIntervalSince(started) < duration {
            try? await Task.sleep(for: .seconds(2))
            let view = monitor.sample()
            progress.update(String(format: "%.0f of %.0f s: %d loops returned of %d sent, %d nodes up", Date().timeIntervalSince(started),
                                   duration, view.loopsReturned, view.loopsSent, view.nodes.filter(\.up).count))
            if let dead = supervisor.exited().first {
                failure = "\(dead.name) exited (status \(dead.status)); see \(directory.path)/logs/\(dead.name).log"
                break
            }
        }
        await supervisor.terminate(kinds: [.client])
        let final = monitor.sample()
        await supervisor.terminate(kinds: [.provider, .mix])
        progress.done(failure ?? "testnet stopped")
        if let failure { throw ValidationError(failure) }

        let roundTrips = final.clients.flatMap { $0.status?.statistics.loopRoundTrips ?? [] }.filter { $0 > 0 }
        guard roundTrips.count >= 20 else { throw ValidationError("only \(roundTrips.count) loops returned; run longer") }
        let hops = layers + 2
        let scale = meanDelayMs / 1000
        let expected = GammaDistribution(shape: Double(hops), scale: scale)
        let fitted = GammaDistribution.fitMaximumLikelihood(roundTrips)
        let moments = GammaDistribution.fitMoments(roundTrips)
        let ksExpected = kolmogorovSmirnov(roundTrips) { expected.cdf($0) }
        let ksWithPull = kolmogorovSmirnov(roundTrips) { gammaPlusUniformCDF(expected, wait: pullInterval, at: $0) }
        let ksFitted = fitted.map { f in kolmogorovSmirnov(roundTrips) { f.cdf($0) } }
        let summary = Summary(roundTrips).scaled(by: 1000)
        let modelMeanMs = (expected.mean + pullInterval / 2) * 1000

        let results = E2EResults(
            seconds: Date().timeIntervalSince(started), layers: layers, mixesPerLayer: mixesPerLayer, providers: providers, clients: clients,
            meanDelayMs: meanDelayMs, pullIntervalMs: pullInterval * 1000, loopRate: loopRate,
            loopsSent: final.loopsSent, loopsReturned: final.loopsReturned, samples: roundTrips.count, roundTripMs: summary,
            expected: expected, poissonHops: hops, fittedMaximumLikelihood: fitted, fittedMoments: moments,
            ksAgainstExpected: ksExpected, ksAgainstExpectedPlusPull: ksWithPull, ksAgainstFitted: ksFitted,
            ksPValueExpectedPlusPull: kolmogorovSmirnovPValue(ksWithPull, count: roundTrips.count),
            modelMeanMs: modelMeanMs, residualMeanMs: summary.mean - modelMeanMs, dropsByCause: final.drops.mapValues { Int($0) })
        let upper = Statistics.quantile(sorted: roundTrips.sorted(), 0.999) * 1.1
        let bins = Statistics.histogram(roundTrips, bins: 60, lower: 0, upper: upper)
        try run.writeCSV("histogram.csv", header: ["lower_ms", "upper_ms", "count", "expected_gamma", "expected_with_pull", "fitted_gamma"],
                         rows: bins.map { b in
                             let n = Double(roundTrips.count)
                             func mass(_ f: (Double) -> Double) -> String { csv(n * (f(b.upper) - f(b.lower)), 2) }
                             return [csv(b.lower * 1000, 2), csv(b.upper * 1000, 2), "\(b.count)", mass { expected.cdf($0) },
                                     mass { gammaPlusUniformCDF(expected, wait: pullInterval, at: $0) },
                                     fitted.map { f in mass { f.cdf($0) } } ?? ""]
                         })
        try run.writeCSV("round_trips.csv", header: ["round_trip_ms"], rows: roundTrips.map { [csv($0 * 1000, 3)] })
        results.printReport()
        try run.finish(results)
    }
}

struct E2EResults: Codable {
    var seconds: Double
    var layers: Int
    var mixesPerLayer: Int
    var providers: Int
    var clients: Int
    var meanDelayMs: Double
    var pullIntervalMs: Double
    var loopRate: Double
    var loopsSent: Int
    var loopsReturned: Int
    var samples: Int
    var roundTripMs: Summary
    var expected: GammaDistribution
    var poissonHops: Int
    var fittedMaximumLikelihood: GammaDistribution?
    var fittedMoments: GammaDistribution?
    var ksAgainstExpected: Double
    var ksAgainstExpectedPlusPull: Double
    var ksAgainstFitted: Double?
    var ksPValueExpectedPlusPull: Double
    var modelMeanMs: Double
    var residualMeanMs: Double
    var dropsByCause: [String: Int]

    func printReport() {
        print(String(format: "testnet: %d layers × %d mixes, %d providers, %d clients, 1/µ = %.0f ms, pull every %.0f ms, %.0f s",
                     layers, mixesPerLayer, providers, clients, meanDelayMs, pullIntervalMs, seconds))
        print("loops: \(loopsReturned) returned of \(loopsSent) sent; \(samples) round trips in the clients' status files")
        print(String(format: "round trip: mean %.1f ms, p50 %.1f, p95 %.1f, p99 %.1f, max %.1f", roundTripMs.mean, roundTripMs.p50,
                     roundTripMs.p95, roundTripMs.p99, roundTripMs.max))
        print(String(format: "expected: Gamma(shape %d, scale %.1f ms) (mean %.1f ms) + pull wait U(0, %.0f ms) (mean %.1f ms) = mean %.1f ms",
                     poissonHops, expected.scale * 1000, expected.mean * 1000, pullIntervalMs, pullIntervalMs / 2, modelMeanMs))
        if let f = fittedMaximumLikelihood {
            print(String(format: "fitted (maximum likelihood): shape %.2f, scale %.1f ms (mean %.1f ms)", f.shape, f.scale * 1000, f.mean * 1000))
        }
        if let m = fittedMoments {
            print(String(format: "fitted (moments): shape %.2f, scale %.1f ms", m.shape, m.scale * 1000))
        }
        print(String(format: "residual mean (measured − model): %.1f ms (hop overheads, TCP, pull handling)", residualMeanMs))
        print(String(format: "Kolmogorov–Smirnov D: %.4f against Gamma(%d, 1/µ); %.4f with the pull wait (p ≈ %.3g); %@ against the fit",
                     ksAgainstExpected, poissonHops, ksAgainstExpectedPlusPull, ksPValueExpectedPlusPull,
                     ksAgainstFitted.map { String(format: "%.4f", $0) } ?? "-"))
        let drops = dropsByCause.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("drops by cause: \(drops.isEmpty ? "none" : drops)")
    }
}
