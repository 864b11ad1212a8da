// A provider: a node of the network whose DELIVER packets go to mailboxes, plus the pull port.
import Logging
import LoopixNetwork
import LoopixNode
import LoopixSphinx
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The settings a provider adds to a node's.
public struct ProviderConfiguration: Sendable {
    /// The SQLite file of the mailboxes.
    public var storePath: String
    public var quotaPerMailbox: Int = 10_000
    public var durability: MailboxStore.Durability = .full
    /// K: packets in every pull answer.
    public var pullSize: Int = 8
    /// Where clients pull; port 0 picks a free port (tests).
    public var pullHost: String = "0.0.0.0"
    public var pullPort: Int = 0
    /// A pulling client must send its next frame within this many seconds.
    public var pullIdleTimeout: Double = 30

    public init(storePath: String) { self.storePath = storePath }
}

/// A provider node: the node pipeline with a mailbox writer as its delivery sink, and a pull server.
public final class ProviderNode: Service, Sendable {
    public let node: MixNode
    public let store: MailboxStore
    public let writer: MailboxWriter
    public let pullServer: PullServer
    public let metrics: ProviderMetrics
    private let configuration: ProviderConfiguration
    private let group: MultiThreadedEventLoopGroup
    private let ownsGroup: Bool
    private let pullChannel = NIOLockedValueBox<(any Channel)?>(nil)

    /// A provider of a network that never changes: one key, one replay filter.
    public convenience init(id: NodeID, secretKey: SecretKey, topology: Topology, node nodeConfiguration: NodeConfiguration,
                            provider configuration: ProviderConfiguration, eventLoopGroup: MultiThreadedEventLoopGroup? = nil,
                            logger: Logger = Logger(label: "loopix.provider")) throws {
        let filter = try ReplayFilter(capacity: nodeConfiguration.replayCapacity,
                                      falsePositiveRate: nodeConfiguration.replayFalsePositiveRate)
        try self.init(id: id, epoch: NodeEpochSetup(epoch: 0, topology: topology, key: secretKey, replayFilter: filter),
                      node: nodeConfiguration, provider: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// A provider on its first key epoch; later ones arrive through `install(_:)`. `metrics` may
    /// be a registry already in use (a node in directory mode counts its directory follower there).
    public init(id: NodeID, epoch first: NodeEpochSetup, node nodeConfiguration: NodeConfiguration,
                provider configuration: ProviderConfiguration, eventLoopGroup: MultiThreadedEventLoopGroup? = nil,
                metrics nodeMetrics: NodeMetrics = NodeMetrics(), logger: Logger = Logger(label: "loopix.provider")) throws {
        let topology = first.topology
        guard topology.node(id)?.role == .provider else { throw TopologyError.badNode(id, "not a provider in the topology") }
        self.configuration = configuration
        ownsGroup = eventLoopGroup == nil
        group = eventLoopGroup ?? MultiThreadedEventLoopGroup(numberOfThreads: max(1, nodeConfiguration.eventLoops))
        if ownsGroup { MixNode.requestSlice(on: group, microseconds: nodeConfiguration.eventLoopSliceMicroseconds) }
        metrics = ProviderMetrics(registry: nodeMetrics.registry)
        store = try MailboxStore(configuration: .init(path: configuration.storePath,
                                                      quotaPerMailbox: configuration.quotaPerMailbox,
                                                      durability: configuration.durability),
                                 geometry: topology.parameters.geometry)
        writer = MailboxWriter(store: store, metrics: metrics)
        pullServer = PullServer(service: PullService(store: store, pullSize: configuration.pullSize), metrics: metrics,
                                idleTimeout: configuration.pullIdleTimeout, logger: logger)
        node = try MixNode(id: id, epoch: first, configuration: nodeConfiguration,
                           deliverySink: writer, eventLoopGroup: group, metrics: nodeMetrics, logger: logger)
    }

    /// Registers (or re-keys) a client of this provider.
    public func register(mailbox: SphinxAddress, verifyingKey: VerifyingKey) throws {
        try store.register(mailbox: mailbox, verifyingKey: verifyingKey)
    }

    public func start() async throws {
        try await node.start()
        let channel = try await pullServer.bind(host: configuration.pullHost, port: configuration.pullPort, group: group)
        pullChannel.withLockedValue { $0 = channel }
    }

    /// The node's packet port and the client pull port, once started.
    public var packetPort: Int? { node.localPort }
    public var pullPort: Int? { pullChannel.withLockedValue { $0?.localAddress?.port } }

    /// Stops taking pulls, drains the node, and commits every packet already handed to the store.
    public func shutdown() async {
        let channel = pullChannel.withLockedValue { c -> (any Channel)? in
            defer { c = nil }
            return c
        }
        try? await channel?.close()
        await node.shutdown()
        writer.drain()
        if ownsGroup { try? await group.shutdownGracefully() }
    }

    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        await shutdown()
    }
}

extension ProviderNode: EpochNode {
    public var epoch: UInt64 { node.epoch }
    public func install(_ setup: NodeEpochSetup) throws { try node.install(setup) }
    public func retirePrevious() { node.retirePrevious() }
}
