// The text `loopix bench node` prints: the core's rate, the generator alone, each sweep, the
// link encryption's cost, the senders, the soak, the packet suites side by side, and the targets.
import Foundation
import LoopixTestnet

extension NodeBenchResults {
    /// The report, as lines for a terminal.
    public func report() -> String {
        var lines: [String] = []
        func say(_ format: String, _ arguments: any CVarArg...) { lines.append(String(format: format, arguments: arguments)) }
        say("lsx_process alone on one core: %.0f packets/s before, %.0f after (%.1f µs per packet)", coreRateBefore, coreRateAfter,
            2e6 / (coreRateBefore + coreRateAfter))
        say("key epochs add %+.2f %% to a packet (a worker's epoch path with a file-backed filter, over process alone)",
            epochMachineryShare * 100)
        say("generator alone into a sink: %.0f packets/s; %.2f µs CPU per packet (generator), %.2f (sink)",
            generatorAlone.packetsPerSecond, generatorAlone.generatorMicrosecondsPerPacket, generatorAlone.sinkMicrosecondsPerPacket)
        for sweep in sweeps {
            say("\nworkers %d: capacity %.0f packets/s = %.2f × workers × single-core lsx_process rate", sweep.workers, sweep.capacity,
                sweep.capacityOverWorkersTimesCore)
            lines += stepLines(sweep.steps)
            for floor in sweep.floors { lines += floorLines(floor) }
        }
        lines.append("""
            (effic.: relayed per node CPU-second ÷ the single-core rate sampled through the step; outside: \
            the node's CPU outside its crypto workers per CPU-second of the workers, same process, same window; \
            relay floor: CSources/bench/relay_floor.c, the node's thread hand-offs without crypto, with the node's \
            workers, each step right after the node's at the same offered rate; node out: the node's CPU per packet outside its workers, ÷ the \
            floor's loop thread and ÷ the whole floor)
            """)
        if let linkCost {
            say("\nlink encryption, %d workers, saturated (noise and plaintext alternating), noise ÷ plaintext, medians: "
                + "throughput %.3f, efficiency %.3f, node CPU per packet %.3f", linkCost.workers, linkCost.throughputRatio,
                linkCost.efficiencyRatio, linkCost.cpuPerPacketRatio)
            lines += stepLines(zip(linkCost.noise, linkCost.plaintext).flatMap { [$0, $1] })
        }
        if !senders.isEmpty {
            lines.append("\nconnected senders at 0.5 × capacity:")
            lines += stepLines(senders)
        }
        if let soak {
            say("\nsoak %.0f s at 1.5 × capacity: goodput %.1f %% of capacity, sojourn p99 %.2f ms, RSS max %.1f MB", soak.windowSeconds,
                soak.goodputOfCapacity * 100, soak.sojournP99Ms ?? .nan, soak.rssMaxMB)
        }
        if let epochs { lines.append("\n" + epochs.report) }
        if let suites = suiteComparison { lines += suiteLines(suites) }
        lines.append("\ntargets:")
        for t in targets {
            lines.append("  " + column(t.name, 58) + column(t.measured, 44) + column(t.target, 34) + (t.met ? "met" : "NOT met"))
        }
        return lines.joined(separator: "\n")
    }

    /// The suites side by side, and the arithmetic of their ratio: where each relayed packet's CPU goes.
    private func suiteLines(_ c: SuiteComparison) -> [String] {
        var lines = ["\npacket suites side by side: one node each, \(c.workers) worker, capacity probes alternating over \(c.rounds) rounds"]
        lines.append("  " + column("suite", 12) + column("process/CPU-s", 14) + column("offered/s", 10) + column("capacity/s (per round)", 46)
            + column("node µs/pkt", 12) + column("workers", 9) + column("outside", 9) + column("effic.", 7)
            + column("gen cpu", 8) + column("sink cpu", 9) + "other")
        for s in c.suites {
            lines.append("  " + column(s.suite, 12) + column(String(format: "%.0f", s.coreRate), 14) + column(String(format: "%.0f", s.offered), 10)
                + column(String(format: "%.0f (", s.capacity) + s.capacities.map { String(format: "%.0f", $0) }.joined(separator: ", ") + ")", 46)
                + column(String(format: "%.1f", s.nodeMicroseconds), 12) + column(String(format: "%.1f", s.workerMicroseconds), 9)
                + column(String(format: "%.1f", s.outsideMicroseconds), 9) + column(String(format: "%.2f", s.efficiency), 7)
                + column(String(format: "%.2f", s.generatorCores), 8) + column(String(format: "%.2f", s.sinkCores), 9)
                + String(format: "%.2f", s.otherCores))
        }
        guard let first = c.suites.first, let last = c.suites.last else { return lines }
        lines.append(String(format: """
              capacity %@ / %@: %.2f (median of per-round ratios); lsx_process alone, sampled through the same probes: %.2f; \
            worker CPU per packet %@ / %@: %.2f
            """, last.suite, first.suite, c.capacityRatio, c.coreRatio, first.suite, last.suite, c.workerRatio))
        // The node's cost beside the crypto is the same for every suite, so it dilutes the crypto's gain.
        let cryptoFirst = 1e6 / first.coreRateDuring, cryptoLast = 1e6 / last.coreRateDuring
        lines.append(String(format: """
              arithmetic: a relayed packet costs the node its unwrap (%.1f µs %@, %.1f µs %@, the probes' reference in CPU time) plus \
            what the node does beside it (outside the workers %.1f / %.1f µs, inside the workers but outside lsx_process \
            %.1f / %.1f µs); if only the worker bounded capacity the ratio would be %.2f, if the node's whole CPU did \
            (%.1f / %.1f µs per packet) %.2f
            """, cryptoFirst, first.suite, cryptoLast, last.suite, first.outsideMicroseconds, last.outsideMicroseconds,
            first.workerMicroseconds - cryptoFirst, last.workerMicroseconds - cryptoLast, c.workerRatio,
            first.nodeMicroseconds, last.nodeMicroseconds, first.nodeMicroseconds / last.nodeMicroseconds))
        return lines
    }

    /// The relay floor at the sweep's rates, and the node beside it (node ÷ floor).
    private func floorLines(_ f: FloorSweep) -> [String] {
        var lines = ["  relay floor, \(f.workers) worker\(f.workers == 1 ? "" : "s"), \(f.links.rawValue) links, at the same offered rates "
            + "(CPU µs per packet; latency ms; node ÷ floor):"]
        lines.append("  " + column("load", 6) + column("offered/s", 10) + column("relayed/s", 10) + column("loop µs", 8) + column("work µs", 8)
            + column("all µs", 7) + column("lat p50", 8) + column("lat p99", 8) + column("drops", 6) + column("node out µs", 12)
            + column("÷ loop", 7) + column("÷ all", 6) + column("p50 ÷", 7) + "p99 ÷")
        for c in f.comparisons {
            lines.append("  " + column(String(format: "%.2f", c.loadFraction), 6) + column(String(format: "%.0f", c.offered), 10)
                + column(String(format: "%.0f", c.floorRelayed), 10) + column(String(format: "%.2f", c.floorLoopMicroseconds), 8)
                + column(String(format: "%.2f", c.floorWorkerMicroseconds), 8) + column(String(format: "%.2f", c.floorMicroseconds), 7)
                + column(String(format: "%.3f", c.floorLatencyP50Ms), 8) + column(String(format: "%.3f", c.floorLatencyP99Ms), 8)
                + column(String(format: "%.0f", c.floorDrops), 6) + column(String(format: "%.2f", c.nodeOutsideMicroseconds), 12)
                + column(String(format: "%.2f", c.outsideOverFloorLoop), 7) + column(String(format: "%.2f", c.outsideOverFloor), 6)
                + column(String(format: "%.2f", c.latencyP50Ratio), 7) + String(format: "%.2f", c.latencyP99Ratio))
        }
        return lines
    }

    private func stepLines(_ steps: [StepResult]) -> [String] {
        var lines = ["  " + column("step", 8) + column("load", 6) + column("snd", 4) + column("offered/s", 10) + column("relayed/s", 10)
            + column("lat p50", 8) + column("lat p99", 8) + column("soj p99", 8) + column("node cpu", 9) + column("effic.", 7)
            + column("outside", 8) + column("gen cpu", 8) + column("sink cpu", 9) + column("other", 6) + column("RSS MB", 7) + "drops"]
        for s in steps {
            lines.append("  " + column(s.label, 8) + column(s.loadFraction.isNaN ? "-" : String(format: "%.2f", s.loadFraction), 6)
                + column("\(s.senders)", 4) + column(String(format: "%.0f", s.offeredAchieved), 10)
                + column(String(format: "%.0f", s.throughput), 10) + column(String(format: "%.3f", s.latencyMs.p50), 8)
                + column(String(format: "%.3f", s.latencyMs.p99), 8) + column(s.sojournP99Ms.map { String(format: "%.3f", $0) } ?? "-", 8)
                + column(String(format: "%.2f", s.nodeCores), 9) + column(String(format: "%.2f", s.efficiency), 7)
                + column(String(format: "%.2f", s.outsideWorkers), 8) + column(String(format: "%.2f", s.generatorCores), 8)
                + column(String(format: "%.2f", s.sinkCores), 9) + column(String(format: "%.2f", s.otherCores + s.stolenCores), 6)
                + column(String(format: "%.0f", s.rssMaxMB), 7) + dropsText(s.drops.mapValues { Int($0) }))
        }
        return lines
    }
}

/// `s` left-aligned in `n` columns, with at least one space after it.
func column(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s.padding(toLength: n, withPad: " ", startingAt: 0) }
