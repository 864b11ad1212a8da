// A mix or a provider that follows a directory authority: its identity is its key file's signing
// key, its Sphinx keys and replay filters are per epoch under its state folder, and an epoch
// driver builds it on the first document that lists it and moves it at every boundary.
import Foundation
import Logging
import LoopixDirectory
import LoopixNetwork
import LoopixNode
import LoopixProvider
import LoopixSphinx
import NIOPosix
import Prometheus
import ServiceLifecycle

/// A node in directory mode, as `loopix mix|provider` runs it. Its metrics endpoint serves from
/// the start (the directory follower's counters say why a node is not running yet); the node's
/// own counters join the same registry once it is built.
public final class DirectoryModeNode: Service, Sendable {
    public let driver: EpochDriver
    public let metrics: NodeMetrics
    public let logger: Logger
    /// The node's identity: the signing key of its key file; its node id is this key's bytes.
    public let identity: VerifyingKey
    private let group: MultiThreadedEventLoopGroup
    private let metricsEndpoint: (host: String, port: Int)?
    private let authority: String

    /// Reads the key file, opens the state folder and prepares the driver (nothing runs yet).
    public init(file: NodeConfigurationFile, path: String, role: NodeRole) throws {
        func bad(_ field: String, _ problem: String) -> ConfigurationError { ConfigurationError(file: path, field: field, problem: problem) }
        guard let directory = file.directory, let state = file.state, let port = file.port, let host = file.announcedHost else {
            throw bad("directory", "not a directory-mode configuration")
        }
        let signingKey = try KeyFile.load(path: file.key).signingKey
        identity = signingKey.verifyingKey
        let id = NodeID.forIdentity(identity)
        var named = Logger(label: role == .mix ? "loopix.mix" : "loopix.provider")
        named[metadataKey: "node"] = "\(id.hex.prefix(12))"
        let logger = named
        self.logger = logger
        let metrics = NodeMetrics()
        self.metrics = metrics
        metricsEndpoint = file.metricsPort.map { (file.metricsHost ?? "127.0.0.1", $0) }
        authority = "\(directory.host):\(directory.port)"

        let folder = URL(fileURLWithPath: state)
        try Self.openPrivateFolder(folder)
        let keys = try EpochKeyStore(folder: folder.appendingPathComponent("keys"))
        let filters = try EpochReplayFilters(folder: folder.appendingPathComponent("replay"),
                                             liveDirectory: file.replayLiveDirectory,
                                             ratedPacketsPerSecond: file.ratedPacketsPerSecond ?? 10_000)
        let configuration = file.nodeConfiguration(port: port)
        let makeNode: @Sendable (NodeEpochSetup) throws -> any EpochNode
        var clientPort: Int? = nil
        switch role {
        case .mix:
            makeNode = { setup in
                try MixNode(id: id, epoch: setup, links: .noise(signingKey.linkKey()), configuration: configuration,
                            metrics: metrics, logger: logger)
            }
        case .provider:
            guard let store = file.mailboxes else { throw bad("mailboxes", "missing (a provider needs a mailbox file)") }
            guard let pullPort = file.pullPort, pullPort > 0 else {
                throw bad("pullPort", "required for a provider with a directory: the port clients pull from, announced with the node")
            }
            clientPort = pullPort
            let clients = try file.clientRegistrations()
            makeNode = { setup in
                let node = try ProviderNode(
                    id: id, epoch: setup, linkKey: signingKey.linkKey(), node: configuration,
                    provider: file.providerConfiguration(store: store, pullPort: pullPort, pullSize: setup.topology.parameters.pullSize),
                    metrics: metrics, logger: logger)
                for (mailbox, key) in clients { try node.register(mailbox: mailbox, verifyingKey: key) }
                return node
            }
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let follower = try directory.follower(group: group, metrics: PrometheusMetricsFactory(registry: metrics.registry),
                                              logger: logger)
        driver = EpochDriver(
            announcement: NodeAnnouncement(identity: signingKey, role: role, host: host, port: file.announcePort ?? port,
                                           clientPort: clientPort),
            follower: follower, keys: keys, grace: file.grace, replayFilters: filters, makeNode: makeNode, logger: logger)
    }

    /// Makes the state folder with mode 0700, or refuses one that others can read (it holds keys).
    private static func openPrivateFolder(_ folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let mode = (try FileManager.default.attributesOfItem(atPath: folder.path)[.posixPermissions] as? Int) ?? 0
        guard mode & 0o077 == 0 else { throw KeyFile.KeyFileError.permissions(folder.path, mode: mode) }
    }

    /// Serves metrics, then runs the driver (which runs the node once listed) until graceful shutdown.
    public func run() async throws {
        var endpoint: HTTPEndpoint? = nil
        if let (host, port) = metricsEndpoint { endpoint = try await metrics.registry.serve(host: host, port: port, group: group) }
        logger.notice("following the directory", metadata: [
            "authority": "\(authority)", "identity": "\(identity.hex)",
            "metrics": "\(endpoint?.localPort.map(String.init) ?? "off")",
        ])
        let result = await Result { try await driver.run() }
        await endpoint?.close()
        try? await group.shutdownGracefully()
        try result.get()
    }
}

extension Result where Failure == any Error {
    /// The outcome of an async body, so that clean-up can run before the error is passed on.
    fileprivate init(_ body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
