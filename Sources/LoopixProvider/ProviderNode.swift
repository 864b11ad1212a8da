// A provider: a node of the network whose DELIVER packets go to mailboxes, plus the pull port.
import Logging
import Dispatch
import LoopixNetwork
import LoopixNode
import LoopixNoise
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
    /// The pull port's connection and rate limits.
    public var pullLimits = PullLimits()
    /// Seconds a packet may wait unread in a mailbox (default seven days); expired packets are
    /// deleted every tenth of this (at most every ten minutes, at least every second), so a
    /// flooded mailbox recovers.
    public var mailboxExpiry: Double = MailboxStore.defaultExpiry

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
    private let purge = NIOLockedValueBox<RepeatedTask?>(nil)

    /// A provider of a network that never changes: one key, one replay filter. `linkKey`: the
    /// X25519 form of its identity (`SigningKey.linkKey()`); a provider's links always run over Noise.
    public convenience init(id: NodeID, secretKey: SecretKey, topology: Topology, linkKey: NoiseSecretKey,
                            node nodeConfiguration: NodeConfiguration,
                            provider configuration: ProviderConfiguration, eventLoopGroup: MultiThreadedEventLoopGroup? = nil,
                            logger: Logger = Logger(label: "loopix.provider")) throws {
        let filter = try ReplayFilter(capacity: nodeConfiguration.replayCapacity,
                                      falsePositiveRate: nodeConfiguration.replayFalsePositiveRate)
        try self.init(id: id, epoch: NodeEpochSetup(epoch: 0, topology: topology, key: secretKey, replayFilter: filter),
                      linkKey: linkKey, node: nodeConfiguration, provider: configuration, eventLoopGroup: eventLoopGroup,
                      logger: logger)
    }

    /// A provider on its first key epoch; later ones arrive through `install(_:)`. `metrics` may
    /// be a registry already in use (a node in directory mode counts its directory follower there).
    public init(id: NodeID, epoch first: NodeEpochSetup, linkKey: NoiseSecretKey, node nodeConfiguration: NodeConfiguration,
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
                                                      durability: configuration.durability,
                                                      expiry: configuration.mailboxExpiry),
                                 geometry: topology.parameters.geometry)
        writer = MailboxWriter(store: store, metrics: metrics)
        pullServer = PullServer(service: PullService(store: store, pullSize: configuration.pullSize), key: linkKey,
                                metrics: metrics, idleTimeout: configuration.pullIdleTimeout,
                                limits: configuration.pullLimits, logger: logger)
        node = try MixNode(id: id, epoch: first, links: .noise(linkKey), configuration: nodeConfiguration,
                           clients: StoredClients(store: store), deliverySink: writer, eventLoopGroup: group,
                           metrics: nodeMetrics, logger: logger)
    }

    /// Registers (or re-keys) a client of this provider.
    public func register(mailbox: SphinxAddress, verifyingKey: VerifyingKey) throws {
        try store.register(mailbox: mailbox, verifyingKey: verifyingKey)
    }

    public func start() async throws {
        try await node.start()
        let channel = try await pullServer.bind(host: configuration.pullHost, port: configuration.pullPort, group: group)
        pullChannel.withLockedValue { $0 = channel }
        startPurging()
    }

    /// Seconds between purges of expired packets: a tenth of the expiry, within 1 s and ten minutes.
    /// The floor keeps a tiny expiry (`mailboxExpiryDays` takes fractions) from running purges
    /// back to back; an expired packet still leaves within a second.
    static func purgePeriod(expiry: Double) -> Double { min(max(expiry / 10, 1), 600) }

    /// Deletes expired mailbox packets now and then, off the event loops; a purge still running
    /// (a slow disk) makes the next one skip its turn instead of queueing behind it.
    private func startPurging() {
        let period = Self.purgePeriod(expiry: configuration.mailboxExpiry)
        let (store, metrics) = (self.store, self.metrics)
        let queue = DispatchQueue(label: "loopix.mailbox-expiry", qos: .utility)
        let running = NIOLockedValueBox(false)
        let task = group.next().scheduleRepeatedTask(initialDelay: .zero, delay: .nanoseconds(Int64(period * 1e9))) { _ in
            let claimed = running.withLockedValue { busy -> Bool in
                if busy { return false }
                busy = true
                return true
            }
            guard claimed else { return }
            queue.async {
                defer { running.withLockedValue { $0 = false } }
                if let expired = try? store.purgeExpired(), expired > 0 { metrics.expired.increment(by: expired) }
            }
        }
        purge.withLockedValue { $0 = task }
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
        purge.withLockedValue { $0?.cancel() }
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

/// The clients a provider's packet port lets in: those registered in its mailbox store.
struct StoredClients: LinkClients {
    let store: MailboxStore
    func isKnownClient(_ key: NoisePublicKey) -> Bool { store.isKnownClient(linkKey: key) }
    func isRegisteredClient(_ key: NoisePublicKey) -> Bool { (try? store.isRegistered(linkKey: key)) ?? false }
}
