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
            next pull deadline (pulls run on a fixed grid). The paper's model is Gamma(layers + 2, 1/µ); \
            the model of the code adds each hop's overhead and the providers' commit (from the nodes' \
            metrics), the wait for the next deadline, U(0, pull interval), and the pull itself (from the \
            clients' statistics). The report gives both, their Kolmogorov–Smirnov distances and p-values.
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
        print(results.reportText())
        try await run.finish(results)
    }
}
