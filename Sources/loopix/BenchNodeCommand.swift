// `loopix bench node`: parses the options, runs the node benchmark (LoopixBench's NodeBench),
// writes its tables and prints its report.
import ArgumentParser
import Foundation
import LoopixBench
import LoopixTestnet
import LoopixConfiguration

struct BenchNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "A node process under load: throughput, latency, workers, efficiency, overload, memory.",
        discussion: """
            Every packet is a RELAY with zero delay from the node to the sink, so the sink sees each one \
            as soon as the node has unwrapped it; latency is the sink's receive time minus the generator's \
            send time (one clock, one process). The generator, the sink and the node share the machine's \
            cores; their CPU is reported beside the node's. Packets are built before the run and reused: \
            at the end of the pool the generator pauses 10 ms and asks the node, a process of the \
            benchmark's own (`loopix bench serve-node`), to start a new replay epoch (SIGUSR1). Last, one node \
            per packet suite (version 1, the KEM suite), 1 worker each, capacity probes alternating.
            """)

    @Option(help: "Worker counts to measure, comma-separated.") var workers = "1,2"
    @Option(help: "Offered loads as fractions of the measured capacity, comma-separated.")
    var loads = "0.25,0.5,0.75,0.8,0.9,1,1.1,1.25,1.5,2"
    @Option(help: "Connected senders to try at half the capacity, comma-separated.") var senders = "1,4,16,64"
    @Option(help: "Seconds per step (the first --warmup seconds are not measured).") var step = 3.0
    @Option(help: "Seconds of warm-up per step.") var warmup = 0.5
    @Option(help: "Seconds of the memory soak at 1.5 × capacity (0: none; 300 for a long soak).") var soak = 20.0
    @Option(help: "Packets built before the run (2.5 kB each).") var pool = 60000
    @Option(help: "Key epochs of this many seconds in the epochs phase, at capacity in directory mode (0: no phase).")
    var epochSeconds = 5.0
    @Option(help: "Key epochs measured in the epochs phase.") var epochs = 3
    @Option(help: "Event loops of the node (default: its own default, one per four cores).") var eventLoops: Int?
    @Option(help: "The node's eventLoopSliceUs (default: its own default; 0: the kernel's).") var eventLoopSliceUs: Int?
    @Option(help: "Rounds of alternating 1-worker capacity probes, version 1 against the KEM suite (0: none).") var suiteRounds = 5
    @Option(help: "Rounds of saturated throughput with Noise links and with plaintext links, alternating (0: none).")
    var linkRounds = 2
    @Flag(help: "Skip the relay floor: the node's thread hand-offs without crypto (relay_floor, built beside loopix), run after each worker count's node steps at the same rates.")
    var noFloor = false
    @Option(help: "Relay floors to run: plain, sealed (the links' ChaCha20-Poly1305 on its loop per frame, as the node's Noise links), comma-separated.")
    var floorLinks = "plain,sealed"

    private var floorKinds: [FloorLinks]? {
        let kinds = floorLinks.split(separator: ",").map { FloorLinks(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
        return kinds.isEmpty || kinds.contains(nil) ? nil : kinds.compactMap { $0 }
    }
    @OptionGroup var output: BenchOutputOptions

    func validate() throws {
        let workerCounts: [Int] = try numberList(workers, "--workers"), loadFractions: [Double] = try numberList(loads, "--loads")
        let senderCounts: [Int] = try numberList(senders, "--senders")
        guard !workerCounts.isEmpty, workerCounts.allSatisfy({ (1...64).contains($0) }) else {
            throw ValidationError("--workers: a comma-separated list of 1...64")
        }
        guard !loadFractions.isEmpty, loadFractions.allSatisfy({ $0 > 0 && $0 <= 10 }) else {
            throw ValidationError("--loads: a comma-separated list in (0, 10]")
        }
        guard senderCounts.allSatisfy({ (1...1000).contains($0) }) else { throw ValidationError("--senders: 1...1000 each") }
        guard step >= 1, warmup >= 0, warmup < step - 0.5 else { throw ValidationError("--step ≥ 1 and --warmup < step − 0.5") }
        guard soak >= 0, soak <= 3600 else { throw ValidationError("--soak must be 0...3600") }
        guard (5000...400_000).contains(pool) else { throw ValidationError("--pool must be 5000...400000") }
        guard (0...20).contains(suiteRounds) else { throw ValidationError("--suite-rounds must be 0...20") }
        guard epochSeconds == 0 || (2...600).contains(epochSeconds), (1...20).contains(epochs) else {
            throw ValidationError("--epoch-seconds must be 0 or 2...600, --epochs 1...20")
        }
        guard (0...20).contains(linkRounds) else { throw ValidationError("--link-rounds must be 0...20") }
        guard floorKinds != nil else { throw ValidationError("--floor-links: a comma-separated list of plain, sealed") }
    }

    func run() async throws {
        let run = try output.run("node")
        var bench = NodeBench(
            workerCounts: try numberList(workers, "--workers"), loadFractions: try numberList(loads, "--loads"),
            senderCounts: try numberList(senders, "--senders"), stepSeconds: step, warmupSeconds: warmup, soakSeconds: soak,
            poolPackets: pool, eventLoops: eventLoops, eventLoopSliceUs: eventLoopSliceUs, suiteRounds: suiteRounds,
            linkRounds: linkRounds)
        bench.epochSeconds = epochSeconds
        bench.epochs = epochs
        bench.floorLinks = noFloor ? [] : floorKinds ?? []
        let results = try await bench.run(in: run, progress: BenchProgress("node"))
        try results.writeTables(to: run)
        print(results.report())
        try await run.finish(results)
    }

    /// The benchmark's own node: built from its configuration file exactly as `loopix mix` builds
    /// a mix, plus what only a benchmark may do: a new replay epoch on SIGUSR1.
    struct ServeNode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve-node", abstract: "The node process of `loopix bench node` (not for production).",
            shouldDisplay: false)

        @Option(help: "The node's configuration file (JSON), as for `loopix mix`.") var config: String
        @Flag(help: "Plain TCP links, to measure what link encryption costs (this benchmark's node only).")
        var plaintextLinks = false
        @Option(help: "A file the node writes each new replay epoch's number to once it is in force.")
        var replayEpochFile: String?

        func run() async throws {
            let mix = try ConfiguredMix(file: try startNodeProcess(config), path: config, plaintextLinksForBenchmark: plaintextLinks)
            let epochs = ReplayEpochs(node: mix.node, acknowledgeTo: replayEpochFile)
            try await mix.node.runUntilTerminated(logger: mix.logger)
            epochs.cancel()
        }
    }
}
