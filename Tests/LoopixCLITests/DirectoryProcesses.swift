// A directory authority and nodes in directory mode as separate `loopix` processes, set up with
// the commands an operator uses (keygen, authority register), and what tests do to them: read
// the directory's documents, build a packet from one and send it over a Noise link as a provider.
import Foundation
import LoopixMetrics
import LoopixNetwork
import LoopixSphinx
import LoopixTestSupport
import NIOCore
import NIOPosix

/// An authority process and the nodes that follow it, in one temporary folder.
final class DirectoryProcesses: @unchecked Sendable {
    // `@unchecked Sendable`: one test drives it, one step at a time.
    let dir = makeTemporaryDirectory("loopix-directory")
    let authorityPort: Int
    /// Where the nodes added from now on ask for the directory: the authority, or a proxy.
    var directoryPort: Int
    /// The authority's signing public key (hex): what the nodes pin.
    let authorityKey: String
    let schedule: EpochSchedule
    let grace: Double
    private(set) var running: [String: RunningLoopix] = [:]
    private(set) var nodes: [String: Node] = [:]

    struct Node {
        var identity: String
        var port: Int
        var metricsPort: Int
        var config: String
    }

    /// Writes the authority's key and configuration (1 layer, no mix loops) and starts it.
    init(epochLength: Double, grace: Double) async throws {
        authorityPort = try freeLoopbackPort()
        directoryPort = authorityPort
        schedule = EpochSchedule(genesis: 0, length: epochLength)
        self.grace = grace
        authorityKey = try await Self.keygen(dir.appendingPathComponent("authority.key").path)
        let parameters: [String: Any] = [
            "geometry": ["hops": 6, "payload": 2048], "layers": 1, "mixDelayRate": 100, "mixLoopRate": 0,
            "loopReturnThreshold": 0.8, "pullSize": 4, "pullInterval": 0.5,
        ]
        try write(["key": "authority.key", "listenHost": "127.0.0.1", "port": authorityPort, "state": "authority-state",
                   "registry": "registry.json", "epochLength": epochLength, "genesis": 0, "grace": grace,
                   "parameters": parameters, "logLevel": "info"], "authority.json")
        try await start("authority", ["authority", "--config", path("authority.json")])
        try await waitForPort(authorityPort)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func write(_ object: [String: Any], _ name: String) throws {
        try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            .write(to: dir.appendingPathComponent(name), options: .atomic)
    }

    /// A new key file; returns its signing public key (hex).
    static func keygen(_ path: String) async throws -> String {
        let r = try await loopix(["keygen", "--out", path, "--json"])
        guard r.status == 0, let keys = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: String],
            let identity = keys["signingPublicKey"]
        else { throw TestFailure("keygen: \(r.stderr)") }
        return identity
    }

    /// Makes a node's key and directory-mode configuration; registers it unless `register` is
    /// false; `pinned` is the authority key it trusts (default: the real one).
    @discardableResult
    func addNode(_ name: String, role: String, register: Bool = true, pinned: String? = nil) async throws -> Node {
        let identity = try await Self.keygen(path("\(name).key"))
        if register {
            var args = ["authority", "register", "--config", path("authority.json"), "--identity", identity, "--role", role,
                        "--name", name]
            if role == "mix" { args += ["--layer", "1"] }
            let r = try await loopix(args)
            guard r.status == 0 else { throw TestFailure("register \(name): \(r.stderr)") }
        }
        let node = Node(identity: identity, port: try freeLoopbackPort(), metricsPort: try freeLoopbackPort(),
                        config: path("\(name).json"))
        var config: [String: Any] = [
            "directory": ["host": "127.0.0.1", "port": directoryPort, "authorities": [pinned ?? authorityKey]],
            "key": "\(name).key", "state": "\(name)-state", "listenHost": "127.0.0.1", "port": node.port,
            "metricsPort": node.metricsPort, "workers": 1, "eventLoops": 1, "packetBuffers": 1024,
            "ratedPacketsPerSecond": 1000, "grace": grace, "logLevel": "info",
        ]
        if role == "provider" {
            config["mailboxes"] = "\(name).sqlite"
            config["pullHost"] = "127.0.0.1"
            config["pullPort"] = try freeLoopbackPort()
        }
        try write(config, "\(name).json")
        nodes[name] = node
        return node
    }

    func start(_ name: String, _ args: [String]) async throws {
        running[name] = try await RunningLoopix(args, log: dir.appendingPathComponent("\(name).log"))
    }

    /// Starts a node added with `addNode` (again, after a stop: same key, same state folder).
    func startNode(_ name: String, role: String) async throws {
        try await start(name, [role, "--config", nodes[name]!.config])
    }

    func log(_ name: String) -> String { running[name]?.output ?? "" }

    /// The two-node network the directory process tests run: a mix ("mix") forwarding to a
    /// provider ("provider"), both registered, started and listening.
    func startMixAndProvider() async throws -> (mix: Node, provider: Node) {
        let mix = try await addNode("mix", role: "mix")
        let provider = try await addNode("provider", role: "provider")
        try await startNode("mix", role: "mix")
        try await startNode("provider", role: "provider")
        try await waitForPort(mix.port, within: 60)
        try await waitForPort(provider.port, within: 60)
        return (mix, provider)
    }

    func waitForPort(_ port: Int, within seconds: Double = 30) async throws {
        guard await eventually(within: seconds, { acceptsConnections(port: port) }) else {
            throw TestFailure("port \(port) never opened; logs:\n\(running.keys.sorted().map { "\($0): \(log($0).suffix(1500))" }.joined(separator: "\n"))")
        }
    }

    func metric(_ name: String, _ series: String) async -> Double {
        await MetricSamples.scrape(port: name == "authority" ? authorityPort : nodes[name]!.metricsPort, timeout: 2)?[series] ?? 0
    }

    func stopAll() async {
        for (_, process) in running { await process.stop() }
    }

    /// The authority's document of `epoch`, checked against its key.
    func document(epoch: UInt64) async throws -> DirectoryDocument {
        let answer = try await HTTPExchange.perform(.GET, host: "127.0.0.1", port: authorityPort, path: "/v1/documents/\(epoch)",
                                                    group: MultiThreadedEventLoopGroup.singleton)
        guard answer.status == .ok else { throw TestFailure("no document for epoch \(epoch): \(answer.status)") }
        let trust = DirectoryTrust(authorities: [try VerifyingKey(hex: authorityKey)])
        return try trust.verify(try SignedDirectoryDocument.decode(Data(answer.body)), now: Date().timeIntervalSince1970)
    }
}

/// A packet through `mix` to `provider`, which discards it (DROP), with `document`'s keys.
func dropPacket(_ document: DirectoryDocument, mix: String, provider: String) throws -> [UInt8] {
    let topology = document.topology
    guard let m = topology.node(try NodeID(hex: mix)), let p = topology.node(try NodeID(hex: provider)) else {
        throw TestFailure("the document of epoch \(document.epoch) does not list both nodes")
    }
    return try Sphinx.createPacket(geometry: document.parameters.geometry, route: [
        RouteHop(publicKey: m.publicKey, command: .relay(next: p.id, delayMicroseconds: 0)),
        RouteHop(publicKey: p.publicKey, command: .drop(delayMicroseconds: 0)),
    ], message: [])
}

/// Sends `packet` in one wire frame over a new Noise link to `node`'s packet port as the holder
/// of the key in `keyFile` (a provider's: a mix of the first layer accepts links only from the
/// nodes its document lists as sending to it), then closes the link.
func sendOverLink(_ packet: [UInt8], to node: DirectoryProcesses.Node, as keyFile: String) async throws {
    let sender = try KeyFile.load(path: keyFile).signingKey
    guard let responderKey = try VerifyingKey(hex: node.identity).linkKey else {
        throw TestFailure("node \(node.identity) has no link key")
    }
    let link = try await openLink(to: node.port, responderKey: responderKey, localKey: sender.linkKey(),
                                  group: MultiThreadedEventLoopGroup.singleton)
    var frame = ByteBuffer()
    frame.writeWireFrameHeader(type: .packet, bodyBytes: packet.count)
    frame.writeBytes(packet)
    do { try await link.writeAndFlush(frame) } catch {
        try? await link.close()
        throw error
    }
    try await link.close()
}

/// A failed step of a test, with what it saw.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
