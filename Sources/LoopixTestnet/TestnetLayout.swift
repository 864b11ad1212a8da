// The files of a local testnet: keys, the signed topology, and one configuration per process.
import Foundation
import LoopixClient
import LoopixConfiguration
import LoopixNetwork
import LoopixSphinx

/// One process of the testnet and how to start it.
public struct TestnetProcessSpec: Sendable {
    public enum Kind: String, Codable, Sendable { case mix, provider, client }
    public let name: String
    public let kind: Kind
    public let layer: Int
    public let arguments: [String]
    public let metricsPort: Int?
    public let statusFile: String?
}

/// Everything `loopix testnet` writes into its working directory before it starts anything.
public struct TestnetLayout: Sendable {
    public let directory: URL
    public let topology: Topology
    public let processes: [TestnetProcessSpec]

    public struct Options: Sendable {
        public var layers: Int
        public var mixesPerLayer: Int
        public var providers: Int
        public var clients: Int
        public var meanDelayMs: Double
        public var payloadRate: Double
        public var loopRate: Double
        public var dropRate: Double
        public var mixLoopRate: Double
        public var pullSize: Int
        public var pullInterval: Double
        public var demoInterval: Double
        public var workers: Int
        /// The packet suite every node and client runs (docs/topology.md).
        public var suite: PacketSuite

        public init(layers: Int, mixesPerLayer: Int, providers: Int, clients: Int, meanDelayMs: Double, payloadRate: Double,
                    loopRate: Double, dropRate: Double, mixLoopRate: Double, pullSize: Int, pullInterval: Double,
                    demoInterval: Double, workers: Int, suite: PacketSuite = .v1) {
            self.layers = layers
            self.mixesPerLayer = mixesPerLayer
            self.providers = providers
            self.clients = clients
            self.meanDelayMs = meanDelayMs
            self.payloadRate = payloadRate
            self.loopRate = loopRate
            self.dropRate = dropRate
            self.mixLoopRate = mixLoopRate
            self.pullSize = pullSize
            self.pullInterval = pullInterval
            self.demoInterval = demoInterval
            self.workers = workers
            self.suite = suite
        }
    }

    public static func create(in directory: URL, options o: Options) throws -> TestnetLayout {
        let fm = FileManager.default
        for sub in ["keys", "config", "data", "logs", "status"] {
            try fm.createDirectory(at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        func path(_ sub: String) -> String { directory.appendingPathComponent(sub).path }

        let authority = KeyFile.generate()
        try authority.write(to: path("keys/authority.key"))

        // Nodes: providers first, then the mixes layer by layer.
        struct Planned { var name: String; var descriptor: NodeDescriptor; var keyFile: String; var metricsPort: Int }
        var planned: [Planned] = []
        func plan(_ name: String, _ role: NodeRole, _ layer: Int) throws {
            let keys = KeyFile.generate()
            let keyFile = "keys/\(name).key"
            try keys.write(to: path(keyFile))
            let descriptor = NodeDescriptor(
                id: .random(), role: role, layer: layer, host: "127.0.0.1", port: try freeLoopbackPort(),
                publicKey: keys.sphinxKey.publicKey, signingKey: keys.signingKey.verifyingKey,
                clientPort: role == .provider ? try freeLoopbackPort() : nil)
            planned.append(Planned(name: name, descriptor: descriptor, keyFile: keyFile, metricsPort: try freeLoopbackPort()))
        }
        for p in 1...o.providers { try plan("provider-\(p)", .provider, 0) }
        for l in 1...o.layers { for m in 1...o.mixesPerLayer { try plan("mix-\(l)-\(m)", .mix, l) } }

        let geometry = try Geometry(hops: Geometry.standard.hops, payload: Geometry.standard.payload, suite: o.suite)
        let parameters = NetworkParameters(
            geometry: geometry, layers: o.layers, mixDelayRate: 1000 / o.meanDelayMs, mixLoopRate: o.mixLoopRate,
            loopReturnThreshold: 0.8, clientPayloadRate: o.payloadRate, clientLoopRate: o.loopRate,
            clientDropRate: o.dropRate, pullSize: o.pullSize, pullInterval: o.pullInterval)
        let topology = Topology(parameters: parameters, nodes: planned.map(\.descriptor))
        try SignedTopology.sign(topology, with: authority.signingKey).write(to: path("topology.json"))
        let authorityHex = authority.signingKey.verifyingKey.hex

        // Clients, spread over the providers in turn.
        struct PlannedClient { var name: String; var provider: Int; var mailbox: SphinxAddress; var keys: KeyFile }
        let clients = (1...max(1, o.clients)).map { i in
            PlannedClient(name: "client-\(i)", provider: (i - 1) % o.providers, mailbox: .random(), keys: .generate())
        }.prefix(o.clients)
        var addresses: [String] = []
        for c in clients {
            try c.keys.write(to: path("keys/\(c.name).key"))
            addresses.append(RecipientAddress(provider: planned[c.provider].descriptor.id, mailbox: c.mailbox,
                                              publicKey: c.keys.sphinxKey.publicKey).description)
        }
        try (addresses.joined(separator: "\n") + "\n").write(toFile: path("peers.txt"), atomically: true, encoding: .utf8)

        var processes: [TestnetProcessSpec] = []
        for (index, node) in planned.enumerated() {
            let isProvider = node.descriptor.role == .provider
            var config = NodeConfigurationFile(topology: "../topology.json", key: "../\(node.keyFile)", authority: authorityHex)
            config.listenHost = "127.0.0.1"
            config.metricsHost = "127.0.0.1"
            config.metricsPort = node.metricsPort
            config.workers = o.workers
            config.eventLoops = 1
            config.packetBuffers = 4096
            config.replayCapacity = 2_000_000
            config.logLevel = "notice"
            if isProvider {
                config.mailboxes = "../data/\(node.name).sqlite"
                config.durability = "full"
                config.pullHost = "127.0.0.1"
                config.clients = clients.filter { $0.provider == index }.map {
                    .init(mailbox: $0.mailbox.hex, signingKey: $0.keys.signingKey.verifyingKey.hex)
                }
            }
            try writeConfiguration(config, to: directory.appendingPathComponent("config/\(node.name).json"))
            processes.append(TestnetProcessSpec(
                name: node.name, kind: isProvider ? .provider : .mix, layer: node.descriptor.layer,
                arguments: [isProvider ? "provider" : "mix", "--config", path("config/\(node.name).json")],
                metricsPort: node.metricsPort, statusFile: nil))
        }
        for c in clients {
            var config = ClientConfigurationFile(topology: "../topology.json", key: "../keys/\(c.name).key", mailbox: c.mailbox.hex,
                                                 provider: planned[c.provider].descriptor.id.hex, authority: authorityHex)
            config.logLevel = "notice"
            try writeConfiguration(config, to: directory.appendingPathComponent("config/\(c.name).json"))
            let status = path("status/\(c.name).json")
            processes.append(TestnetProcessSpec(
                name: c.name, kind: .client, layer: -1,
                arguments: ["client", "daemon", "--config", path("config/\(c.name).json"), "--status-file", status,
                            "--peers", path("peers.txt"), "--demo-interval", "\(o.demoInterval)", "--name", c.name],
                metricsPort: nil, statusFile: status))
        }
        return TestnetLayout(directory: directory, topology: topology, processes: processes)
    }
}
