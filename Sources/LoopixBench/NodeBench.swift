// `loopix bench node`: one node as its own process, fed over TCP by a load generator that only
// writes pre-built packets, its output received by a sink that matches every packet to its send
// time. Throughput against offered load, latency, senders, workers, efficiency, overload, memory,
// and the packet suites' capacities side by side.
import Foundation
import LoopixSim
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
    /// The suites compared side by side after the main program (which runs on version 1, the default).
    public var suites: [PacketSuite]
    /// Alternating capacity probes per suite in that comparison (0: none).
    public var suiteRounds: Int
    /// The epochs phase: key epochs of this length (0: no phase), and how many are measured.
    public var epochSeconds: Double = 5
    public var epochs: Int = 3
    /// Rounds of the link-encryption comparison: in each, the saturated capacity with Noise
    /// links and with plaintext links (0: none).
    public var linkRounds: Int
    /// The relay floors run after each worker count's node steps, at the same rates (empty: no floor phase).
    public var floorLinks: [FloorLinks] = FloorLinks.allCases

    public init(workerCounts: [Int], loadFractions: [Double], senderCounts: [Int], stepSeconds: Double, warmupSeconds: Double,
                soakSeconds: Double, poolPackets: Int, eventLoops: Int?, eventLoopSliceUs: Int?,
                suites: [PacketSuite] = [.v1, .kemX25519], suiteRounds: Int = 5, linkRounds: Int = 2) {
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
        self.suites = suites
        self.suiteRounds = suiteRounds
    }

    /// Runs every phase (generator alone, a sweep per worker count, senders, soak, the suites side by side) with the
    /// node's files and logs in `run`'s folder.
    public func run(in run: BenchRun, progress: BenchProgress) async throws -> NodeBenchResults {
        progress.update("measuring lsx_process on one core")
        let coreBefore = 1 / (try ProcessRateProbe.secondsPerPacket())
        benchLog(String(format: "node: lsx_process alone: %.0f packets/s on one core", coreBefore))
        progress.update("measuring what key epochs add to a packet")
        let epochShare = try ProcessRateProbe.epochMachineryShare()
        benchLog(String(format: "node: the epoch machinery adds %+.2f %% to a packet", epochShare * 100))

        let setup = try NodeBenchSetup(directory: run.url("work"), eventLoops: eventLoops, eventLoopSliceUs: eventLoopSliceUs,
                                       poolPackets: poolPackets)
        let rig = try setup.rig(step: stepSeconds, warmup: warmupSeconds, progress: progress)
        let (pool, sink, runner) = (rig.pool, rig.sink, rig.runner)
        defer { sink.stop() }
        /// A node for `body`, with the sink answering its links as they will come.
        func withNode<T>(workers: Int, log: String, plaintextLinks: Bool = false, _ body: (BenchNode) async throws -> T) async throws -> T {
            sink.expectLinks(as: plaintextLinks ? nil : setup.sinkLinkKey)
            sink.expectPassedThrough(false)
            return try await setup.withNode(workers: workers, log: run.url(log), plaintextLinks: plaintextLinks, body)
        }
        // The relay floors with `workers`, beside the node: each of its steps is followed by
        // theirs at the same offered rate, so that the machine's changes of speed fall on both.
        func withFloors<T>(workers: Int, _ body: ([BenchNode]) async throws -> T) async throws -> T {
            try await setup.withFloors(floorLinks, workers: workers, packetBytes: pool.frameBytes - 6,
                                       log: { run.url("floor-\($0.rawValue)-w\(workers).log") }, body)
        }

        // 1. The generator alone, straight into a sink: what it can offer, and at what CPU cost.
        progress.update("generator alone against a sink")
        let alone = try await generatorAlone(pool: pool)
        benchLog(String(format: "node: generator alone: %.0f packets/s (generator %.2f µs CPU/packet, sink %.2f µs CPU/packet)",
                        alone.packetsPerSecond, alone.generatorMicrosecondsPerPacket, alone.sinkMicrosecondsPerPacket))

        var sweeps: [WorkerSweep] = []
        for w in workerCounts {
            try await withNode(workers: w, log: "node-w\(w).log") { node in
                progress.update("workers \(w): capacity probe")
                let probeRate = min(0.8 * alone.packetsPerSecond, 1.5 * Double(w) * coreBefore)
                let probe = try await runner.run(node: node, rate: probeRate, label: "probe", loadFraction: .nan, progress: progress)
                var steps = [probe]
                var floorSteps = [[StepResult]](repeating: [], count: floorLinks.count)
                try await withFloors(workers: w) { floors in
                    for f in loadFractions {
                        progress.update(String(format: "workers %d: %.2f × capacity", w, f))
                        steps.append(try await runner.run(node: node, rate: f * probe.throughput, label: "sweep", loadFraction: f,
                                                          progress: progress).ofCapacity(probe.throughput))
                        for (i, (links, floor)) in zip(floorLinks, floors).enumerated() {
                            progress.update(String(format: "workers %d: relay floor (%@ links) at %.2f × the node's capacity", w,
                                                   links.rawValue, f))
                            floorSteps[i].append(try await runner.run(node: floor, rate: f * probe.throughput, label: "floor-\(links.rawValue)",
                                                                      loadFraction: f, progress: progress).ofCapacity(probe.throughput))
                        }
                    }
                }
                var sweep = WorkerSweep(workers: w, capacity: probe.throughput,
                                        capacityOverWorkersTimesCore: probe.throughput / (Double(w) * coreBefore), steps: steps)
                sweep.floors = zip(floorLinks, floorSteps).map { FloorSweep(links: $0, workers: w, steps: $1, node: steps) }
                for floor in sweep.floors { logFloor(floor) }
                sweeps.append(sweep)
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
        // 4. Key epochs at capacity: the node in directory mode, as `loopix mix` runs it.
        var epochsPhase: EpochsPhaseResult? = nil
        if epochSeconds > 0 && epochs > 0 {
            epochsPhase = try await EpochsAtCapacity(directory: run.url("epochs"), workers: mainWorkers, rate: mainCapacity,
                                                     epochSeconds: epochSeconds, epochs: epochs).run(progress: progress)
        }
        // 5. The packet suites side by side.
        var comparison: SuiteComparison? = nil
        if suites.count > 1 && suiteRounds > 0 {
            sink.expectLinks(as: setup.sinkLinkKey)
            let main = SuiteRig(suite: .v1, setup: setup, pool: pool, sink: sink, runner: runner)
            comparison = try await compareSuites(in: run, main: main, alone: alone, progress: progress)
        }
        let coreAfter = 1 / (try ProcessRateProbe.secondsPerPacket())
        progress.done("done")
        return NodeBenchResults(
            coreRateBefore: coreBefore, coreRateAfter: coreAfter, epochMachineryShare: epochShare, generatorAlone: alone, sweeps: sweeps,
            senders: senderSteps, soak: soak, epochs: epochsPhase, stepSeconds: stepSeconds, warmupSeconds: warmupSeconds, poolPackets: pool.count,
            aqmTargetMs: setup.aqmTarget * 1000, suiteComparison: comparison, linkCost: linkCost,
            targets: NodeTargets.evaluate(sweeps: sweeps, soak: soak, mainWorkers: mainWorkers, epochMachineryShare: epochShare,
                                          aqmTarget: setup.aqmTarget, suites: comparison, epochs: epochsPhase, linkCost: linkCost))
    }

    /// One line of the log per relay floor: its step at half the capacity (or its first), beside the node's.
    private func logFloor(_ floor: FloorSweep) {
        guard let c = floor.comparisons.first(where: { $0.loadFraction == 0.5 }) ?? floor.comparisons.first else { return }
        benchLog(String(format: "node: workers %d, %@ floor at %.2f: %.2f µs/packet (loop %.2f, workers %.2f), p50 %.3f ms, p99 %.3f ms; "
                        + "node outside workers %.2f µs (÷ floor loop %.2f)", floor.workers, floor.links.rawValue, c.loadFraction,
                        c.floorMicroseconds, c.floorLoopMicroseconds, c.floorWorkerMicroseconds, c.floorLatencyP50Ms,
                        c.floorLatencyP99Ms, c.nodeOutsideMicroseconds, c.outsideOverFloorLoop))
    }

    /// One node per suite, each with 1 worker and its own packets and sink, all running at once;
    /// their capacity probes alternate round by round, so that the shared host's changes of
    /// speed hit every suite alike, and each round gives one ratio.
    private func compareSuites(in run: BenchRun, main: SuiteRig, alone: GeneratorAlone,
                               progress: BenchProgress) async throws -> SuiteComparison {
        let workers = 1
        var rigs: [SuiteRig] = []
        defer { for rig in rigs where rig.suite != main.suite { rig.sink.stop() } }
        for suite in suites {
            if suite == main.suite { rigs.append(main); continue }
            let geometry = try Geometry(hops: Geometry.standard.hops, payload: Geometry.standard.payload, suite: suite)
            let setup = try NodeBenchSetup(directory: run.url("work-\(suite.name)"), eventLoops: eventLoops,
                                           eventLoopSliceUs: eventLoopSliceUs, geometry: geometry, poolPackets: poolPackets)
            let rig = try setup.rig(geometry: geometry, step: stepSeconds, warmup: warmupSeconds,
                                    progress: progress, label: suite.name)
            rigs.append(SuiteRig(suite: suite, setup: setup, pool: rig.pool, sink: rig.sink, runner: rig.runner))
        }
        // Each probe offers 1.5 × the suite's single-core rate in CPU time, the most one worker
        // can unwrap whatever the host gives it: a rate measured in wall time on a loaded host
        // can fall below the node's capacity, and the probe would measure the generator.
        let coreRates = rigs.map { rig in
            1 / Stats.median((0..<7).map { _ in rig.runner.probe.cpuSecondsPerPacket(count: 64) })
        }
        for (rig, rate) in zip(rigs, coreRates) {
            benchLog(String(format: "node: lsx_process alone, %@: %.0f packets/s per CPU-second", rig.suite.name, rate))
        }
        var nodes: [BenchNode] = []
        var steps = [[StepResult]](repeating: [], count: rigs.count)
        do {
            for rig in rigs {
                nodes.append(try await rig.setup.startNode(workers: workers, log: run.url("node-\(rig.suite.name).log")))
            }
            for round in 1...suiteRounds {
                for (i, rig) in rigs.enumerated() {
                    progress.update("suites, round \(round)/\(suiteRounds): \(rig.suite.name) capacity probe")
                    let rate = min(0.8 * alone.packetsPerSecond, 1.5 * Double(workers) * coreRates[i])
                    steps[i].append(try await rig.runner.run(node: nodes[i], rate: rate, label: "suite-\(rig.suite.name)",
                                                             loadFraction: .nan, progress: progress))
                }
            }
        } catch {
            for node in nodes { await node.stop() }
            throw error
        }
        for node in nodes { await node.stop() }
        return SuiteComparison(workers: workers, rounds: suiteRounds,
                               suites: rigs.indices.map { SuiteCapacity(suite: rigs[$0].suite.name, coreRate: coreRates[$0], steps: steps[$0]) })
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

/// One suite's node, packets, sink and step runner for the side-by-side comparison.
extension NodeBenchSetup {
    /// What every node benchmark drives a node with: packets of `geometry` built for this node,
    /// a started sink answering the node's links, and a step runner over them.
    func rig(geometry: Geometry = .standard, step: Double, warmup: Double, progress: BenchProgress,
             label: String = "") throws -> (pool: PacketPool, sink: FrameSink, runner: StepRunner) {
        let pool = try PacketPool(count: poolPackets, geometry: geometry, nodeKey: nodeKey, next: sinkID) { done in
            progress.update("building \(label.isEmpty ? "" : label + " ")packets \(done)/\(poolPackets)")
        }
        let sendTimes = SendTimes(count: pool.count)
        let sink = try FrameSink(port: sinkPort, pool: pool, sendTimes: sendTimes)
        sink.expectLinks(as: sinkLinkKey)
        sink.start()
        return (pool, sink, StepRunner(pool: pool, sink: sink, sendTimes: sendTimes,
                                       probe: try ProcessRateProbe(packets: 500, geometry: geometry), step: step, warmup: warmup,
                                       aqmTarget: aqmTarget))
    }
}

private struct SuiteRig {
    let suite: PacketSuite
    let setup: NodeBenchSetup
    let pool: PacketPool
    let sink: FrameSink
    let runner: StepRunner
}

extension StepResult {
    /// The step with its goodput as a fraction of `capacity`.
    func ofCapacity(_ capacity: Double) -> StepResult {
        var s = self
        s.goodputOfCapacity = throughput / capacity
        return s
    }
}
