// The mix, the provider and the client a configuration file describes, built the same way for
// `loopix mix`, `provider` and `client` and for the node the benchmark runs.
import Logging
import LoopixClient
import LoopixNetwork
import LoopixNode
import LoopixProvider
import LoopixSphinx
import NIOPosix
import ServiceLifecycle

/// Loads the signed topology a configuration names, checking the authority when one is pinned.
public func loadTopology(_ path: String?, authority: String?) throws -> Topology {
    guard let path else { throw TopologyError.badParameters("no topology file is configured") }
    return try SignedTopology.load(path: path, expectedAuthority: try authority.map { try VerifyingKey(hex: $0) })
}

/// What `loopix mix` and `loopix provider` run for a configuration file: a node on its single
/// topology, or a node that follows a directory through key epochs.
public struct ConfiguredNode: Sendable {
    public let service: any Service
    public let logger: Logger

    public init(file: NodeConfigurationFile, path: String, role: NodeRole) throws {
        if file.directory != nil {
            let node = try DirectoryModeNode(file: file, path: path, role: role)
            (service, logger) = (node, node.logger)
        } else if role == .mix {
            let mix = try ConfiguredMix(file: file, path: path)
            (service, logger) = (mix.node, mix.logger)
        } else {
            let provider = try ConfiguredProvider(file: file, path: path)
            (service, logger) = (provider.node, provider.logger)
        }
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    public func runUntilTerminated() async throws {
        try await ServiceGroup(configuration: .init(services: [.init(service: service)],
                                                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }
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
        guard let pullPort = file.pullPort ?? me.clientPort else {
            throw ConfigurationError(file: path, field: "pullPort", problem: "missing, and the topology gives this provider no clientPort")
        }
        var logger = Logger(label: "loopix.provider")
        logger[metadataKey: "node"] = "\(me.id.hex.prefix(12))"
        node = try ProviderNode(id: me.id, secretKey: keys.sphinxKey, topology: topology, linkKey: keys.signingKey.linkKey(),
                                node: file.nodeConfiguration(entry: me),
                                provider: file.providerConfiguration(store: store, pullPort: pullPort, pullSize: topology.parameters.pullSize),
                                logger: logger)
        for (mailbox, key) in try file.clientRegistrations() { try node.register(mailbox: mailbox, verifyingKey: key) }
        self.logger = logger
    }

    /// Registers a client in the mailbox file a provider configuration names (the provider may be
    /// running). The store is made for the network's packet size: from the topology, or from the
    /// directory's current document.
    public static func register(mailbox: String, signingKey: String, file: NodeConfigurationFile, path: String) async throws {
        guard let store = file.mailboxes else { throw ConfigurationError(file: path, field: "mailboxes", problem: "missing") }
        let geometry: Geometry
        if let directory = file.directory {
            geometry = try await directory.currentDocument().parameters.geometry
        } else {
            geometry = try loadTopology(file.topology, authority: file.authority).parameters.geometry
        }
        let mailboxes = try MailboxStore(configuration: .init(path: store), geometry: geometry)
        try mailboxes.register(mailbox: try SphinxAddress(hex: mailbox), verifyingKey: try VerifyingKey(hex: signingKey))
    }
}

extension NodeConfigurationFile {
    /// The provider settings this file asks for, over the defaults.
    func providerConfiguration(store: String, pullPort: Int, pullSize: Int) -> ProviderConfiguration {
        var provider = ProviderConfiguration(storePath: store)
        if let q = quotaPerMailbox { provider.quotaPerMailbox = q }
        if let days = mailboxExpiryDays { provider.mailboxExpiry = days * 86_400 }
        if let d = durability { provider.durability = MailboxStore.Durability(rawValue: d)! }
        provider.pullSize = pullSize
        provider.pullHost = pullHost ?? "0.0.0.0"
        provider.pullPort = pullPort
        // The pull port's handshakes are links like the packet port's, under the same settings.
        if let maxPendingHandshakes { provider.pullLimits.maxPendingHandshakesPerAddress = maxPendingHandshakes }
        if let handshakeTimeout { provider.pullLimits.links.handshakeTimeout = handshakeTimeout }
        return provider
    }

    /// The clients the file registers at start (checked by `load`).
    func clientRegistrations() throws -> [(SphinxAddress, VerifyingKey)] {
        try (clients ?? []).map { (try SphinxAddress(hex: $0.mailbox), try VerifyingKey(hex: $0.signingKey)) }
    }
}
