// `loopix bench node`: one node as its own process (`loopix mix --config`), fed over TCP by a
// load generator that only writes pre-built packets, its output received by a sink that matches
// every packet to its send time. Throughput against offered load, latency, senders, workers,
// efficiency, overload behaviour and memory.
import ArgumentParser
import Foundation
import LoopixBench
import LoopixNetwork
import LoopixSphinx

struct BenchNodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "A node process under load: throughput, latency, workers, efficiency, overload, memory.",
        discussion: """
            Every packet is a RELAY with zero delay from the node to the sink, so the sink sees each one \
            as soon as the node has unwrapped it; latency is the sink's receive time minus the generator's \
            send time (one clock, one process). The generator, the sink and the node share the machine's \
            cores; their CPU is reported beside the node's. Packets are built before the run and reused: \
            at the end of the pool the generator pauses 10 ms and asks the node (SIGUSR1, enabled only \
            by LOOPIX_BENCH_REPLAY_RESET=1 in its environment) to start a new replay epoch.
            """)

    @Option(help: "Worker counts to measure, comma-separated.") var workers = "1,2"
    @Option(help: "Offered loads as fractions of the measured capacity, comma-separated.")
    var loads = "0.25,0.5,0.75,0.9,1,1.1,1.25,1.5,2"
    @Option(help: "Connected senders to try at half the capacity, comma-separated.") var senders = "1,4,16,64"
    @Option(help: "Seconds per step (the first --warmup seconds are not measured).") var step = 3.0
    @Option(help: "Seconds of warm-up per step.") var warmup = 0.5
    @Option(help: "Seconds of the memory soak at 1.5 × capacity (0: none); the issue asks 300.") var soak = 20.0
    @Option(help: "Packets built before the run (2.5 kB each).") var pool = 60000
    @Option(help: "Event loops of the node (default: its own default, one per four cores).") var eventLoops: Int?
    @Option(help: "The node's eventLoopSliceUs (default: its own default; 0: the kernel's).") var eventLoopSliceUs: Int?
    @OptionGroup var output: BenchOutputOptions

    func validate() throws {
        guard benchInts(workers).allSatisfy({ (1...64).contains($0) }), !benchInts(workers).isEmpty else {
            throw ValidationError("--workers: a comma-separated list of 1...64")
        }
        guard !benchDoubles(loads).isEmpty, benchDoubles(loads).allSatisfy({ $0 > 0 && $0 <= 10 }) else {
            throw ValidationError("--loads: a comma-separated list in (0, 10]")
        }
        guard benchInts(senders).allSatisfy({ (1...1000).contains($0) }) else { throw ValidationError("--senders: 1...1000 each") }
        guard step >= 1, warmup >= 0, warmup < step - 0.5 else { throw ValidationError("--step ≥ 1 and --warmup < step − 0.5") }
        guard soak >= 0, soak <= 3600 else { throw ValidationError("--soak must be 0...3600") }
        guard (5000...400_000).contains(pool) else { throw ValidationError("--pool must be 5000...400000") }
    }

    func run() throws {
        let run = try BenchRun("node", options: output)
        let progress = BenchProgress("node")
        let workerCounts = benchInts(workers), loadFractions = benchDoubles(loads), senderCounts = benchInts(senders)

        progress.update("measuring lsx_process on one core")
        let coreBefore = 1 / (try measureProcessSeconds())
        benchLog(String(format: "node: lsx_process alone: %.0f packets/s on one core", coreBefore))

        let bench = try NodeBenchSetup(directory: run.url("work"), eventLoops: eventLoops,
                                       eventLoopSliceUs: eventLoopSliceUs)
        let poolSize = pool
        let pool = try PacketPool(count: poolSize, geometry: .standard, nodeKey: bench.nodeKey, next: bench.sinkID) { done in
            progress.update("building packets \(done)/\(poolSize)")
        }
        let sendTimes = SendTimes(count: pool.count)
        let sink = try FrameSink(port: bench.sinkPort, pool: pool, sendTimes: sendTimes)
        sink.start()
        defer { sink.stop() }

        // 1. The generator alone, straight into a sink: what it can offer, and at what CPU cost.
        progress.update("generator alone against a sink")
        let alone = try generatorAlone(pool: pool)
        benchLog(String(format: "node: generator alone: %.0f packets/s (generator %.2f µs CPU/packet, sink %.2f µs CPU/packet)",
                        alone.packetsPerSecond, alone.generatorMicrosecondsPerPacket, alone.sinkMicrosecondsPerPacket))

        let runner = StepRunner(pool: pool, sink: sink, sendTimes: sendTimes, probe: try ProcessRateProbe(packets: 500),
                                step: step, warmup: warmup)
        var sweeps: [WorkerSweep] = []
        for w in workerCounts {
            let node = try bench.startNode(workers: w, log: run.url("node-w\(w).log"))
            defer { node.stop() }
            progress.update("workers \(w): capacity probe")
            let probeRate = min(0.8 * alone.packetsPerSecond, 1.5 * Double(w) * coreBefore)
            let probe = try runner.run(node: node, rate: probeRate, label: "probe", loadFraction: .nan, progress: progress)
            let capacity = probe.throughput
            var steps = [probe]
            for f in loadFractions {
                progress.update(String(format: "workers %d: %.2f × capacity", w, f))
                var s = try runner.run(node: node, rate: f * capacity, label: "sweep", loadFraction: f, progress: progress)
                s.goodputOfCapacity = s.throughput / capacity
                steps.append(s)
            }
            sweeps.append(WorkerSweep(workers: w, capacity: capacity, capacityOverWorkersTimesCore: capacity / (Double(w) * coreBefore),
                                      steps: steps))
        }

        // 2. Latency against the number of connected senders, at half the capacity.
        let mainWorkers = workerCounts.max()!
        let mainCapacity = sweeps.first { $0.workers == mainWorkers }!.capacity
        var senderSteps: [StepResult] = []
        if !senderCounts.isEmpty {
            let node = try bench.startNode(workers: mainWorkers, log: run.url("node-senders.log"))
            for n in senderCounts {
                progress.update("\(n) senders at 0.5 × capacity")
                var s = try runner.run(node: node, rate: 0.5 * mainCapacity, label: "senders", loadFraction: 0.5, senders: n, progress: progress)
                s.goodputOfCapacity = s.throughput / mainCapacity
                senderSteps.append(s)
            }
            node.stop()
        }

        // 3. Memory over a long overload.
        var soakResult: StepResult? = nil
        if soak > 0 {
            let node = try bench.startNode(workers: mainWorkers, log: run.url("node-soak.log"))
            progress.update("soak: \(Int(soak)) s at 1.5 × capacity")
            var s = try runner.run(node: node, rate: 1.5 * mainCapacity, label: "soak", loadFraction: 1.5, seconds: soak + warmup,
                                   retainLatencies: false, progress: progress)
            s.goodputOfCapacity = s.throughput / mainCapacity
            soakResult = s
            node.stop()
        }
        let coreAfter = 1 / (try measureProcessSeconds())
        progress.done("done")

        let results = NodeBenchResults(
            coreRateBefore: coreBefore, coreRateAfter: coreAfter, generatorAlone: alone, sweeps: sweeps,
            senders: senderSteps, soak: soakResult, stepSeconds: step, warmupSeconds: warmup, poolPackets: pool.count,
            aqmTargetMs: 1, targets: NodeTargets.evaluate(sweeps: sweeps, soak: soakResult, mainWorkers: mainWorkers))
        try write(results, run)
        results.printReport()
        try run.finish(results)
    }

    private func generatorAlone(pool: PacketPool) throws -> GeneratorAlone {
        let times = SendTimes(count: pool.count)
        let sink = try FrameSink(pool: nil, sendTimes: nil)
        sink.start()
        defer { sink.stop() }
        guard let fd = connectLoopback(port: sink.port) else { throw ValidationError("cannot connect to the sink") }
        defer { close(fd) }
        let cpu0 = sink.threadCPUSeconds
        let generator = LoadGenerator(pool: pool, sendTimes: times, connections: [fd], rate: .infinity, seconds: 1.5)
        generator.start()
        let r = generator.wait()
        usleep(200_000)
        let received = sink.count
        return GeneratorAlone(packetsPerSecond: Double(received) / r.seconds, sent: r.sent, received: received,
                              generatorMicrosecondsPerPacket: r.cpuSeconds / Double(max(1, r.sent)) * 1e6,
                              sinkMicrosecondsPerPacket: (sink.threadCPUSeconds - cpu0) / Double(max(1, received)) * 1e6)
    }

    private func write(_ r: NodeBenchResults, _ run: BenchRun) throws {
        let header = ["phase", "workers", "senders", "load_fraction", "offered_requested", "offered_achieved", "throughput",
                      "goodput_of_capacity", "latency_p50_ms", "latency_p99_ms", "latency_max_ms", "latency_samples",
                      "sojourn_p50_ms", "sojourn_p99_ms", "sojourn_above_2ms", "hop_overhead_p99_ms", "node_cores", "efficiency",
                      "core_rate", "core_rate_around", "outside_workers", "generator_cores", "sink_cores", "other_cores", "stolen_cores", "rss_max_mb", "drops"]
        func row(_ s: StepResult) -> [String] {
            [s.label, "\(s.workers)", "\(s.senders)", csv(s.loadFraction, 3), csv(s.offeredRequested, 0), csv(s.offeredAchieved, 0),
             csv(s.throughput, 0), csv(s.goodputOfCapacity, 4), csv(s.latencyMs.p50, 4), csv(s.latencyMs.p99, 4), csv(s.latencyMs.max, 3),
             "\(s.latencyMs.count)", csv(s.sojournP50Ms ?? .nan, 4), csv(s.sojournP99Ms ?? .nan, 4), csv(s.sojournAbove2ms ?? .nan, 5),
             csv(s.hopOverheadP99Ms ?? .nan, 4), csv(s.nodeCores, 3), csv(s.efficiency, 3), csv(s.coreRate, 0), csv(s.coreRateAround, 0), csv(s.outsideWorkers, 3), csv(s.generatorCores, 3), csv(s.sinkCores, 3),
             csv(s.otherCores, 3), csv(s.stolenCores, 3), csv(s.rssMaxMB, 1), "\"" + s.drops.sorted { $0.key < $1.key }.map { "\($0.key)=\(Int($0.value))" }.joined(separator: " ") + "\""]
        }
        try run.writeCSV("throughput.csv", header: header, rows: r.sweeps.flatMap { $0.steps.map(row) })
        try run.writeCSV("senders.csv", header: header, rows: r.senders.map(row))
        var rss: [[String]] = []
        for sweep in r.sweeps { for s in sweep.steps { rss += s.rssSeries.map { ["w\(sweep.workers)-\(s.label)", csv($0.seconds, 2), csv($0.megabytes, 2)] } } }
        if let soak = r.soak { rss += soak.rssSeries.map { ["soak", csv($0.seconds, 2), csv($0.megabytes, 2)] } }
        try run.writeCSV("rss.csv", header: ["phase", "seconds", "rss_mb"], rows: rss)
    }
}

func benchInts(_ text: String) -> [Int] { text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
func benchDoubles(_ text: String) -> [Double] { text.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) } }

// MARK: results

struct GeneratorAlone: Codable {
    var packetsPerSecond: Double
    var sent: Int
    var received: Int
    var generatorMicrosecondsPerPacket: Double
    var sinkMicrosecondsPerPacket: Double
}

struct RSSSample: Codable {
    var seconds: Double
    var megabytes: Double
}

/// One step: a rate held for a while against one node process.
struct StepResult: Codable {
    var label: String
    var workers: Int
    var senders: Int
    var loadFraction: Double
    var offeredRequested: Double
    var offeredAchieved: Double
    var throughput: Double
    var goodputOfCapacity: Double = .nan
    var windowSeconds: Double
    /// Sink receive time minus generator send time, for packets sent in the window (ms).
    var latencyMs: Summary
    var sojournP50Ms: Double?
    var sojournP99Ms: Double?
    var sojournAbove2ms: Double?
    var hopOverheadP99Ms: Double?
    var nodeCores: Double
    /// The node's CPU outside its crypto workers (event loops, timers, everything else) per
    /// CPU-second of the workers, measured in the same window of the same process: what the
    /// node spends beside the crypto, free of the host's changes of speed.
    var outsideWorkers: Double
    var efficiency: Double
    /// The single-core `lsx_process` rate during the step (CPU time of samples taken through the window);
    /// efficiency is against it.
    var coreRate: Double
    /// The single-core rate just before and after the step (wall time), for comparison.
    var coreRateAround: Double
    var generatorCores: Double
    var sinkCores: Double
    /// Cores busy on the machine outside the node and this benchmark process (other tenants),
    /// and cores stolen by the hypervisor, during the window.
    var otherCores: Double
    var stolenCores: Double
    var generatorLagP50Ms: Double
    var generatorLagMaxMs: Double
    var unknownPackets: Int
    var drops: [String: Double]
    var rssMaxMB: Double
    var rssSeries: [RSSSample]
}

struct WorkerSweep: Codable {
    var workers: Int
    var capacity: Double
    var capacityOverWorkersTimesCore: Double
    var steps: [StepResult]
}

struct NodeTarget: Codable {
    var name: String
    var measured: String
    var target: String
    var met: Bool
}

enum NodeTargets {
    static func evaluate(sweeps: [WorkerSweep], soak: StepResult?, mainWorkers: Int) -> [NodeTarget] {
        var out: [NodeTarget] = []
        guard let main = sweeps.first(where: { $0.workers == mainWorkers }) else { return out }
        func at(_ f: Double, _ sweep: WorkerSweep = main) -> StepResult? {
            sweep.steps.first { $0.label == "sweep" && abs($0.loadFraction - f) < 1e-9 }
        }
        for f in [0.5, 0.9] {
            guard let s = at(f) else { continue }
            // What queueing alone costs at this load: workers that only unwrap, at this step's
            // single-core rate, with Poisson arrivals (M/D/c). A first-come-first-served node
            // whose workers take this long per packet does no better, whatever its I/O costs.
            let floor = IdealQueue.latency(workers: mainWorkers, serviceTime: 1 / s.coreRate, load: f).scaled(by: 1000)
            out.append(NodeTarget(name: "latency p50 at \(Int(f * 100)) % (\(mainWorkers) workers)",
                                  measured: String(format: "%.3f ms (queueing alone %.3f)", s.latencyMs.p50, floor.p50),
                                  target: "<= 0.3 ms", met: s.latencyMs.p50 <= 0.3))
            out.append(NodeTarget(name: "latency p99 at \(Int(f * 100)) % (\(mainWorkers) workers)",
                                  measured: String(format: "%.3f ms (queueing alone %.3f)", s.latencyMs.p99, floor.p99),
                                  target: "<= 2 ms", met: s.latencyMs.p99 <= 2))
        }
        for sweep in sweeps {
            // Saturated (the capacity probe: more offered than the node can take), where the node
            // is CPU-bound and the ratio is the pipeline's cost per packet; then at 1 × capacity,
            // where idle gaps add wake-ups that a saturated node does not pay.
            if let probe = sweep.steps.first(where: { $0.label == "probe" }) {
                out.append(NodeTarget(name: "efficiency saturated (\(sweep.workers) workers)",
                                      measured: String(format: "%.2f (outside workers %.2f)", probe.efficiency, probe.outsideWorkers),
                                      target: ">= 0.8", met: probe.efficiency >= 0.8))
            }
            guard let s = at(1.0, sweep) ?? at(0.9, sweep) else { continue }
            out.append(NodeTarget(name: "efficiency at \(String(format: "%.2g", s.loadFraction)) × capacity (\(sweep.workers) workers)",
                                  measured: String(format: "%.2f (outside workers %.2f)", s.efficiency, s.outsideWorkers),
                                  target: ">= 0.8", met: s.efficiency >= 0.8))
        }
        for f in [1.5, 2.0] {
            guard let s = at(f) else { continue }
            out.append(NodeTarget(name: "goodput at \(f) × capacity", measured: String(format: "%.1f %%", s.goodputOfCapacity * 100),
                                  target: ">= 95 %", met: s.goodputOfCapacity >= 0.95))
            if let p99 = s.sojournP99Ms, let above = s.sojournAbove2ms {
                out.append(NodeTarget(name: "sojourn p99 at \(f) × capacity", measured: String(format: "%.2f ms (%.2f %% above 2 ms)", p99, above * 100),
                                      target: "<= 2 ms (2 × target)", met: above <= 0.01))
            }
        }
        if let soak, soak.rssSeries.count >= 4 {
            let half = Array(soak.rssSeries[(soak.rssSeries.count / 2)...])
            let slope = linearSlope(half.map(\.seconds), half.map(\.megabytes)) * 60
            let range = (half.map(\.megabytes).max() ?? 0) - (half.map(\.megabytes).min() ?? 0)
            out.append(NodeTarget(name: "RSS over the second half of a \(Int(soak.windowSeconds)) s soak at 1.5 ×",
                                  measured: String(format: "%.2f MB/min (range %.1f MB, max %.1f MB)", slope, range, soak.rssMaxMB),
                                  target: "flat", met: range < max(2, 0.02 * soak.rssMaxMB)))
        }
        return out
    }
}

func linearSlope(_ x: [Double], _ y: [Double]) -> Double {
    let mx = Statistics.mean(x), my = Statistics.mean(y)
    let sxx = zip(x, x).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - mx) }
    let sxy = zip(x, y).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
    return sxx > 0 ? sxy / sxx : 0
}

struct NodeBenchResults: Codable {
    var coreRateBefore: Double
    var coreRateAfter: Double
    var generatorAlone: GeneratorAlone
    var sweeps: [WorkerSweep]
    var senders: [StepResult]
    var soak: StepResult?
    var stepSeconds: Double
    var warmupSeconds: Double
    var poolPackets: Int
    var aqmTargetMs: Double
    var targets: [NodeTarget]

    func printReport() {
        print(String(format: "lsx_process alone on one core: %.0f packets/s before, %.0f after (%.1f µs per packet)", coreRateBefore,
                     coreRateAfter, 2e6 / (coreRateBefore + coreRateAfter)))
        print(String(format: "generator alone into a sink: %.0f packets/s; %.2f µs CPU per packet (generator), %.2f (sink)",
                     generatorAlone.packetsPerSecond, generatorAlone.generatorMicrosecondsPerPacket, generatorAlone.sinkMicrosecondsPerPacket))
        for sweep in sweeps {
            print(String(format: "\nworkers %d: capacity %.0f packets/s = %.2f × workers × single-core lsx_process rate", sweep.workers,
                         sweep.capacity, sweep.capacityOverWorkersTimesCore))
            printSteps(sweep.steps)
        }
        print("""
            (effic.: relayed per node CPU-second ÷ the single-core rate sampled through the step; outside: \
            the node's CPU outside its crypto workers per CPU-second of the workers, same process, same window)
            """)
        if !senders.isEmpty {
            print("\nconnected senders at 0.5 × capacity:")
            printSteps(senders)
        }
        if let soak {
            print(String(format: "\nsoak %.0f s at 1.5 × capacity: goodput %.1f %% of capacity, sojourn p99 %.2f ms, RSS max %.1f MB", soak.windowSeconds,
                         soak.goodputOfCapacity * 100, soak.sojournP99Ms ?? .nan, soak.rssMaxMB))
        }
        print("\ntargets:")
        for t in targets { print("  " + pad(t.name, 58) + pad(t.measured, 44) + pad(t.target, 22) + (t.met ? "met" : "NOT met")) }
    }

    private func printSteps(_ steps: [StepResult]) {
        print("  " + pad("step", 8) + pad("load", 6) + pad("snd", 4) + pad("offered/s", 10) + pad("relayed/s", 10) + pad("lat p50", 8) + pad("lat p99", 8)
            + pad("soj p99", 8) + pad("node cpu", 9) + pad("effic.", 7) + pad("outside", 8) + pad("gen cpu", 8) + pad("sink cpu", 9) + pad("other", 6) + pad("RSS MB", 7) + "drops")
        for s in steps {
            let drops = s.drops.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \(Int($0.value))" }.joined(separator: ", ")
            print("  " + pad(s.label, 8) + pad(s.loadFraction.isNaN ? "-" : String(format: "%.2f", s.loadFraction), 6) + pad("\(s.senders)", 4)
                + pad(String(format: "%.0f", s.offeredAchieved), 10) + pad(String(format: "%.0f", s.throughput), 10)
                + pad(String(format: "%.3f", s.latencyMs.p50), 8) + pad(String(format: "%.3f", s.latencyMs.p99), 8)
                + pad(s.sojournP99Ms.map { String(format: "%.3f", $0) } ?? "-", 8) + pad(String(format: "%.2f", s.nodeCores), 9)
                + pad(String(format: "%.2f", s.efficiency), 7) + pad(String(format: "%.2f", s.outsideWorkers), 8)
                + pad(String(format: "%.2f", s.generatorCores), 8)
                + pad(String(format: "%.2f", s.sinkCores), 9) + pad(String(format: "%.2f", s.otherCores + s.stolenCores), 6)
                + pad(String(format: "%.0f", s.rssMaxMB), 7) + (drops.isEmpty ? "none" : drops))
        }
    }
}

// MARK: the node under test

/// Keys, a signed two-node topology (the node as a mix, the sink as a provider) and configurations.
struct NodeBenchSetup {
    let directory: URL
    let nodeKey: SecretKey
    let sinkID: NodeID
    let sinkPort: Int
    let nodePort: Int
    private let authority: String
    private let eventLoops: Int?
    private let eventLoopSliceUs: Int?

    init(directory: URL, eventLoops: Int?, eventLoopSliceUs: Int?) throws {
        self.directory = directory
        self.eventLoops = eventLoops
        self.eventLoopSliceUs = eventLoopSliceUs
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let authorityKey = KeyFile.generate()
        let node = KeyFile.generate(), sink = KeyFile.generate()
        try node.write(to: directory.appendingPathComponent("node.key").path)
        nodeKey = node.sphinxKey
        nodePort = try freeLoopbackPort()
        sinkPort = try freeLoopbackPort()
        sinkID = .random()
        var parameters = NetworkParameters()
        parameters.layers = 1
        parameters.mixLoopRate = 0
        let topology = Topology(parameters: parameters, nodes: [
            NodeDescriptor(id: .random(), role: .mix, layer: 1, host: "127.0.0.1", port: nodePort, publicKey: node.sphinxKey.publicKey,
                           signingKey: node.signingKey.verifyingKey, clientPort: nil),
            NodeDescriptor(id: sinkID, role: .provider, layer: 0, host: "127.0.0.1", port: sinkPort, publicKey: sink.sphinxKey.publicKey,
                           signingKey: sink.signingKey.verifyingKey, clientPort: try freeLoopbackPort()),
        ])
        try SignedTopology.sign(topology, with: authorityKey.signingKey).write(to: directory.appendingPathComponent("topology.json").path)
        authority = authorityKey.signingKey.verifyingKey.hex
    }

    /// Writes the node's configuration for `workers` and starts `loopix mix` on it.
    func startNode(workers: Int, log: URL) throws -> BenchNodeProcess {
        let metricsPort = try freeLoopbackPort()
        var config: [String: Any] = [
            "topology": "topology.json", "authority": authority, "key": "node.key", "listenHost": "127.0.0.1",
            "metricsPort": metricsPort, "workers": workers, "sendLoops": false, "logLevel": "warning",
        ]
        if let eventLoops { config["eventLoops"] = eventLoops }
        if let eventLoopSliceUs { config["eventLoopSliceUs"] = eventLoopSliceUs }
        let path = directory.appendingPathComponent("node-w\(workers).json")
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: path)
        let node = try BenchNodeProcess(config: path.path, log: log, workers: workers, port: nodePort, metricsPort: metricsPort)
        try node.waitReady()
        return node
    }
}

/// A `loopix mix` child process.
final class BenchNodeProcess: @unchecked Sendable {
    let process = Process()
    let workers: Int
    let port: Int
    let metricsPort: Int
    var pid: Int32 { process.processIdentifier }

    init(config: String, log: URL, workers: Int, port: Int, metricsPort: Int) throws {
        self.workers = workers
        self.port = port
        self.metricsPort = metricsPort
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["mix", "--config", config]
        var environment = ProcessInfo.processInfo.environment
        environment["LOOPIX_BENCH_REPLAY_RESET"] = "1"
        environment["LOOPIX_PARENT_PID"] = "\(getpid())"
        process.environment = environment
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    func waitReady() throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if !process.isRunning { throw ValidationError("the node exited at start (status \(process.terminationStatus)); see its log") }
            if scrapeMetrics(port: metricsPort, timeout: 0.5) != nil, let fd = connectLoopback(port: port) {
                close(fd)
                return
            }
            usleep(50_000)
        }
        throw ValidationError("the node did not start listening within 20 s")
    }

    func rotateReplay() { kill(pid, SIGUSR1) }
    var cpuSeconds: Double { ProcessProbe.cpuSeconds(pid: pid) ?? 0 }
    /// CPU seconds of the node's crypto workers so far: the threads of Dispatch's user-initiated
    /// pool, which in a `loopix mix` process only the crypto queue uses (their kernel name is
    /// the pool's, cut to 15 characters).
    var workerCPUSeconds: Double {
        ProcessProbe.threadCPUSeconds(pid: pid).filter { $0.name.hasSuffix("initiated-qos") }.reduce(0) { $0 + $1.seconds }
    }
    var residentMB: Double { Double(ProcessProbe.residentBytes(pid: pid) ?? 0) / 1_048_576 }
    var metrics: MetricSamples { scrapeMetrics(port: metricsPort, timeout: 2) ?? MetricSamples() }

    func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(8)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Runs one step: a new replay epoch, fresh connections, the generator at `rate` for `seconds`,
/// and the node's CPU, metrics and memory read at the edges of the measured window.
struct StepRunner {
    let pool: PacketPool
    let sink: FrameSink
    let sendTimes: SendTimes
    /// Measures the single-core `lsx_process` rate all through each step's window (a sample
    /// every 0.2 s, in CPU time): a step's efficiency is against its median, so that the shared
    /// machine's changes of speed, which slow the reference and the node alike, cancel in the
    /// ratio. The rate just before and after the step (wall time) is reported beside it.
    let probe: ProcessRateProbe
    private let reference: ConcurrentReference
    let step: Double
    let warmup: Double
    private static let position = IndexBox()

    init(pool: PacketPool, sink: FrameSink, sendTimes: SendTimes, probe: ProcessRateProbe, step: Double, warmup: Double) {
        self.pool = pool
        self.sink = sink
        self.sendTimes = sendTimes
        self.probe = probe
        self.reference = ConcurrentReference(probe: probe)
        self.step = step
        self.warmup = warmup
    }

    func run(node: BenchNodeProcess, rate: Double, label: String, loadFraction: Double, senders: Int = 1, seconds: Double? = nil,
             retainLatencies: Bool = true, progress: BenchProgress) throws -> StepResult {
        let seconds = seconds ?? step
        node.rotateReplay()
        usleep(30_000)
        let referenceBefore = probe.secondsPerPacket(rounds: 3)
        sink.reset(retain: retainLatencies)
        let connections = try (0..<senders).map { _ in
            guard let fd = connectLoopback(port: node.port) else { throw ValidationError("cannot connect to the node") }
            return fd
        }
        defer { for fd in connections { close(fd) } }
        let generator = LoadGenerator(pool: pool, sendTimes: sendTimes, connections: connections, rate: rate, seconds: seconds,
                                      startIndex: Self.position.value, seed: UInt64(Self.position.value) &+ 11) { node.rotateReplay() }
        let start = benchNanoseconds()
        generator.start()
        var rss: [RSSSample] = []
        func sampleRSS() { rss.append(RSSSample(seconds: Double(benchNanoseconds() - start) / 1e9, megabytes: node.residentMB)) }
        sampleRSS()
        usleep(UInt32(warmup * 1e6))
        let windowStart = benchNanoseconds()
        let cpu0 = node.cpuSeconds, workerCPU0 = node.workerCPUSeconds, sent0 = generator.sent, sinkCPU0 = sink.threadCPUSeconds
        let machine0 = ProcessProbe.machineCPUSeconds(), self0 = ProcessProbe.selfCPUSeconds()
        let metrics0 = node.metrics
        reference.start()
        let end = start + UInt64(seconds * 1e9)
        var lastPrint = Date.distantPast
        while benchNanoseconds() + 250_000_000 < end {
            usleep(250_000)
            sampleRSS()
            if Date().timeIntervalSince(lastPrint) > 1 {
                lastPrint = Date()
                let elapsed = Double(benchNanoseconds() - start) / 1e9
                progress.update(String(format: "%@, %d workers, %.0f/s offered, %d senders: %.0f of %.0f s, %d relayed", label, node.workers,
                                       rate, senders, elapsed, seconds, sink.count))
            }
        }
        while benchNanoseconds() < end { usleep(2000) }
        let windowEnd = benchNanoseconds()
        let cpu1 = node.cpuSeconds, workerCPU1 = node.workerCPUSeconds, sent1 = generator.sent, sinkCPU1 = sink.threadCPUSeconds
        let machine1 = ProcessProbe.machineCPUSeconds(), self1 = ProcessProbe.selfCPUSeconds()
        let metrics1 = node.metrics
        let referenceDuring = reference.stop()
        sampleRSS()
        let g = generator.wait()
        Self.position.value = (Self.position.value + g.sent) % pool.count
        usleep(200_000)
        let snap = sink.snapshot()
        let coreRateAround = 2 / (referenceBefore + probe.secondsPerPacket(rounds: 3))
        let coreRate = referenceDuring.map { 1 / $0 } ?? coreRateAround

        let window = Double(windowEnd - windowStart) / 1e9
        var relayed = 0
        var latencies: [Double] = []
        if retainLatencies {
            for (r, s) in zip(snap.received, snap.sent) {
                if r >= windowStart && r < windowEnd { relayed += 1 }
                if s >= windowStart && s < windowEnd && r >= s { latencies.append(Double(r - s) / 1e6) }
            }
        } else {
            // Long soaks keep counts only: relayed in the window from the node's own counter.
            relayed = Int(metrics1.total("loopix_packets_out_total") - metrics0.total("loopix_packets_out_total"))
        }
        let sojourn = BucketHistogram(samples: metrics1.values, name: "loopix_crypto_sojourn_seconds")
            .subtracting(BucketHistogram(samples: metrics0.values, name: "loopix_crypto_sojourn_seconds"))
        let overhead = BucketHistogram(samples: metrics1.values, name: "loopix_hop_overhead_seconds")
            .subtracting(BucketHistogram(samples: metrics0.values, name: "loopix_hop_overhead_seconds"))
        let drops1 = metrics1.byLabel("loopix_packets_dropped_total", "cause"), drops0 = metrics0.byLabel("loopix_packets_dropped_total", "cause")
        let drops = drops1.reduce(into: [String: Double]()) { $0[$1.key] = $1.value - (drops0[$1.key] ?? 0) }
        let nodeCPU = cpu1 - cpu0, workerCPU = workerCPU1 - workerCPU0
        return StepResult(
            label: label, workers: node.workers,
            senders: senders, loadFraction: loadFraction, offeredRequested: rate,
            offeredAchieved: Double(sent1 - sent0) / window, throughput: Double(relayed) / window, windowSeconds: window,
            latencyMs: Summary(latencies), sojournP50Ms: sojourn.quantile(0.5).map { $0 * 1000 },
            sojournP99Ms: sojourn.quantile(0.99).map { $0 * 1000 }, sojournAbove2ms: sojourn.fractionAbove(0.002),
            hopOverheadP99Ms: overhead.quantile(0.99).map { $0 * 1000 }, nodeCores: nodeCPU / window,
            outsideWorkers: workerCPU > 0 ? (nodeCPU - workerCPU) / workerCPU : .nan,
            efficiency: nodeCPU > 0 ? Double(relayed) / nodeCPU / coreRate : 0, coreRate: coreRate, coreRateAround: coreRateAround, generatorCores: g.cpuSeconds / g.seconds,
            sinkCores: (sinkCPU1 - sinkCPU0) / window,
            otherCores: max(0, (machine1.busy - machine0.busy) - nodeCPU - (self1 - self0)) / window,
            stolenCores: (machine1.steal - machine0.steal) / window, generatorLagP50Ms: g.lagP50Ms, generatorLagMaxMs: g.lagMaxMs,
            unknownPackets: snap.unknown, drops: drops, rssMaxMB: rss.map(\.megabytes).max() ?? 0, rssSeries: rss)
    }
}

/// Where in the pool the next step starts, so consecutive steps do not resend the same packets first.
private final class IndexBox: @unchecked Sendable {
    var value = 0
}
