// A running node: wires the stages together, starts and stops them, and runs as a service
// under swift-service-lifecycle (graceful shutdown on SIGTERM/SIGINT).
import CLoopixThreads
import Logging
import Dispatch
import LoopixNetwork
import LoopixNoise
import LoopixSphinx
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A key epoch as a node runs it: its number, the document's topology for it, and this node's
/// key for it with the key's own replay filter.
public struct NodeEpochSetup: Sendable {
    public var epoch: UInt64
    public var topology: Topology
    public var key: SecretKey
    public var replayFilter: ReplayFilter

    public init(epoch: UInt64, topology: Topology, key: SecretKey, replayFilter: ReplayFilter) {
        self.epoch = epoch
        self.topology = topology
        self.key = key
        self.replayFilter = replayFilter
    }
}

/// One mix (or, with a delivery sink, provider) node: listen, admit, unwrap, delay, forward.
public final class MixNode: Service, Sendable {
    public let id: NodeID
    public let role: NodeRole
    public let metrics: NodeMetrics
    private let configuration: NodeConfiguration
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let ownsGroup: Bool
    private let slab: PacketSlab
    private let pool: CryptoWorkerPool
    private let schedulers: [DelayScheduler]
    private let links: OutboundLinks
    private let epochs: EpochStates
    private let controller: QueueController
    private let loopSender: LoopSender?
    private let inbound: InboundContext
    private let security: LinkSecurity
    private let authorizer: NodeLinkAuthorizer
    private let linkLimits: LinkLimits
    private let running = NIOLockedValueBox(Running())

    private struct Running {
        var server: (any Channel)?
        var metricsServer: HTTPEndpoint?
        var children: [ObjectIdentifier: any Channel] = [:]
        var stopped = false
    }

    /// Builds a node for a network that never changes: entry `id` of `topology`, one key, one
    /// replay filter of `configuration.replayCapacity` tags.
    public convenience init(
        id: NodeID,
        secretKey: SecretKey,
        topology: Topology,
        links security: LinkSecurity,
        configuration: NodeConfiguration = NodeConfiguration(),
        deliverySink: (any DeliverySink)? = nil,
        finalSink: (any FinalSink)? = nil,
        hopObserver: (@Sendable (HopRecord) -> Void)? = nil,
        eventLoopGroup: MultiThreadedEventLoopGroup? = nil,
        metrics: NodeMetrics = NodeMetrics(),
        logger: Logger = Logger(label: "loopix.node")
    ) throws {
        let filter = try ReplayFilter(capacity: configuration.replayCapacity,
                                      falsePositiveRate: configuration.replayFalsePositiveRate)
        try self.init(id: id, epoch: NodeEpochSetup(epoch: 0, topology: topology, key: secretKey, replayFilter: filter),
                      links: security, configuration: configuration, deliverySink: deliverySink, finalSink: finalSink,
                      hopObserver: hopObserver, eventLoopGroup: eventLoopGroup, metrics: metrics, logger: logger)
    }

    /// Builds node `id` for its first key epoch; later epochs arrive through `install(_:)`.
    /// `links`: how its links are protected (Noise with its identity's link key, in production).
    /// `clients`: who else may send to it beyond the nodes of its previous layer (a provider's
    /// registered clients). Nothing runs until `start()` or `run()`.
    public init(
        id: NodeID,
        epoch first: NodeEpochSetup,
        links security: LinkSecurity,
        configuration: NodeConfiguration = NodeConfiguration(),
        clients: (any LinkClients)? = nil,
        deliverySink: (any DeliverySink)? = nil,
        finalSink: (any FinalSink)? = nil,
        hopObserver: (@Sendable (HopRecord) -> Void)? = nil,
        eventLoopGroup: MultiThreadedEventLoopGroup? = nil,
        metrics: NodeMetrics = NodeMetrics(),
        logger: Logger = Logger(label: "loopix.node")
    ) throws {
        let descriptor = try Self.check(first, id: id, security: security)
        let topology = first.topology
        self.id = id
        self.security = security
        self.role = descriptor.role
        self.configuration = configuration
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "node"] = "\(id.hex.prefix(12))"
        self.logger = logger
        self.ownsGroup = eventLoopGroup == nil
        self.group = eventLoopGroup ?? MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoops))
        let loops = Array(group.makeIterator())
        if ownsGroup { MixNode.requestSlice(on: group, microseconds: configuration.eventLoopSliceMicroseconds) }

        // The wiring, top to bottom: each stage gets what it talks to when it is made.
        let geometry = topology.parameters.geometry
        let slab = PacketSlab(packetBytes: geometry.packetBytes, capacity: configuration.packetBuffers)
        self.slab = slab
        let settings = OutboundSettings(
            queueLimit: configuration.outboundQueueLimit, initialBackoff: configuration.reconnectInitialBackoff,
            maxBackoff: configuration.reconnectMaxBackoff, keepAliveInterval: configuration.keepAliveInterval,
            security: security, links: configuration.links)
        let links = OutboundLinks(loops: loops, metrics: metrics, settings: settings)
        self.links = links
        let epochs = EpochStates(EpochState(
            epoch: first.epoch, topology: topology,
            current: try PacketProcessor(geometry: geometry, secretKey: first.key, replayFilter: first.replayFilter),
            previous: nil, links: links.links(to: topology.nodes.filter { $0.id != id }),
            allowedSenders: Self.linkKeys(of: topology.senders(to: id))))
        self.epochs = epochs
        metrics.epoch.record(Int64(first.epoch))
        let schedulers = loops.map {
            DelayScheduler(eventLoop: $0, metrics: metrics, deliverySink: deliverySink, hopObserver: hopObserver)
        }
        self.schedulers = schedulers

        let sendsLoops = descriptor.role == .mix && configuration.sendLoops && topology.parameters.mixLoopRate > 0
        let monitor = sendsLoops
            ? LoopMonitor(window: configuration.loopWindow, grace: configuration.loopGrace,
                          minimumSamples: configuration.loopMinimumSamples,
                          threshold: topology.parameters.loopReturnThreshold)
            : nil
        let aqm = configuration.resolvedAQM(mixDelayRate: topology.parameters.mixDelayRate)
        let queue = CryptoQueue(hardLimit: aqm.queueLimit)
        let admission = AdmissionState(initialLimit: aqm.queueLimit)
        let shares = PeerShares(capacity: configuration.maxInboundConnections)
        let worker = PacketWorker(epochs: epochs, queue: queue, admission: admission, metrics: metrics,
                                  schedulers: schedulers, loopMonitor: monitor, finalSink: finalSink,
                                  hasDeliverySink: deliverySink != nil, shares: shares)
        let pool = CryptoWorkerPool(queue: queue, worker: worker, workers: max(1, configuration.workers))
        self.pool = pool
        controller = QueueController(configuration: aqm, queue: queue, admission: admission, slab: slab,
                                     workers: max(1, configuration.workers), metrics: metrics, eventLoop: loops[0])
        loopSender = monitor.map {
            LoopSender(me: id, epochs: epochs, monitor: $0, schedulers: schedulers, slab: slab,
                       metrics: metrics, logger: logger, eventLoop: loops[0],
                       alarmMultiplier: configuration.loopAlarmRateMultiplier)
        }
        let plaintext: Bool
        if case .plaintextForBenchmark = security { plaintext = true } else { plaintext = false }
        inbound = InboundContext(pool: pool, admission: admission, slab: slab, schedulers: schedulers, metrics: metrics,
                                 frameTimeout: configuration.frameTimeout, maxConnections: configuration.maxInboundConnections,
                                 shares: shares, plaintext: plaintext)
        authorizer = NodeLinkAuthorizer(epochs: epochs, clients: clients)
        linkLimits = LinkLimits(maxPendingPerAddress: configuration.maxPendingHandshakesPerAddress,
                                maxLinksPerPeer: configuration.maxLinksPerPeer)
    }

    /// This node's entry in `setup`'s topology, once the topology is valid, the entry's key is
    /// the setup's, and (on Noise links) the entry's identity is the one the links use.
    private static func check(_ setup: NodeEpochSetup, id: NodeID, security: LinkSecurity) throws -> NodeDescriptor {
        try setup.topology.validate()
        guard let descriptor = setup.topology.node(id) else { throw TopologyError.unknownNode(id) }
        guard descriptor.publicKey == setup.key.publicKey else {
            throw TopologyError.badNode(id, "the secret key does not match the topology's public key for epoch \(setup.epoch)")
        }
        if case .noise(let key) = security {
            guard descriptor.linkKey == key.publicKey else {
                throw TopologyError.badNode(id, "the link key is not the X25519 form of the identity the topology lists for this node")
            }
            if let stranger = setup.topology.nodes.first(where: { $0.linkKey == nil }) {
                throw TopologyError.badNode(stranger.id, "no identity key: links to and from it cannot be authenticated")
            }
        }
        return descriptor
    }

    /// The link keys of `nodes` (nodes without an identity have none).
    static func linkKeys(of nodes: [NodeDescriptor]) -> Set<NoisePublicKey> {
        Set(nodes.compactMap(\.linkKey))
    }

    /// The key epoch the node processes packets in now.
    public var epoch: UInt64 { epochs.current.epoch }

    /// The node's entry in the current epoch's topology.
    public var descriptor: NodeDescriptor { epochs.current.topology.node(id)! }

    /// Moves the node to a key epoch, or takes a re-issued document of the current one. A later
    /// epoch becomes current at once, and the epoch it replaces is kept as the previous one (its
    /// key tried when the new key's MAC check fails) until `retirePrevious()`; a document of the
    /// current epoch updates the peers and, if its key changed, the key.
    public func install(_ setup: NodeEpochSetup) throws {
        let descriptor = try Self.check(setup, id: id, security: security)
        guard descriptor.role == role else { throw TopologyError.badNode(id, "a node cannot change its role") }
        let old = epochs.current
        let geometry = setup.topology.parameters.geometry
        guard geometry == old.topology.parameters.geometry else {
            throw TopologyError.badParameters("the packet geometry (size and suite) cannot change while a node runs")
        }
        guard setup.epoch >= old.epoch else { throw TopologyError.badParameters("epoch \(setup.epoch) is before \(old.epoch)") }
        let sameEpoch = setup.epoch == old.epoch
        let current = sameEpoch && old.current.publicKey == setup.key.publicKey
            ? old.current
            : try PacketProcessor(geometry: geometry, secretKey: setup.key, replayFilter: setup.replayFilter)
        let previous = sameEpoch ? old.previous : (setup.epoch == old.epoch + 1 ? old.current : nil)
        let peers = setup.topology.nodes + (previous == nil ? [] : old.topology.nodes)
        var senders = Self.linkKeys(of: setup.topology.senders(to: id))
        var limit = setup.topology.parameters.hopDelayLimitMicroseconds
        if previous != nil {
            senders.formUnion(sameEpoch ? old.allowedSenders : Self.linkKeys(of: old.topology.senders(to: id)))
            limit = max(limit, old.hopDelayLimit)
        }
        epochs.replace(with: EpochState(epoch: setup.epoch, topology: setup.topology, current: current, previous: previous,
                                        previousTopology: sameEpoch ? old.previousTopology : old.topology,
                                        startedNanos: sameEpoch ? old.startedNanos : monotonicNanoseconds(),
                                        links: links.links(to: peers.filter { $0.id != id }), allowedSenders: senders,
                                        hopDelayLimit: limit))
        cutRevokedLinks()
        metrics.epoch.record(Int64(setup.epoch))
        if !sameEpoch {
            metrics.epochSwitches.increment()
            logger.notice("key epoch started", metadata: ["epoch": "\(setup.epoch)", "grace": "\(previous != nil)"])
        }
    }

    /// Ends the previous epoch's grace period: its key and replay filter are dropped (the key is
    /// wiped once the last worker holding it lets go).
    public func retirePrevious() {
        let old = epochs.current
        guard let previous = old.previous else { return }
        epochs.replace(with: EpochState(epoch: old.epoch, topology: old.topology, current: old.current, previous: nil,
                                        startedNanos: old.startedNanos, links: links.links(to: old.topology.nodes.filter { $0.id != id }),
                                        allowedSenders: Self.linkKeys(of: old.topology.senders(to: id))))
        cutRevokedLinks()
        logger.info("previous key retired", metadata: ["epoch": "\(old.epoch)", "key": "\(previous.publicKey)"])
    }

    /// Closes inbound links of nodes the current epoch (with its grace period) no longer lets
    /// send here; a provider's clients are judged when they connect.
    private func cutRevokedLinks() {
        let allowed = epochs.current.allowedSenders
        let clients = authorizer.clients != nil
        let nodes = Self.linkKeys(of: epochs.current.topology.nodes)
        let revoked = inbound.peers.withLockedValue { peers in
            peers.values.filter { !allowed.contains($0.peer) && (!clients || nodes.contains($0.peer)) }.map(\.channel)
        }
        for channel in revoked {
            metrics.refusedLink("revoked")
            channel.close(promise: nil)
        }
    }

    /// The handlers of an inbound connection, head first: the Noise responder (or plain frame
    /// decoding on a benchmark's plaintext links), then the node's own.
    private func inboundHandlers(packetBytes: Int) throws -> [any ChannelHandler] {
        let own = InboundPacketHandler(shared: inbound)
        switch security {
        case .plaintextForBenchmark:
            return [ByteToMessageHandler(WireFrameDecoder(packetBytes: packetBytes)), own]
        case .noise(let key):
            let frameBytes = WireFormat.lengthPrefixBytes + WireFormat.maxFrameLength(packetBytes: packetBytes)
            return [try NoiseLinkHandler(role: .responder(authorizer: authorizer, limits: linkLimits), localKey: key,
                                         purpose: .packets, settings: configuration.links, maxInboundPlaintext: frameBytes),
                    WireFrameUnpacker(packetBytes: packetBytes), own]
        }
    }

    /// Binds the listening socket (and the metrics endpoint) and starts the timers.
    public func start() async throws {
        let packetBytes = slab.packetBytes
        let running = self.running
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                running.withLockedValue { $0.children[ObjectIdentifier(channel)] = channel }
                channel.closeFuture.whenComplete { _ in
                    _ = running.withLockedValue { $0.children.removeValue(forKey: ObjectIdentifier(channel)) }
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(try self.inboundHandlers(packetBytes: packetBytes))
                }
            }
            .bind(host: configuration.listenHost, port: configuration.listenPort).get()
        var metricsServer: HTTPEndpoint? = nil
        if let port = configuration.metricsPort {
            metricsServer = try await metrics.serve(host: configuration.metricsHost, port: port, group: group)
        }
        running.withLockedValue {
            $0.server = server
            $0.metricsServer = metricsServer
        }
        controller.start()
        loopSender?.start()
        logger.info("node listening", metadata: [
            "address": "\(server.localAddress.map { "\($0)" } ?? "?")", "role": "\(descriptor.role.rawValue)",
            "workers": "\(configuration.workers)", "metrics": "\(metricsServer?.localPort.map(String.init) ?? "off")",
        ])
    }

    /// The port packets are accepted on, once started.
    public var localPort: Int? {
        running.withLockedValue { $0.server?.localAddress?.port }
    }

    /// The port of the metrics endpoint, once started.
    public var metricsPort: Int? {
        running.withLockedValue { $0.metricsServer?.localPort }
    }

    /// Stops accepting, lets the workers finish what was admitted, holds packets in their delay
    /// up to `drainTimeout`, counts the rest as dropped (cause "shutdown") and closes everything.
    public func shutdown() async {
        let (server, children, metricsServer, alreadyStopped) = running.withLockedValue { state in
            defer { state.stopped = true }
            return (state.server, Array(state.children.values), state.metricsServer, state.stopped)
        }
        guard !alreadyStopped else { return }
        loopSender?.stop()
        try? await server?.close()
        for child in children { try? await child.close() }

        let deadline = ContinuousClock.now + .milliseconds(Int(configuration.drainTimeout * 1000))
        while !pool.queue.isIdle && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        let stranded = pool.queue.removeAll()
        metrics.drop(.shutdown, count: stranded)
        while ContinuousClock.now < deadline, await scheduledCount() > 0 {
            try? await Task.sleep(for: .milliseconds(5))
        }
        var dropped = 0
        for scheduler in schedulers {
            dropped += (try? await scheduler.eventLoop.submit { scheduler.dropAll() }.get()) ?? 0
        }
        for connection in links.all {
            try? await connection.eventLoop.submit { connection.close() }.get()
        }
        controller.stop()
        await metricsServer?.close()
        logger.info("node stopped", metadata: ["droppedInDelay": "\(dropped)", "strandedInQueue": "\(stranded)"])
        if ownsGroup {
            try? await group.shutdownGracefully()
        }
    }

    private func scheduledCount() async -> Int {
        var total = 0
        for scheduler in schedulers {
            total += (try? await scheduler.eventLoop.submit { scheduler.pendingCount }.get()) ?? 0
        }
        return total
    }

    /// Service entry point: starts, waits for graceful shutdown (or cancellation), then drains.
    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        await shutdown()
    }
}

extension MixNode {
    /// Asks for `microseconds` (at least 100) as the scheduling slice of every thread of `group`
    /// (see `NodeConfiguration.eventLoopSliceMicroseconds`); nil does nothing. Only for a group
    /// the node's owner made for it: the threads of a group shared with other work keep theirs.
    public static func requestSlice(on group: MultiThreadedEventLoopGroup, microseconds: Int?) {
        guard let microseconds else { return }
        let nanoseconds = UInt64(max(100, microseconds)) * 1000
        for loop in group.makeIterator() { loop.execute { _ = loopix_thread_request_slice(nanoseconds) } }
    }

    /// Starts a new replay epoch (with a new key epoch): forgets every recorded tag.
    public func rotateReplayFilter(toEpoch epoch: UInt64) {
        epochs.current.current.replayFilter?.rotate(toEpoch: epoch)
    }
}

/// Who else may hold a link to a node beyond the nodes the directory lists as its senders.
public protocol LinkClients: Sendable {
    /// Whether `key` is the link key of a client known without the disk (an event loop asks
    /// first, so that a busy thread pool does not hold known clients' handshakes).
    func isKnownClient(_ key: NoisePublicKey) -> Bool
    /// Whether `key` is the link key of a registered client (may read the disk: called off the
    /// event loops, for keys `isKnownClient` does not know).
    func isRegisteredClient(_ key: NoisePublicKey) -> Bool
}

/// A node's inbound links: the nodes of the current epoch (and the previous one during its
/// grace period) that its routes let send here, then the clients a provider registered.
final class NodeLinkAuthorizer: LinkAuthorizer {
    private let epochs: EpochStates
    let clients: (any LinkClients)?
    private let lookups = DispatchQueue(label: "loopix.link-clients", attributes: .concurrent)

    init(epochs: EpochStates, clients: (any LinkClients)?) {
        self.epochs = epochs
        self.clients = clients
    }

    func authorize(_ peer: NoisePublicKey, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        if epochs.current.allowedSenders.contains(peer) { return eventLoop.makeSucceededFuture(true) }
        guard let clients else { return eventLoop.makeSucceededFuture(false) }
        if clients.isKnownClient(peer) { return eventLoop.makeSucceededFuture(true) }
        let promise = eventLoop.makePromise(of: Bool.self)
        lookups.async { promise.succeed(clients.isRegisteredClient(peer)) }
        return promise.futureResult
    }
}
