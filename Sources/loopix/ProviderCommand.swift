// `loopix provider`: run a provider from its configuration file; register clients in its store.
import ArgumentParser
import Foundation
import Logging
import LoopixNetwork
import LoopixNode
import LoopixProvider
import LoopixSphinx
import ServiceLifecycle

struct ProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provider",
        abstract: "Run a provider (mailboxes and pulls) until SIGTERM or SIGINT.",
        subcommands: [Run.self, Register.self],
        defaultSubcommand: Run.self)

    /// Builds the provider a configuration file describes.
    static func make(_ path: String) throws -> (ProviderNode, NodeConfigurationFile, Logger) {
        let file = try NodeConfigurationFile.load(path)
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
        if let d = file.durability { provider.durability = MailboxStore.Durability(rawValue: d)! }
        provider.pullSize = topology.parameters.pullSize
        provider.pullHost = file.pullHost ?? "0.0.0.0"
        guard let pullPort = file.pullPort ?? me.clientPort else {
            throw ConfigurationError(file: path, field: "pullPort", problem: "missing, and the topology gives this provider no clientPort")
        }
        provider.pullPort = pullPort
        var logger = Logger(label: "loopix.provider")
        logger[metadataKey: "node"] = "\(me.id.hex.prefix(12))"
        let node = try ProviderNode(id: me.id, secretKey: keys.sphinxKey, topology: topology,
                                    node: file.nodeConfiguration(entry: me), provider: provider, logger: logger)
        for client in file.clients ?? [] {
            try node.register(mailbox: try SphinxAddress(hex: client.mailbox), verifyingKey: try VerifyingKey(hex: client.signingKey))
        }
        return (node, file, logger)
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the provider (the default).")
        @Option(help: "The provider's configuration file (JSON).") var config: String

        func run() async throws {
            let file = try NodeConfigurationFile.load(config)
            bootstrapLogging(file.logLevel)
            let (node, _, logger) = try ProviderCommand.make(config)
            let group = ServiceGroup(configuration: .init(services: [.init(service: node)],
                                                          gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a client in the provider's mailbox file (works while the provider runs).")
        @Option(help: "The provider's configuration file.") var config: String
        @Option(help: "The client's mailbox id, hex.") var mailbox: String
        @Option(help: "The client's signing public key, hex.") var signingKey: String

        func run() throws {
            let file = try NodeConfigurationFile.load(config)
            guard let path = file.mailboxes else {
                throw ConfigurationError(file: config, field: "mailboxes", problem: "missing")
            }
            let topology = try loadTopology(file.topology, authority: file.authority)
            let store = try MailboxStore(configuration: .init(path: path), geometry: topology.parameters.geometry)
            try store.register(mailbox: try SphinxAddress(hex: mailbox), verifyingKey: try VerifyingKey(hex: signingKey))
            print("registered mailbox \(mailbox.prefix(16))…")
        }
    }
}
