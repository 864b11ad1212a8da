// What the testnet shows and reports: node metrics scraped each second, client status files.
import Foundation
import LoopixMetrics

/// One reading of the whole testnet, and the rates since the previous reading.
public struct TestnetView: Sendable {
    public struct NodeRow: Sendable {
        public var name: String
        public var kind: TestnetProcessSpec.Kind
        public var layer: Int
        public var up: Bool
        public var packetsIn: Double
        public var packetsOut: Double
        public var inRate: Double
        public var outRate: Double
        public var stored: Double
        public var drops: [String: Double]
        public var loopRatio: Double?
        /// The key epoch the node runs, and the packets it processed under the previous epoch's key.
        public var epoch: Double = 0
        public var previousKey: Double = 0
    }
    /// The directory authority as its metrics show it.
    public struct AuthorityRow: Sendable {
        public var up: Bool
        public var epoch: Int
        public var serial: Int
        /// Nodes the current epoch's document lists.
        public var listed: Int
    }
    public struct ClientRow: Sendable {
        public var name: String
        public var status: ClientStatus?
        /// The client's recent end-to-end latencies.
        public var latencies: LatencyHistogram { LatencyHistogram(seconds: status?.latencies ?? []) }
    }
    public var nodes: [NodeRow]
    public var clients: [ClientRow]
    public var authority: AuthorityRow? = nil
    /// Epoch boundaries the authority crossed since the first reading.
    public var epochsCrossed = 0

    /// Every client's recent end-to-end latencies together.
    public var latencies: LatencyHistogram { LatencyHistogram(seconds: clients.flatMap { $0.status?.latencies ?? [] }) }
    public var demoSent: Int { clients.reduce(0) { $0 + ($1.status?.demoSent ?? 0) } }
    public var demoReceived: Int { clients.reduce(0) { $0 + ($1.status?.demoReceived ?? 0) } }
    public var loopsSent: Int { clients.reduce(0) { $0 + ($1.status?.statistics.sentLoop ?? 0) } }
    public var loopsReturned: Int { clients.reduce(0) { $0 + ($1.status?.statistics.loopsReturned ?? 0) } }
    public var drops: [String: Double] {
        nodes.reduce(into: [:]) { total, n in for (k, v) in n.drops where v > 0 { total[k, default: 0] += v } }
    }

    /// The final report of a run that lasted `elapsed` seconds and ended for `reason`.
    public func summary(elapsed: Double, reason: String, processesLeft: Int) -> TestnetSummary {
        let latencies = self.latencies
        return TestnetSummary(
            seconds: elapsed, reason: reason, nodes: nodes.count, clients: clients.count,
            messagesSent: demoSent, messagesDelivered: demoReceived,
            repliesSent: clients.reduce(0) { $0 + ($1.status?.repliesSent ?? 0) },
            repliesReceived: clients.reduce(0) { $0 + ($1.status?.repliesReceived ?? 0) },
            loopsSent: loopsSent, loopsReturned: loopsReturned,
            mixLoopReturnRatios: Dictionary(uniqueKeysWithValues: nodes.compactMap { n in n.loopRatio.map { (n.name, $0) } }),
            latencyP50: latencies.quantile(0.5), latencyP95: latencies.quantile(0.95),
            packetsRelayed: nodes.reduce(0) { $0 + Int($1.packetsOut) }, dropsByCause: drops.mapValues { Int($0) },
            epochsCrossed: epochsCrossed,
            previousKeyPackets: Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, Int($0.previousKey)) }),
            processesLeft: processesLeft)
    }
}

/// The testnet's final report (`--json` prints this).
public struct TestnetSummary: Codable, Sendable {
    public var seconds: Double
    public var reason: String
    public var nodes: Int
    public var clients: Int
    public var messagesSent: Int
    public var messagesDelivered: Int
    public var repliesSent: Int
    public var repliesReceived: Int
    public var loopsSent: Int
    public var loopsReturned: Int
    public var mixLoopReturnRatios: [String: Double]
    public var latencyP50: Double?
    public var latencyP95: Double?
    public var packetsRelayed: Int
    public var dropsByCause: [String: Int]
    /// Key epoch boundaries crossed while the testnet ran.
    public var epochsCrossed: Int
    /// Per node: packets processed under the previous epoch's key (in its grace period).
    public var previousKeyPackets: [String: Int]
    public var processesLeft: Int
}

/// Reads the nodes' metrics and the clients' status files, keeping the previous reading for rates.
public actor TestnetMonitor {
    private let layout: TestnetLayout
    private var previous: [String: (time: Date, packetsIn: Double, packetsOut: Double)] = [:]
    /// The authority's epoch at its first and its latest reading.
    private var firstEpoch: Int?
    private var lastEpoch: Int?

    public init(layout: TestnetLayout) { self.layout = layout }

    public func sample() async -> TestnetView {
        let now = Date()
        let specs = layout.processes.filter { $0.kind == .mix || $0.kind == .provider }
        let authority = await MetricSamples.scrape(port: layout.authorityPort, timeout: 0.5).map { m in
            TestnetView.AuthorityRow(up: true, epoch: Int(m["loopix_epoch"]), serial: Int(m["loopix_directory_serial"]),
                                     listed: Int(m["loopix_directory_listed_nodes"]))
        } ?? TestnetView.AuthorityRow(up: false, epoch: 0, serial: 0, listed: 0)
        if authority.up, authority.epoch > 0 {
            if firstEpoch == nil { firstEpoch = authority.epoch }
            lastEpoch = authority.epoch
        }
        // Every node at once: a node that does not answer costs its timeout only once.
        let scraped = await withTaskGroup(of: (Int, MetricSamples?).self) { group in
            for (i, spec) in specs.enumerated() {
                group.addTask { (i, await spec.metricsPort.asyncMap { await MetricSamples.scrape(port: $0, timeout: 0.5) } ?? nil) }
            }
            var out = [MetricSamples?](repeating: nil, count: specs.count)
            for await (i, samples) in group { out[i] = samples }
            return out
        }
        var nodes: [TestnetView.NodeRow] = []
        for (spec, metrics) in zip(specs, scraped) {
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
                loopRatio: spec.kind == .mix && sent > 0 ? m["loopix_loop_return_ratio"] : nil,
                epoch: m["loopix_epoch"], previousKey: m["loopix_packets_previous_key_total"]))
        }
        let clients = layout.processes.filter { $0.kind == .client }.map { spec in
            TestnetView.ClientRow(name: spec.name, status: spec.statusFile.flatMap {
                (try? Data(contentsOf: URL(fileURLWithPath: $0))).flatMap { try? JSONDecoder().decode(ClientStatus.self, from: $0) }
            })
        }
        return TestnetView(nodes: nodes, clients: clients, authority: authority,
                           epochsCrossed: max(0, (lastEpoch ?? 0) - (firstEpoch ?? 0)))
    }
}

extension Optional {
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async -> T) async -> T? {
        guard let self else { return nil }
        return await transform(self)
    }
}
