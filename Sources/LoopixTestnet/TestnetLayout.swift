// The files of a local testnet: keys, the directory authority's configuration and registry,
// and one configuration per process; nodes and clients follow the authority in key epochs.
import Foundation
import LoopixClient
import LoopixConfiguration
import LoopixDirectory
import LoopixNetwork
import LoopixSphinx

/// One process of the testnet and how to start it.
public struct TestnetProcessSpec: Sendable {
    public enum Kind: String, Codable, Sendable { case authority, mix, provider, client }
    public let name: String
    public let kind: Kind
    /// Mixes: 1...layers; providers: 0; the authority and clients: -1.
    public let layer: Int
    public let arguments: [String]
    public let metricsPort: Int?
    public let statusFile: String?
    /// Clients: the journal of demonstration messages sent and received.
    public let journal: String?
}

/// A node of the testnet as the directory will list it.
public struct TestnetNode: Sendable {
    public let name: String
    public let role: NodeRole
    public let layer: Int
    public let identity: VerifyingKey
    public let port: Int
    public let clientPort: Int?
}

/// Everything `loopix testnet` writes into its working directory before it starts anything.
public struct TestnetLayout: Sendable {
    public let directory: URL
    public let parameters: NetworkParameters
    public let schedule: EpochSchedule
    /// The authority's HTTP port (documents, descriptors and its metrics) on 127.0.0.1, and its key.
    public let authorityPort: Int
    public let authorityKey: VerifyingKey
    public let nodes: [TestnetNode]
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
        /// Seconds per key epoch; epochs start at whole multiples of it (genesis 0).
        public var epochSeconds: Double

        public init(layers: Int, mixesPerLayer: Int, providers: Int, clients: Int, meanDelayMs: Double, payloadRate: Double,
                    loopRate: Double, dropRate: Double, mixLoopRate: Double, pullSize: Int, pullInterval: Double,
                    demoInterval: Double, workers: Int, suite: PacketSuite = .v1, epochSeconds: Double = 20) {
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
            self.epochSeconds = epochSeconds
        }
    }

    public static func create(in directory: URL, options o: Options) throws -> TestnetLayout {
        let fm = FileManager.default
        for sub in ["keys", "config", "data", "logs", "status"] {
            try fm.createDirectory(at: directory.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        func path(_ sub: String) -> String { directory.appendingPathComponent(sub).path }

        let geometry = try Geometry(hops: Geometry.standard.hops, payload: Geometry.standard.payload, suite: o.suite)
        let parameters = NetworkParameters(
            geometry: geometry, layers: o.layers, mixDelayRate: 1000 / o.meanDelayMs, mixLoopRate: o.mixLoopRate,
            loopReturnThreshold: 0.8, clientPayloadRate: o.payloadRate, clientLoopRate: o.loopRate,
            clientDropRate: o.dropRate, pullSize: o.pullSize, pullInterval: o.pullInterval)
        let schedule = EpochSchedule(genesis: 0, length: o.epochSeconds)

        // The authority: its key, its configuration, and a registry that admits every node below.
        let authority = KeyFile.generate()
        try authority.write(to: path("keys/authority.key"))
        let authorityPort = try freeLoopbackPort()
        var authorityConfig = AuthorityConfigurationFile(key: "../keys/authority.key", port: authorityPort,
                                                         state: "../data/authority", registry: "../registry.json",
                                                         parameters: parameters)
        authorityConfig.listenHost = "127.0.0.1"
        authorityConfig.epochLength = schedule.length
        authorityConfig.genesis = schedule.genesis
        // A dozen processes share a few cores here, and beside other work one may wait seconds
        // for a CPU (stalls of 6 s were seen on two shared cores): the default grace (the path's
        // delays, the clients' one-second lag and one second more) is for nodes with cores of
        // their own. The testnet keeps the previous key for most of the next epoch.
        authorityConfig.grace = max(parameters.defaultGrace, schedule.length * 0.8)
        authorityConfig.logLevel = "notice"
        try writeConfiguration(authorityConfig, to: directory.appendingPathComponent("config/authority.json"))
        let access = DirectoryAccess(host: "127.0.0.1", port: authorityPort, authorities: [authority.signingKey.verifyingKey.hex])

        // Nodes: providers first, then the mixes layer by layer; each identity registered.
        var nodes: [TestnetNode] = []
        var registry = AuthorityRegistry()
        func plan(_ name: String, _ role: NodeRole, _ layer: Int) throws {
            let keys = KeyFile.generate()
            try keys.write(to: path("keys/\(name).key"))
            nodes.append(TestnetNode(name: name, role: role, layer: layer, identity: keys.signingKey.verifyingKey,
                                     port: try freeLoopbackPort(), clientPort: role == .provider ? try freeLoopbackPort() : nil))
            registry.register(RegisteredNode(identity: keys.signingKey.verifyingKey, role: role,
                                             layer: role == .mix ? layer : nil, name: name))
        }
        for p in 1...o.providers { try plan("provider-\(p)", .provider, 0) }
        for l in 1...o.layers { for m in 1...o.mixesPerLayer { try plan("mix-\(l)-\(m)", .mix, l) } }
        try registry.write(to: path("registry.json"))

        // Clients, spread over the providers in turn.
        struct PlannedClient { var name: String; var provider: Int; var mailbox: SphinxAddress; var keys: KeyFile }
        let clients = (1...max(1, o.clients)).map { i in
            PlannedClient(name: "client-\(i)", provider: (i - 1) % o.providers, mailbox: .random(), keys: .generate())
        }.prefix(o.clients)
        var addresses: [String] = []
        for c in clients {
            try c.keys.write(to: path("keys/\(c.name).key"))
            addresses.append(RecipientAddress(provider: NodeID.forIdentity(nodes[c.provider].identity), mailbox: c.mailbox,
                                              publicKey: c.keys.sphinxKey.publicKey).description)
        }
        try (addresses.joined(separator: "\n") + "\n").write(toFile: path("peers.txt"), atomically: true, encoding: .utf8)

        var processes = [TestnetProcessSpec(name: "authority", kind: .authority, layer: -1,
                                            arguments: ["authority", "--config", path("config/authority.json")],
                                            metricsPort: authorityPort, statusFile: nil, journal: nil)]
        for (index, node) in nodes.enumerated() {
            let isProvider = node.role == .provider
            var config = NodeConfigurationFile(directory: access, key: "../keys/\(node.name).key", state: "../data/\(node.name)",
                                               port: node.port)
            let metricsPort = try freeLoopbackPort()
            config.listenHost = "127.0.0.1"
            config.metricsHost = "127.0.0.1"
            config.metricsPort = metricsPort
            config.workers = o.workers
            config.eventLoops = 1
            config.packetBuffers = 4096
            config.ratedPacketsPerSecond = 2000
            config.logLevel = "notice"
            if isProvider {
                config.mailboxes = "../data/\(node.name).sqlite"
                config.durability = "full"
                config.pullHost = "127.0.0.1"
                config.pullPort = node.clientPort
                config.clients = clients.filter { $0.provider == index }.map {
                    .init(mailbox: $0.mailbox.hex, signingKey: $0.keys.signingKey.verifyingKey.hex)
                }
            }
            try writeConfiguration(config, to: directory.appendingPathComponent("config/\(node.name).json"))
            processes.append(TestnetProcessSpec(
                name: node.name, kind: isProvider ? .provider : .mix, layer: node.layer,
                arguments: [isProvider ? "provider" : "mix", "--config", path("config/\(node.name).json")],
                metricsPort: metricsPort, statusFile: nil, journal: nil))
        }
        for c in clients {
            var config = ClientConfigurationFile(directory: access, key: "../keys/\(c.name).key", mailbox: c.mailbox.hex,
                                                 provider: nodes[c.provider].identity.hex)
            config.logLevel = "notice"
            try writeConfiguration(config, to: directory.appendingPathComponent("config/\(c.name).json"))
            let status = path("status/\(c.name).json"), journal = path("status/\(c.name).journal")
            processes.append(TestnetProcessSpec(
                name: c.name, kind: .client, layer: -1,
                arguments: ["client", "daemon", "--config", path("config/\(c.name).json"), "--status-file", status,
                            "--journal", journal, "--peers", path("peers.txt"), "--demo-interval", "\(o.demoInterval)",
                            "--name", c.name],
                metricsPort: nil, statusFile: status, journal: journal))
        }
        return TestnetLayout(directory: directory, parameters: parameters, schedule: schedule, authorityPort: authorityPort,
                             authorityKey: authority.signingKey.verifyingKey, nodes: nodes, processes: processes)
    }
}
