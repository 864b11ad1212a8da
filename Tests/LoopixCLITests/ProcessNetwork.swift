// A network of separate `loopix` processes built with the CLI itself: keygen, topology, configs.
import Foundation
import LoopixMetrics
import LoopixNetwork
import LoopixTestSupport

/// Keys, a signed topology and configuration files for one mix per layer and some providers,
/// written with the `loopix` commands an operator would use.
final class ProcessNetwork: @unchecked Sendable {
    let dir: URL
    let providers: Int
    let layers: Int
    private(set) var running: [String: RunningLoopix] = [:]
    /// Per provider: packet port, pull port, metrics port, node id.
    private(set) var providerInfo: [(port: Int, pull: Int, metrics: Int, id: String)] = []
    private var mixMetrics: [String: Int] = [:]
    /// The key (hex) that signed the topology; every configuration pins it.
    private(set) var authority = ""

    /// Builds the network's files (a dozen `loopix` runs).
    static func make(layers: Int = 3, providers: Int = 2, meanDelayMs: Double = 5) async throws -> ProcessNetwork {
        try await ProcessNetwork(layers: layers, providers: providers, meanDelayMs: meanDelayMs)
    }

    private init(layers: Int, providers: Int, meanDelayMs: Double) async throws {
        self.dir = makeTemporaryDirectory("loopix-procnet")
        self.layers = layers
        self.providers = providers
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func run(_ args: [String]) async throws {
            let r = try await loopix(args, timeout: 30)
            guard r.status == 0 else { throw NSError(domain: "loopix \(args.joined(separator: " ")): \(r.stderr)", code: Int(r.status)) }
        }
        try await run(["keygen", "--out", path("authority.key")])
        try await run(["topology", "create", "--out", path("draft.json"), "--layers", "\(layers)", "--mean-delay-ms", "\(meanDelayMs)",
                 "--mix-loop-rate", "0", "--payload-rate", "20", "--loop-rate", "2", "--drop-rate", "2", "--pull-size", "4",
                 "--pull-interval", "0.2"])
        for p in 0..<providers {
            let port = try freeLoopbackPort(), pull = try freeLoopbackPort()
            try await run(["keygen", "--out", path("provider-\(p).key")])
            try await run(["topology", "add-node", "--draft", path("draft.json"), "--role", "provider", "--host", "127.0.0.1",
                     "--port", "\(port)", "--client-port", "\(pull)", "--key", path("provider-\(p).key")])
            providerInfo.append((port, pull, try freeLoopbackPort(), ""))
        }
        for l in 1...layers {
            try await run(["keygen", "--out", path("mix-\(l).key")])
            try await run(["topology", "add-node", "--draft", path("draft.json"), "--role", "mix", "--layer", "\(l)",
                     "--host", "127.0.0.1", "--port", "\(try freeLoopbackPort())", "--key", path("mix-\(l).key")])
            mixMetrics["mix-\(l)"] = try freeLoopbackPort()
        }
        try await run(["topology", "sign", "--draft", path("draft.json"), "--authority-key", path("authority.key"),
                 "--out", path("topology.json")])
        let signed = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("topology.json"))) as! [String: Any]
        authority = signed["authority"] as! String
        let draft = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("draft.json"))) as! [String: Any]
        let nodes = draft["nodes"] as! [[String: Any]]
        for p in 0..<providers {
            let entry = nodes.first { $0["port"] as? Int == providerInfo[p].port }!
            providerInfo[p].id = entry["id"] as! String
        }
        for l in 1...layers {
            try writeJSON(["topology": "topology.json", "authority": authority, "key": "mix-\(l).key", "listenHost": "127.0.0.1", "workers": 1,
                           "eventLoops": 1, "packetBuffers": 1024, "replayCapacity": 100_000,
                           "metricsPort": mixMetrics["mix-\(l)"]!, "logLevel": "notice"], "mix-\(l).json")
        }
    }

    /// Writes atomically: parallel test cases rewrite and read the same configuration files.
    func writeJSON(_ object: [String: Any], _ name: String) throws {
        try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            .write(to: dir.appendingPathComponent(name), options: .atomic)
    }

    /// Writes a client's key and configuration and registers it in provider `p`'s configuration.
    func addClient(_ name: String, provider p: Int) async throws -> (config: String, address: String) {
        let key = dir.appendingPathComponent("\(name).key").path
        let r = try await loopix(["keygen", "--out", key, "--json"])
        let keys = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: String]
        let mailbox = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        try writeJSON(["topology": "topology.json", "authority": authority, "key": "\(name).key", "mailbox": mailbox, "provider": providerInfo[p].id,
                       "logLevel": "warning"], "\(name).json")
        registrations[p, default: []].append(["mailbox": mailbox, "signingKey": keys["signingPublicKey"]!])
        let config = dir.appendingPathComponent("\(name).json").path
        let address = try await loopix(["client", "address", "--config", config]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return (config, address)
    }

    private var registrations: [Int: [[String: String]]] = [:]

    func providerConfig(_ p: Int) throws -> String {
        try writeJSON(["topology": "topology.json", "authority": authority, "key": "provider-\(p).key", "listenHost": "127.0.0.1", "workers": 1,
                       "eventLoops": 1, "packetBuffers": 1024, "replayCapacity": 100_000, "mailboxes": "provider-\(p).sqlite",
                       "pullHost": "127.0.0.1", "metricsPort": providerInfo[p].metrics, "logLevel": "notice",
                       "clients": registrations[p] ?? []], "provider-\(p).json")
        return dir.appendingPathComponent("provider-\(p).json").path
    }

    func start(_ name: String, _ args: [String]) async throws {
        running[name] = try await RunningLoopix(args, log: dir.appendingPathComponent("\(name).log"))
    }

    func startNodes() async throws {
        for l in 1...layers { try await start("mix-\(l)", ["mix", "--config", dir.appendingPathComponent("mix-\(l).json").path]) }
        for p in 0..<providers { try await start("provider-\(p)", ["provider", "--config", try providerConfig(p)]) }
        try await waitUntilListening()
    }

    /// Waits until every node accepts connections on its ports (processes take a moment to start).
    /// A node that exits meanwhile (a port taken by another program between the test choosing
    /// it and the node binding it) ends the wait at once, with its log.
    func waitUntilListening(timeout: Double = 60) async throws {
        let topology = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("draft.json"))) as! [String: Any]
        let ports = (topology["nodes"] as! [[String: Any]]).flatMap { [$0["port"] as? Int, $0["clientPort"] as? Int].compactMap { $0 } }
        let deadline = Date().addingTimeInterval(timeout)
        for port in ports {
            while !acceptsConnections(port: port) {
                if let (name, exited) = running.first(where: { !$0.value.process.isRunning }) {
                    throw TestFailure("\(name) exited before port \(port) opened: \(exited.output.suffix(1500))")
                }
                guard Date() < deadline else { throw TestFailure("port \(port) never opened") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    func stopAll() async {
        for (_, process) in running { await process.stop() }
    }

    /// A provider's metric (0 while it does not answer).
    func providerMetric(_ p: Int, _ series: String) async -> Double {
        await MetricSamples.scrape(port: providerInfo[p].metrics, timeout: 2)?[series] ?? 0
    }
}
