// `loopix bench clients`: the paper's Figure 10, the per-hop latency overhead at one mix as the
// number of clients grows. The mix is a real node process (as in `bench node`); the clients are
// light, in this process: each is its own connection carrying a Poisson stream of packets built
// beforehand, because 10-200 client processes, each building Sphinx packets, do not fit in two
// cores beside the mix.
import Foundation

/// What to measure: client counts, each client's rate, how long per count.
public struct ClientScalingBench: Sendable {
    public var clientCounts: [Int]
    /// Packets per second per client (payload, loops and drops together) arriving at the mix.
    public var clientRate: Double
    public var workers: Int
    public var stepSeconds: Double
    public var warmupSeconds: Double
    public var poolPackets: Int

    public init(clientCounts: [Int], clientRate: Double, workers: Int, stepSeconds: Double, warmupSeconds: Double,
                poolPackets: Int) {
        self.clientCounts = clientCounts
        self.clientRate = clientRate
        self.workers = workers
        self.stepSeconds = stepSeconds
        self.warmupSeconds = warmupSeconds
        self.poolPackets = poolPackets
    }

    /// One node process for every count, in increasing order; each step opens its own connections.
    public func run(in run: BenchRun, progress: BenchProgress) async throws -> ClientScalingResults {
        let setup = try NodeBenchSetup(directory: run.url("work"), eventLoops: nil, eventLoopSliceUs: nil, poolPackets: poolPackets)
        let rig = try setup.rig(step: stepSeconds, warmup: warmupSeconds, progress: progress)
        let (sink, runner) = (rig.sink, rig.runner)
        defer { sink.stop() }
        var steps: [ClientScalingStep] = []
        try await setup.withNode(workers: workers, log: run.url("node.log")) { node in
            for n in clientCounts.sorted() {
                progress.update("\(n) clients at \(clientRate)/s each")
                let step = try await runner.run(node: node, rate: Double(n) * clientRate, label: "clients", loadFraction: .nan,
                                                senders: n, progress: progress)
                steps.append(ClientScalingStep(clients: n, step: step))
            }
        }
        progress.done("done")
        return ClientScalingResults(clientRate: clientRate, workers: workers, steps: steps)
    }
}

public struct ClientScalingStep: Codable, Sendable {
    public var clients: Int
    public var step: StepResult
}

public struct ClientScalingResults: Codable, Sendable {
    public var clientRate: Double
    public var workers: Int
    public var steps: [ClientScalingStep]
    /// The paper's Figure 10: the overhead grew by 0.37 ms from 50 to 500 clients.
    public var paperIncreaseMs = 0.37

    /// The median overhead at the most clients minus that at the fewest, ms.
    public var increaseP50Ms: Double { (steps.last?.step.latencyMs.p50 ?? .nan) - (steps.first?.step.latencyMs.p50 ?? .nan) }
    public var increaseMeanMs: Double { (steps.last?.step.latencyMs.mean ?? .nan) - (steps.first?.step.latencyMs.mean ?? .nan) }

    public func writeTables(to run: BenchRun) throws {
        try run.writeCSV("clients.csv", header: ["clients", "offered_per_s", "relayed_per_s", "overhead_mean_ms", "overhead_p50_ms",
                                                 "overhead_p95_ms", "overhead_p99_ms", "node_cores", "other_cores", "drops"],
                         rows: steps.map { s in
                             let st = s.step
                             return ["\(s.clients)", csv(st.offeredAchieved, 1), csv(st.throughput, 1), csv(st.latencyMs.mean),
                                     csv(st.latencyMs.p50), csv(st.latencyMs.p95), csv(st.latencyMs.p99), csv(st.nodeCores, 3),
                                     csv(st.otherCores, 3), csv(st.drops.values.reduce(0, +), 0)]
                         })
        try svgPlot().write(to: run.url("clients.svg"), atomically: true, encoding: .utf8)
    }

    /// The report: a table, an ASCII plot of the median and mean against the client count, and
    /// the increase beside the paper's.
    public func reportText() -> String {
        var lines = [String(format: "one mix, %d workers; each client %.1f packets/s on its own connection, zero delay, to a sink",
                            workers, clientRate)]
        lines.append("clients   offered/s  relayed/s  overhead mean  p50     p95     p99 ms   node cores  other cores")
        for s in steps {
            let st = s.step
            lines.append(String(format: "%7d  %9.0f  %9.0f  %13.3f  %6.3f  %6.3f  %7.3f  %10.2f  %11.2f", s.clients, st.offeredAchieved,
                                st.throughput, st.latencyMs.mean, st.latencyMs.p50, st.latencyMs.p95, st.latencyMs.p99, st.nodeCores,
                                st.otherCores))
        }
        let top = steps.map { max($0.step.latencyMs.mean, $0.step.latencyMs.p50) }.max() ?? 1
        lines.append("")
        lines.append("overhead (ms; # median, + mean, * both), scale 0 to \(String(format: "%.3f", top)) ms:")
        for s in steps {
            func column(_ v: Double) -> Int { top > 0 ? Int((v / top * 50).rounded()) : 0 }
            var bar = Array(repeating: Character(" "), count: 51)
            let median = min(50, column(s.step.latencyMs.p50)), mean = min(50, column(s.step.latencyMs.mean))
            bar[median] = "#"
            bar[mean] = mean == median ? "*" : "+"
            lines.append(String(format: "%5d |", s.clients) + String(bar))
        }
        if let first = steps.first, let last = steps.last {
            lines.append(String(format: "from %d to %d clients the overhead rose by %+.3f ms (median), %+.3f ms (mean); the paper: +%.2f ms from 50 to 500",
                                first.clients, last.clients, increaseP50Ms, increaseMeanMs, paperIncreaseMs))
        }
        return lines.joined(separator: "\n")
    }

    /// A line plot of the median, mean and 95th percentile against the client count (log scale).
    public func svgPlot() -> String {
        let width = 640.0, height = 400.0, left = 70.0, right = 20.0, top = 30.0, bottom = 50.0
        let counts = steps.map { Double($0.clients) }
        let lo = log10(max(1, counts.min() ?? 1)), hi = log10(max(10, counts.max() ?? 10))
        let yMax = max(0.1, (steps.map(\.step.latencyMs.p95).max() ?? 0.1) * 1.1)
        func x(_ c: Double) -> Double { left + (log10(c) - lo) / max(hi - lo, 1e-9) * (width - left - right) }
        func y(_ v: Double) -> Double { height - bottom - v / yMax * (height - top - bottom) }
        var svg = [String(format: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">", width, height),
                   "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
                   String(format: "<text x=\"%.0f\" y=\"18\" text-anchor=\"middle\">Per-hop overhead at one mix against clients (%.0f packets/s each, %d workers)</text>",
                          width / 2, clientRate, workers),
                   String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>", left, height - bottom, width - right, height - bottom),
                   String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>", left, top, left, height - bottom)]
        for c in counts {
            svg.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>", x(c), height - bottom + 16, c))
        }
        svg.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">clients (log scale)</text>", (left + width - right) / 2, height - 10))
        for i in 0...4 {
            let v = yMax * Double(i) / 4
            svg.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>", left - 6, y(v) + 4, v))
        }
        svg.append(String(format: "<text x=\"16\" y=\"%.1f\" transform=\"rotate(-90 16 %.1f)\" text-anchor=\"middle\">ms</text>",
                          (top + height - bottom) / 2, (top + height - bottom) / 2))
        let series: [(String, String, (Summary) -> Double)] = [("median", "#1f77b4", { $0.p50 }), ("mean", "#d62728", { $0.mean }),
                                                               ("95th percentile", "#7f7f7f", { $0.p95 })]
        for (i, (name, color, value)) in series.enumerated() {
            let points = steps.map { String(format: "%.1f,%.1f", x(Double($0.clients)), y(value($0.step.latencyMs))) }
            svg.append("<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>")
            for p in steps {
                svg.append(String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%@\"/>", x(Double(p.clients)), y(value(p.step.latencyMs)), color))
            }
            svg.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" fill=\"%@\">%@</text>", left + 10, top + 14 + Double(i) * 15, color, name))
        }
        svg.append(String(format: "<text x=\"%.1f\" y=\"%.1f\">rise from %d to %d clients: %+.3f ms (median); paper, 50 to 500: +%.2f ms</text>",
                          left + 10, top + 14 + 3 * 15, steps.first?.clients ?? 0, steps.last?.clients ?? 0, increaseP50Ms, paperIncreaseMs))
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }
}
