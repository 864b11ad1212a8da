// The directory authority a configuration file describes, and the operator's edits of its
// registry, for `loopix authority`.
import Foundation
import Logging
import LoopixDirectory
import LoopixNetwork
import LoopixSphinx
import ServiceLifecycle

/// A directory authority built from its configuration file (which `load` read and checked).
public struct ConfiguredAuthority: Sendable {
    public let server: AuthorityServer
    public let logger: Logger

    public init(file: AuthorityConfigurationFile) throws {
        let key = try KeyFile.load(path: file.key).signingKey
        let logger = Logger(label: "loopix.authority")
        let state = try AuthorityState(policy: Self.policy(file), key: key, folder: URL(fileURLWithPath: file.state),
                                       registryPath: file.registry)
        server = AuthorityServer(state: state, host: file.listenHost ?? "0.0.0.0", port: file.port, logger: logger)
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT, then stops listening.
    public func runUntilTerminated() async throws {
        try await ServiceGroup(configuration: .init(services: [.init(service: server)],
                                                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }

    static func policy(_ file: AuthorityConfigurationFile) -> AuthorityPolicy {
        AuthorityPolicy(schedule: file.schedule, parameters: file.parameters, grace: file.grace ?? file.parameters.defaultGrace)
    }

    /// Adds `identity` (hex) to the registry the file names, or replaces its entry; a running
    /// authority picks the change up within a second. A layer is for mixes only, within the
    /// network's layers.
    public static func register(identity: String, role: NodeRole, layer: Int?, name: String?,
                                file: AuthorityConfigurationFile, path: String) throws -> RegisteredNode {
        guard let key = try? VerifyingKey(hex: identity) else {
            throw ConfigurationError(file: path, field: "--identity", problem: "must be 64 hex digits (a signing public key)")
        }
        if let layer {
            guard role == .mix else { throw ConfigurationError(file: path, field: "--layer", problem: "only mixes have a layer") }
            guard (1...file.parameters.layers).contains(layer) else {
                throw ConfigurationError(file: path, field: "--layer", problem: "must be 1...\(file.parameters.layers)")
            }
        }
        let node = RegisteredNode(identity: key, role: role, layer: layer, name: name)
        try AuthorityRegistry.update(path: file.registry) { $0.register(node) }
        return node
    }

    /// What an operator checks: the registry, each mix's layer, and the documents of the current
    /// and the next epoch as the authority's state folder holds them.
    public static func overview(file: AuthorityConfigurationFile, now: Double = Date().timeIntervalSince1970) throws
        -> AuthorityOverview
    {
        let registry = try AuthorityRegistry.load(path: file.registry)
        let schedule = file.schedule
        let epoch = schedule.epoch(at: now)
        func document(_ epoch: UInt64) -> DirectoryDocument? {
            let url = URL(fileURLWithPath: file.state).appendingPathComponent("documents/\(epoch).json")
            return (try? Data(contentsOf: url)).flatMap { try? SignedDirectoryDocument.decode($0).document }
        }
        return AuthorityOverview(registry: registry, layers: registry.mixLayers(layers: file.parameters.layers),
                                 schedule: schedule, epoch: epoch, current: document(epoch), next: document(epoch + 1))
    }
}

/// The registry and the published documents of one authority, for `loopix authority show`.
public struct AuthorityOverview: Sendable {
    public let registry: AuthorityRegistry
    /// The layer of every registered mix (the operator's choice or the authority's).
    public let layers: [VerifyingKey: Int]
    public let schedule: EpochSchedule
    public let epoch: UInt64
    public let current: DirectoryDocument?
    public let next: DirectoryDocument?
}
