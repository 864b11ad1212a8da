// One step of the node benchmark: a rate held against the node for a while, and everything
// measured in its window.
import Foundation
import LoopixMetrics
import LoopixNetwork

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
    /// The AQM target of the nodes it drives, in seconds (the sojourn is judged against twice it).
    let aqmTarget: Double
    private static let position = IndexBox()

    init(pool: PacketPool, sink: FrameSink, sendTimes: SendTimes, probe: ProcessRateProbe, step: Double, warmup: Double,
         aqmTarget: Double) {
        self.aqmTarget = aqmTarget
        self.pool = pool
        self.sink = sink
        self.sendTimes = sendTimes
        self.probe = probe
        self.reference = ConcurrentReference(probe: probe)
        self.step = step
        self.warmup = warmup
    }

    func run(node: BenchNode, rate: Double, label: String, loadFraction: Double, senders: Int = 1, seconds: Double? = nil,
             retainLatencies: Bool = true, progress: BenchProgress) async throws -> StepResult {
        let seconds = seconds ?? step
        try await node.startReplayEpoch()
        try await Task.sleep(for: .milliseconds(30))
        let referenceBefore = probe.secondsPerPacket(rounds: 3)
        sink.reset(retain: retainLatencies)
        // What this process's links toward the sink will carry, if it opens one during the step
        // (the node and the relay floors take turns, each keeping the links it opened).
        sink.expectLinks(as: node.links?.sender)
        sink.expectPassedThrough(node.passesPacketsThrough)
        let connections = try (0..<senders).map { _ in
            guard let fd = connectLoopback(port: node.port) else { throw BenchError("cannot connect to the node") }
            return fd
        }
        defer { for fd in connections { close(fd) } }
        let links = try connections.map { fd in
            try node.links.map { try BenchLinkSender(fd: fd, localKey: $0.sender, responderKey: $0.node) }
        }
        let generator = LoadGenerator(pool: pool, sendTimes: sendTimes, connections: connections, links: links, rate: rate, seconds: seconds,
                                      startIndex: Self.position.value, seed: UInt64(Self.position.value) &+ 11) { node.requestReplayEpoch() }
        let start = benchNanoseconds()
        generator.start()
        var rss: [RSSSample] = []
        func sampleRSS() { rss.append(RSSSample(seconds: Double(benchNanoseconds() - start) / 1e9, megabytes: node.residentMB)) }
        sampleRSS()
        try await Task.sleep(for: .milliseconds(Int(warmup * 1000)))
        let windowStart = benchNanoseconds()
        let cpu0 = node.cpuSeconds, workerCPU0 = node.workerCPUSeconds, loopCPU0 = node.loopCPUSeconds, sent0 = generator.sent, sinkCPU0 = sink.threadCPUSeconds
        let machine0 = ProcessProbe.machineCPUSeconds(), self0 = ProcessProbe.selfCPUSeconds()
        let metrics0 = await node.metrics()
        reference.start()
        let end = start + UInt64(seconds * 1e9)
        var lastPrint = Date.distantPast
        while benchNanoseconds() + 250_000_000 < end {
            try await Task.sleep(for: .milliseconds(250))
            sampleRSS()
            if Date().timeIntervalSince(lastPrint) > 1 {
                lastPrint = Date()
                let elapsed = Double(benchNanoseconds() - start) / 1e9
                progress.update(String(format: "%@, %d workers, %.0f/s offered, %d senders: %.0f of %.0f s, %d relayed", label, node.workers,
                                       rate, senders, elapsed, seconds, sink.count))
            }
        }
        while benchNanoseconds() < end { try await Task.sleep(for: .milliseconds(2)) }
        let windowEnd = benchNanoseconds()
        let cpu1 = node.cpuSeconds, workerCPU1 = node.workerCPUSeconds, loopCPU1 = node.loopCPUSeconds, sent1 = generator.sent, sinkCPU1 = sink.threadCPUSeconds
        let machine1 = ProcessProbe.machineCPUSeconds(), self1 = ProcessProbe.selfCPUSeconds()
        let metrics1 = await node.metrics()
        let referenceDuring = reference.stop()
        sampleRSS()
        let g = await generator.finished()
        Self.position.value = (Self.position.value + g.sent) % pool.count
        try await Task.sleep(for: .milliseconds(200))
        let snap = sink.snapshot()
        let coreRateAround = 2 / (referenceBefore + probe.secondsPerPacket(rounds: 3))
        let coreRate = referenceDuring.map { 1 / $0 } ?? coreRateAround

        let window = Double(windowEnd - windowStart) / 1e9
        var relayed = 0
        var latencies = LatencyHistogram()
        if retainLatencies {
            for (r, s) in zip(snap.received, snap.sent) {
                if r >= windowStart && r < windowEnd { relayed += 1 }
                if s >= windowStart && s < windowEnd && r >= s { latencies.record(nanoseconds: r - s) }
            }
        } else {
            // Long soaks keep counts only: relayed in the window from the node's own counter.
            relayed = Int(metrics1.total("loopix_packets_out_total") - metrics0.total("loopix_packets_out_total"))
        }
        let sojourn = metrics1.histogram("loopix_crypto_sojourn_seconds").subtracting(metrics0.histogram("loopix_crypto_sojourn_seconds"))
        let overhead = metrics1.histogram("loopix_hop_overhead_seconds").subtracting(metrics0.histogram("loopix_hop_overhead_seconds"))
        let drops1 = metrics1.byLabel("loopix_packets_dropped_total", "cause"), drops0 = metrics0.byLabel("loopix_packets_dropped_total", "cause")
        let drops = drops1.reduce(into: [String: Double]()) { $0[$1.key] = $1.value - (drops0[$1.key] ?? 0) }
        let nodeCPU = cpu1 - cpu0, workerCPU = workerCPU1 - workerCPU0
        return StepResult(
            label: label, workers: node.workers,
            senders: senders, loadFraction: loadFraction, offeredRequested: rate,
            offeredAchieved: Double(sent1 - sent0) / window, throughput: Double(relayed) / window, windowSeconds: window,
            latencyMs: Summary(latencies).scaled(by: 1000), sojournP50Ms: sojourn.quantile(0.5).map { $0 * 1000 },
            sojournP99Ms: sojourn.quantile(0.99).map { $0 * 1000 }, sojournAboveTwiceTarget: sojourn.fractionAbove(2 * aqmTarget),
            hopOverheadP99Ms: overhead.quantile(0.99).map { $0 * 1000 }, nodeCores: nodeCPU / window,
            outsideWorkers: workerCPU > 0 ? (nodeCPU - workerCPU) / workerCPU : .nan,
            loopCores: loopCPU1.flatMap { end in loopCPU0.map { (end - $0) / window } },
            efficiency: nodeCPU > 0 ? Double(relayed) / nodeCPU / coreRate : 0, coreRate: coreRate, coreRateAround: coreRateAround, generatorCores: g.cpuSeconds / g.seconds,
            sinkCores: (sinkCPU1 - sinkCPU0) / window,
            otherCores: max(0, (machine1.busy - machine0.busy) - nodeCPU - (self1 - self0)) / window,
            stolenCores: (machine1.steal - machine0.steal) / window, generatorLagP50Ms: g.lagP50Ms, generatorLagMaxMs: g.lagMaxMs,
            unknownPackets: snap.unknown, drops: drops, packetsIn: metrics1.total("loopix_packets_in_total") - metrics0.total("loopix_packets_in_total"),
            rssMaxMB: rss.map(\.megabytes).max() ?? 0, rssSeries: rss)
    }
}

/// Where in the pool the next step starts, so consecutive steps do not resend the same packets first.
private final class IndexBox: @unchecked Sendable {
    var value = 0
}
