// `loopix bench e2e`: a testnet of separate processes, and the round trips of the clients' loops
// against the paper's Gamma model of end-to-end latency (Figure 11).
import ArgumentParser
import Foundation
import LoopixBench
import LoopixTestnet

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
        let run = try output.run("e2e")
        let bench = EndToEndBench(options: .init(
            layers: layers, mixesPerLayer: mixesPerLayer, providers: providers, clients: clients, meanDelayMs: meanDelayMs,
            payloadRate: payloadRate, loopRate: loopRate, dropRate: dropRate, mixLoopRate: mixLoopRate, pullSize: 16,
            pullInterval: pullInterval, demoInterval: 0, workers: 1), duration: duration)
        let results = try await bench.run(in: run, progress: BenchProgress("e2e"))
        results.printReport()
        try await run.finish(results)
    }
}

extension E2EResults {
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
        print("drops by cause: \(dropsText(dropsByCause))")
    }
}
