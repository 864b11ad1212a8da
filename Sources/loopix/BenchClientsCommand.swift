// `loopix bench clients`: the paper's Figure 10, per-hop overhead at one mix against the number of
// (light, in-process) clients.
import ArgumentParser
import LoopixBench

struct BenchClientsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clients", abstract: "Per-hop overhead at one mix as the number of clients grows (the paper's Figure 10).",
        discussion: """
            A mix process (as in `bench node`) and, in this process, light clients: each its own connection with a \
            Poisson stream of prebuilt zero-delay packets, so the sink's receive time minus the send time is the \
            mix's overhead. Client processes building their own packets do not fit in two cores at these counts.
            """)

    @Option(help: "Client counts, comma-separated.") var clients = "10,25,50,100,200"
    @Option(help: "Packets per second per client.") var clientRate = 10.0
    @Option(help: "The mix's crypto workers.") var workers = 2
    @Option(help: "Seconds per count (the first --warmup are not measured).") var step = 6.0
    @Option(help: "Seconds of warm-up per count.") var warmup = 1.0
    @OptionGroup var output: BenchOutputOptions

    func run() async throws {
        let counts: [Int] = try numberList(clients, "--clients")
        guard !counts.isEmpty, counts.allSatisfy({ (1...1000).contains($0) }), clientRate > 0, step > warmup + 0.5 else {
            throw ValidationError("--clients 1...1000 each, --client-rate > 0, --step > --warmup + 0.5")
        }
        let run = try output.run("clients")
        let bench = ClientScalingBench(clientCounts: counts, clientRate: clientRate, workers: workers, stepSeconds: step,
                                       warmupSeconds: warmup, poolPackets: max(10_000, Int(Double(counts.max()!) * clientRate * step)))
        let results = try await bench.run(in: run, progress: BenchProgress("clients"))
        try results.writeTables(to: run)
        print(results.reportText())
        try await run.finish(results)
    }
}
