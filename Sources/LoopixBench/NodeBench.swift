// `loopix bench node`: one node as its own process, fed over TCP by a load generator that only
// writes pre-built packets, its output received by a sink that matches every packet to its send
// time. Throughput against offered load, latency, senders, workers, efficiency, overload, memory.
import Foundation
import LoopixNetwork
import LoopixSphinx

/// What to measure, and how long.
public struct NodeBench: Sendable {
    public var workerCounts: [Int]
    public var loadFractions: [Double]
    public var senderCounts: [Int]
    public var stepSeconds: Double
    public var warmupSeconds: Double
    public var soakSeconds: Double
    public var poolPackets: Int
    public var eventLoops: Int?
    public var eventLoopSliceUs: Int?
    /// Rounds of the link-encryption comparison: in each, the saturated capacity with Noise
    /// links and with plaintext links (0: none).
    public var linkRounds: Int

    public init(workerCounts: [Int], loadFractions: [Double], senderCounts: [Int], stepSeconds: Double, warmupSeconds: Double,
                soakSeconds: Double, poolPackets: Int, eventLoops: Int?, eventLoopSliceUs: Int?, linkRounds: Int = 2) {
        self.linkRounds = linkRounds
        self.workerCounts = workerCounts
        self.loadFractions = loadFractions
        self.senderCounts = senderCounts
        self.stepSeconds = stepSeconds
        self.warmupSeconds = warmupSeconds
        self.soakSeconds = soakSeconds
        self.poolPackets = poolPackets
        self.eventLoops = eventLoops
        self.eventLoopSliceUs = eventLoopSliceUs
    }

    /// Runs every phase (generator alone, a sweep per worker count, senders, soak) with the
    /// node's files and logs in `run`'s folder.
    public func run(in run: BenchRun, progress: BenchProgress) async throws -> NodeBenchResults {
        progress.update("measuring lsx_process on one core")
        let coreBefore = 1 / (try ProcessRateProbe.secondsPerPacket())
        benchLog(String(format: "node: lsx_process alone: %.0f packets/s on one core", coreBefore))

        let setup = try NodeBenchSetup(directory: run.url("work"), eventLoops: eventLoops, eventLoopSliceUs: eventLoopSliceUs)
        let poolSize = poolPackets
        let pool = try PacketPool(count: poolSize, geometry: .standard, nodeKey: setup.nodeKey, next: setup.sinkID) { done in
            progress.update("building packets \(done)/\(poolSize)")
        }
        let sendTimes = SendTimes(count: pool.count)
        let sink = try FrameSink(port: setup.sinkPort, pool: pool, sendTimes: sendTimes)
        sink.start()
        defer { sink.stop() }
        /// A node for `body`, with the sink answering its links as they will come.
        func withNode<T>(workers: Int, log: String, plaintextLinks: Bool = false, _ body: (BenchNode) async throws -> T) async throws -> T {
            sink.expectLinks(as: plaintextLinks ? nil : setup.sinkLinkKey)
            return try await setup.withNode(workers: workers, log: run.url(log), plaintextLinks: plaintextLinks, body)
        }

        // 1. The generator alone, straight into a sink: what it can offer, and at what CPU cost.
        progress.update("generator alone against a sink")
        let alone = try await generatorAlone(pool: pool)
        benchLog(String(format: "node: generator alone: %.0f packets/s (generator %.2f µs CPU/packet, sink %.2f µs CPU/packet)",
                        alone.packetsPerSecond, alone.generatorMicrosecondsPerPacket, alone.sinkMicrosecondsPerPacket))

        let runner = StepRunner(pool: pool, sink: sink, sendTimes: sendTimes, probe: try ProcessRateProbe(packets: 500),
                                step: stepSeconds, warmup: warmupSeconds)
        var sweeps: [WorkerSweep] = []
        for w in workerCounts {
            try await withNode(workers: w, log: "node-w\(w).log") { node in
                progress.update("workers \(w): capacity probe")
                let probeRate = min(0.8 * alone.packetsPerSecond, 1.5 * Double(w) * coreBefore)
                let probe = try await runner.run(node: node, rate: probeRate, label: "probe", loadFraction: .nan, progress: progress)
                var steps = [probe]
                for f in loadFractions {
                    progress.update(String(format: "workers %d: %.2f × capacity", w, f))
                    steps.append(try await runner.run(node: node, rate: f * probe.throughput, label: "sweep", loadFraction: f,
                                                      progress: progress).ofCapacity(probe.throughput))
                }
                sweeps.append(WorkerSweep(workers: w, capacity: probe.throughput,
                                          capacityOverWorkersTimesCore: probe.throughput / (Double(w) * coreBefore), steps: steps))
            }
        }

        let mainWorkers = workerCounts.max()!
        let mainCapacity = sweeps.first { $0.workers == mainWorkers }!.capacity

        // 2. What link encryption costs: the saturated capacity with Noise links and with plain
        // TCP, alternating in one sitting, so that the machine's changes of speed fall on both.
        var linkCost: LinkCost? = nil
        if linkRounds > 0 {
            let probeRate = min(0.8 * alone.packetsPerSecond, 1.5 * Double(mainWorkers) * coreBefore)
            var cost = LinkCost(workers: mainWorkers)
            for round in 0..<linkRounds {
                for plaintext in round % 2 == 0 ? [false, true] : [true, false] {
                    let kind = plaintext ? "plaintext" : "noise"
                    progress.update("link encryption, round \(round + 1): \(kind) links")
                    let step = try await withNode(workers: mainWorkers, log: "node-links-\(kind)-\(round).log", plaintextLinks: plaintext) { node in
                        try await runner.run(node: node, rate: probeRate, label: plaintext ? "plain" : "noise", loadFraction: .nan, progress: progress)
                    }
                    if plaintext { cost.plaintext.append(step) } else { cost.noise.append(step) }
                }
            }
            benchLog(String(format: "node: link encryption, noise ÷ plaintext: throughput %.3f, efficiency %.3f, CPU per packet %.3f",
                            cost.throughputRatio, cost.efficiencyRatio, cost.cpuPerPacketRatio))
            linkCost = cost
        }

        // 3. Latency against the number of connected senders, at half the capacity.
        var senderSteps: [StepResult] = []
        if !senderCounts.isEmpty {
            try await withNode(workers: mainWorkers, log: "node-senders.log") { node in
                for n in senderCounts {
                    progress.update("\(n) senders at 0.5 × capacity")
                    senderSteps.append(try await runner.run(node: node, rate: 0.5 * mainCapacity, label: "senders", loadFraction: 0.5,
                                                            senders: n, progress: progress).ofCapacity(mainCapacity))
                }
            }
        }

        // 4. Memory over a long overload.
        var soak: StepResult? = nil
        if soakSeconds > 0 {
            progress.update("soak: \(Int(soakSeconds)) s at 1.5 × capacity")
            soak = try await withNode(workers: mainWorkers, log: "node-soak.log") { node in
                try await runner.run(node: node, rate: 1.5 * mainCapacity, label: "soak", loadFraction: 1.5,
                                            seconds: soakSeconds + warmupSeconds, retainLatencies: false, progress: progress)
                    .ofCapacity(mainCapacity)
            }
        }
        let coreAfter = 1 / (try ProcessRateProbe.secondsPerPacket())
        progress.done("done")
        return NodeBenchResults(
            coreRateBefore: coreBefore, coreRateAfter: coreAfter, generatorAlone: alone, sweeps: sweeps,
            senders: senderSteps, soak: soak, stepSeconds: stepSeconds, warmupSeconds: warmupSeconds, poolPackets: pool.count,
            aqmTargetMs: 1, linkCost: linkCost,
            targets: NodeTargets.evaluate(sweeps: sweeps, soak: soak, mainWorkers: mainWorkers, linkCost: linkCost))
    }

    private func generatorAlone(pool: PacketPool) async throws -> GeneratorAlone {
        let times = SendTimes(count: pool.count)
        let sink = try FrameSink(pool: nil, sendTimes: nil)
        sink.start()
        defer { sink.stop() }
        guard let fd = connectLoopback(port: sink.port) else { throw BenchError("cannot connect to the sink") }
        defer { close(fd) }
        let cpu0 = sink.threadCPUSeconds
        let generator = LoadGenerator(pool: pool, sendTimes: times, connections: [fd], rate: .infinity, seconds: 1.5)
        generator.start()
        let r = await generator.finished()
        try await Task.sleep(for: .milliseconds(200))
        let received = sink.count
        return GeneratorAlone(packetsPerSecond: Double(received) / r.seconds, sent: r.sent, received: received,
                              generatorMicrosecondsPerPacket: r.cpuSeconds / Double(max(1, r.sent)) * 1e6,
                              sinkMicrosecondsPerPacket: (sink.threadCPUSeconds - cpu0) / Double(max(1, received)) * 1e6)
    }
}

extension StepResult {
    /// The step with its goodput as a fraction of `capacity`.
    func ofCapacity(_ capacity: Double) -> StepResult {
        var s = self
        s.goodputOfCapacity = throughput / capacity
        return s
    }
}
