// What the testnet shows and reports: node metrics scraped each second, client status files.
import Foundation
import LoopixClient

/// One reading of the whole testnet, and the rates since the previous reading.
struct TestnetView {
    struct NodeRow {
        var name: String
        var kind: TestnetProcessSpec.Kind
        var layer: Int
        var up: Bool
        var packetsIn: Double
        var packetsOut: Double
        var inRate: Double
        var outRate: Double
        var stored: Double
        var drops: [String: Double]
        var loopRatio: Double?
    }
    struct ClientRow {
        var name: String
        var status: ClientStatus?
    }
    var nodes: [NodeRow]
    var clients: [ClientRow]

    var allLatencies: [Double] { clients.flatMap { $0.status?.latencies ?? [] }.sorted() }
    var demoSent: Int { clients.reduce(0) { $0 + ($1.status?.demoSent ?? 0) } }
    var demoReceived: Int { clients.reduce(0) { $0 + ($1.status?.demoReceived ?? 0) } }
    var loopsSent: Int { clients.reduce(0) { $0 + ($1.status?.statistics.sentLoop ?? 0) } }
    var loopsReturned: Int { clients.reduce(0) { $0 + ($1.status?.statistics.loopsReturned ?? 0) } }
    var drops: [String: Double] {
        nodes.reduce(into: [:]) { total, n in for (k, v) in n.drops where v > 0 { total[k, default: 0] += v } }
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p + 0.5))]
    }

    func render(elapsed: Double) -> String {
        var lines: [String] = []
        lines.append("loopix testnet — \(Int(elapsed)) s — Ctrl-C to stop and print the summary")
        lines.append("")
        lines.append("node           layer  up   in/s   out/s   stored   drops   loops back")
        for n in nodes {
            let loop = n.loopRatio.map { String(format: "%.0f %%", $0 * 100) } ?? "-"
            let drops = n.drops.values.reduce(0, +)
            lines.append(pad(n.name, 14) + pad(n.layer == 0 ? "P" : "\(n.layer)", 7) + pad(n.up ? "yes" : "NO", 5)
                + pad(String(format: "%.1f", n.inRate), 7) + pad(String(format: "%.1f", n.outRate), 8)
                + pad(n.kind == .provider ? "\(Int(n.stored))" : "-", 9) + pad("\(Int(drops))", 8) + loop)
        }
        lines.append("")
        lines.append("client      sent real/drop/loop   msgs out  msgs in  replies  loops back  median latency")
        for c in clients {
            guard let s = c.status else { lines.append(pad(c.name, 12) + "starting…"); continue }
            let st = s.statistics
            let median = Self.percentile(s.latencies.sorted(), 0.5).map { String(format: "%.0f ms", $0 * 1000) } ?? "-"
            lines.append(pad(c.name, 12) + pad("\(st.sentReal)/\(st.sentDrop)/\(st.sentLoop)", 22) + pad("\(s.demoSent)", 10)
                + pad("\(s.demoReceived)", 9) + pad("\(s.repliesReceived)", 9) + pad("\(st.loopsReturned)", 12) + median)
        }
        lines.append("")
        let p50 = Self.percentile(allLatencies, 0.5).map { String(format: "%.0f ms", $0 * 1000) } ?? "-"
        lines.append("messages delivered \(demoReceived)/\(demoSent) sent · loops returned \(loopsReturned)/\(loopsSent) · median latency \(p50)")
        let d = drops.sorted { $0.key < $1.key }.map { "\($0.key) \(Int($0.value))" }.joined(separator: ", ")
        lines.append("drops by cause: \(d.isEmpty ? "none" : d)")
        return lines.joined(separator: "\n")
    }

    func progressLine(elapsed: Double) -> String {
        let rate = nodes.reduce(0) { $0 + $1.inRate }
        return "[\(Int(elapsed)) s] \(nodes.filter(\.up).count)/\(nodes.count) nodes up, \(String(format: "%.0f", rate)) packets/s in total, messages \(demoReceived)/\(demoSent), loops \(loopsReturned)/\(loopsSent)"
    }

    func summary(elapsed: Double, reason: String) -> TestnetSummary {
        let lat = allLatencies
        return TestnetSummary(
            seconds: elapsed, reason: reason, nodes: nodes.count, clients: clients.count,
            messagesSent: demoSent, messagesDelivered: demoReceived,
            repliesSent: clients.reduce(0) { $0 + ($1.status?.repliesSent ?? 0) },
            repliesReceived: clients.reduce(0) { $0 + ($1.status?.repliesReceived ?? 0) },
            loopsSent: loopsSent, loopsReturned: loopsReturned,
            mixLoopReturnRatios: Dictionary(uniqueKeysWithValues: nodes.compactMap { n in n.loopRatio.map { (n.name, $0) } }),
            latencyP50: Self.percentile(lat, 0.5), latencyP95: Self.percentile(lat, 0.95),
            packetsRelayed: nodes.reduce(0) { $0 + Int($1.packetsOut) }, dropsByCause: drops.mapValues { Int($0) },
            processesLeft: 0)
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s.padding(toLength: n, withPad: " ", startingAt: 0) }
}

/// The testnet's final report (`--json` prints this).
struct TestnetSummary: Codable {
    var seconds: Double
    var reason: String
    var nodes: Int
    var clients: Int
    var messagesSent: Int
    var messagesDelivered: Int
    var repliesSent: Int
    var repliesReceived: Int
    var loopsSent: Int
    var loopsReturned: Int
    var mixLoopReturnRatios: [String: Double]
    var latencyP50: Double?
    var latencyP95: Double?
    var packetsRelayed: Int
    var dropsByCause: [String: Int]
    var processesLeft: Int

    var text: String {
        let p50 = latencyP50.map { String(format: "%.0f ms", $0 * 1000) } ?? "-"
        let p95 = latencyP95.map { String(format: "%.0f ms", $0 * 1000) } ?? "-"
        let drops = dropsByCause.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return """

            summary (\(reason), \(Int(seconds)) s, \(nodes) nodes, \(clients) clients)
              messages delivered  \(messagesDelivered) of \(messagesSent) sent (the rest were in flight at the stop)
              replies             \(repliesReceived) of \(repliesSent) sent
              client loops        \(loopsReturned) of \(loopsSent) returned
              latency             median \(p50), 95th percentile \(p95)
              packets relayed     \(packetsRelayed)
              drops by cause      \(drops.isEmpty ? "none" : drops)
              processes left      \(processesLeft)
            """
    }
}

/// Reads the nodes' metrics and the clients' status files, keeping the previous reading for rates.
final class TestnetMonitor: @unchecked Sendable {
    private let layout: TestnetLayout
    private var previous: [String: (time: Date, packetsIn: Double, packetsOut: Double)] = [:]

    init(layout: TestnetLayout) { self.layout = layout }

    func sample() -> TestnetView {
        let now = Date()
        var nodes: [TestnetView.NodeRow] = []
        let specs = layout.processes.filter { $0.kind != .client }
        // Scrape every node at once: a node that does not answer costs its timeout only once.
        let scraped = ScrapeResults(count: specs.count)
        DispatchQueue.concurrentPerform(iterations: specs.count) { i in
            scraped.set(i, specs[i].metricsPort.flatMap { scrapeMetrics(port: $0, timeout: 0.5) })
        }
        for (i, spec) in specs.enumerated() {
            let metrics = scraped.get(i)
            let m = metrics ?? MetricSamples()
            let packetsIn = m.total("loopix_packets_in_total")
            let packetsOut = m.total("loopix_packets_out_total")
            var inRate = 0.0, outRate = 0.0
            if let p = previous[spec.name], metrics != nil {
                let dt = max(0.001, now.timeIntervalSince(p.time))
                inRate = max(0, packetsIn - p.packetsIn) / dt
                outRate = max(0, packetsOut - p.packetsOut) / dt
            }
            if metrics != nil { previous[spec.name] = (now, packetsIn, packetsOut) }
            let sent = m["loopix_loops_sent_total"]
            nodes.append(TestnetView.NodeRow(
                name: spec.name, kind: spec.kind, layer: spec.layer, up: metrics != nil, packetsIn: packetsIn,
                packetsOut: packetsOut, inRate: inRate, outRate: outRate, stored: m["loopix_mailbox_stored_total"],
                drops: m.byLabel("loopix_packets_dropped_total", "cause"),
                loopRatio: spec.kind == .mix && sent > 0 ? m["loopix_loop_return_ratio"] : nil))
        }
        let clients = layout.processes.filter { $0.kind == .client }.map { spec in
            TestnetView.ClientRow(name: spec.name, status: spec.statusFile.flatMap {
                (try? Data(contentsOf: URL(fileURLWithPath: $0))).flatMap { try? JSONDecoder().decode(ClientStatus.self, from: $0) }
            })
        }
        return TestnetView(nodes: nodes, clients: clients)
    }
}

/// Results of the concurrent scrapes, one slot per node.
private final class ScrapeResults: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [MetricSamples?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: MetricSamples?) { lock.withLock { values[i] = v } }
    func get(_ i: Int) -> MetricSamples? { lock.withLock { values[i] } }
}
