// The mix, the provider and the client a configuration file describes, built the same way for
// `loopix mix`, `provider` and `client` and for the node the benchmark runs.
import Logging
import LoopixClient
import LoopixNetwork
import LoopixNode
import LoopixProvider
import LoopixSphinx
import NIOPosix

/// Loads the signed topology a configuration names, checking the authority when one is pinned.
public func loadTopology(_ path: String, authority: String?) throws -> Topology {
    try SignedTopology.load(path: path, expectedAuthority: try authority.map { try VerifyingKey(hex: $0) })
}

/// A mix node built from its configuration file (which `load` read and checked).
public struct ConfiguredMix {
    public let node: MixNode
    public let logger: Logger

    /// `plaintextLinksForBenchmark`: only for the benchmark's own node (`loopix bench serve-node`).
    public init(file: NodeConfigurationFile, path: String, plaintextLinksForBenchmark: Bool = false) throws {
        let topology = try loadTopology(file.topology, authority: file.authority)
        let keys = try KeyFile.load(path: file.key)
        guard let me = topology.nodes.first(where: { $0.publicKey == keys.sphinxKey.publicKey }), me.role == .mix else {
            throw ConfigurationError(file: path, field: "key", problem: "no mix of the topology has this key")
        }
        var logger = Logger(label: "loopix.mix")
        logger[metadataKey: "node"] = "\(me.id.hex.prefix(12))"
        node = try MixNode(id: me.id, secretKey: keys.sphinxKey, topology: topology,
                           links: plaintextLinksForBenchmark ? .plaintextForBenchmark : .noise(keys.signingKey.linkKey()),
                           configuration: file.nodeConfiguration(entry: me), logger: logger)
        self.logger = logger
    }
}

/// A provider built from its configuration file, with the clients it lists registered.
public struct ConfiguredProvider {
    public let node: ProviderNode
    public let logger: Logger

    public init(file: NodeConfigurationFile, path: String) throws {
        guard let store = file.mailboxes else {
            throw ConfigurationError(file: path, field: "mailboxes", problem: "missing (a provider needs a mailbox file)")
        }
        let topology = try loadTopology(file.topology, authority: file.authority)
        let keys = try KeyFile.load(path: file.key)
        guard let me = topology.nodes.first(where: { $0.publicKey == keys.sphinxKey.publicKey }), me.role == .provider else {
            throw ConfigurationError(file: path, field: "key", problem: "no provider of the topology has this key")
        }
        var provider = ProviderConfiguration(storePath: store)
        if let q = file.quotaPerMailbox { provider.quotaPerMailbox = q }
        if let days = file.mailboxExpiryDays { provider.mailboxExpiry = days * 86_400 }
        if let d = file.durability { provider.durability = MailboxStore.Durability(rawValue: d)! }
        provider.pullSize = topology.parameters.pullSize
        provider.pullHost = file.pullHost ?? "0.0.0.0"
        guard let pullPort = file.pullPort ?? me.clientPort else {
            throw ConfigurationError(file: path, field: "pullPort", problem: "missing, and the topology gives this provider no clientPort")
        }
        provider.pullPort = pullPort
        var logger = Logger(label: "loopix.provider")
        logger[metadataKey: "node"] = "\(me.id.hex.prefix(12))"
        node = try ProviderNode(id: me.id, secretKey: keys.sphinxKey, topology: topology, linkKey: keys.signingKey.linkKey(),
                                node: file.nodeConfiguration(entry: me), provider: provider, logger: logger)
        for client in file.clients ?? [] {
            try node.register(mailbox: try SphinxAddress(hex: client.mailbox), verifyingKey: try VerifyingKey(hex: client.signingKey))
        }
        self.logger = logger
    }

    /// Registers a client in the mailbox file a provider configuration names (the provider may be running).
    public static func register(mailbox: String, signingKey: String, file: NodeConfigurationFile, path: String) throws {
        guard let store = file.mailboxes else { throw ConfigurationError(file: path, field: "mailboxes", problem: "missing") }
        let topology = try loadTopology(file.topology, authority: file.authority)
        let mailboxes = try MailboxStore(configuration: .init(path: store), geometry: topology.parameters.geometry)
        try mailboxes.register(mailbox: try SphinxAddress(hex: mailbox), verifyingKey: try VerifyingKey(hex: signingKey))
    }
}

/// A client built from its configuration file, with the event loop its transport runs on.
public struct ConfiguredClient: Sendable {
    public let client: LoopixClient
    private let group: MultiThreadedEventLoopGroup

    public init(file: ClientConfigurationFile, path: String) throws {
        let topology = try loadTopology(file.topology, authority: file.authority)
        let keys = try KeyFile.load(path: file.key)
        let providerID = try NodeID(hex: file.provider)
        guard let provider = topology.node(providerID), provider.role == .provider else {
            throw ConfigurationError(file: path, field: "provider", problem: "not a provider of the topology")
        }
        guard let pullPort = provider.clientPort else {
            throw ConfigurationError(file: path, field: "provider", problem: "the topology gives this provider no clientPort")
        }
        guard let providerKey = provider.linkKey else {
            throw ConfigurationError(file: path, field: "provider", problem: "the topology gives this provider no identity key to authenticate its links")
        }
        let identity = ClientIdentity(sphinxKey: keys.sphinxKey, signingKey: keys.signingKey,
                                      mailbox: try SphinxAddress(hex: file.mailbox), provider: providerID)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let transport = TCPClientTransport(
            packets: .init(host: provider.host, port: provider.port), pulls: .init(host: provider.host, port: pullPort),
            identity: identity, providerKey: providerKey, geometry: topology.parameters.geometry,
            pullSize: topology.parameters.pullSize, group: group)
        client = LoopixClient(core: try ClientCore(identity: identity, topology: topology), rates: file.rates(topology.parameters),
                              transport: transport, eventLoop: group.next(), bufferCapacity: file.sendBuffer ?? 1000)
    }

    /// The address others send to, from the file alone (nothing is started).
    public static func address(file: ClientConfigurationFile) throws -> RecipientAddress {
        let keys = try KeyFile.load(path: file.key)
        return RecipientAddress(provider: try NodeID(hex: file.provider), mailbox: try SphinxAddress(hex: file.mailbox),
                                publicKey: keys.sphinxKey.publicKey)
    }

    /// Stops the client (its last pull acknowledged) and its event loop.
    public func stop() async {
        await client.stop()
        try? await group.shutdownGracefully()
    }
}
