// A running node: wires the stages together, starts and stops them, and runs as a service
// under swift-service-lifecycle (graceful shutdown on SIGTERM/SIGINT).
import CLoopixThreads
import Logging
import LoopixNetwork
import LoopixSphinx
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// One mix (or, with a delivery sink, provider) node: listen, admit, unwrap, delay, forward.
public final class MixNode: Service, Sendable {
    public let id: NodeID
    public let metrics: NodeMetrics
    public let descriptor: NodeDescriptor
    private let topology: Topology
    private let configuration: NodeConfiguration
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let ownsGroup: Bool
    private let slab: PacketSlab
    private let pool: CryptoWorkerPool
    private let schedulers: [DelayScheduler]
    private let routes: OutboundRoutes
    private let controller: QueueController
    private let loopSender: LoopSender?
    private let inbound: InboundContext
    private let processor: PacketProcessor
    private let running = NIOLockedValueBox(Running())

    private struct Running {
        var server: (any Channel)?
        var metricsServer: HTTPEndpoint?
        var children: [ObjectIdentifier: any Channel] = [:]
        var stopped = false
    }

    /// Builds a node for entry `id` of `topology`; nothing runs until `start()` or `run()`.
    public init(
        id: NodeID,
        secretKey: SecretKey,
        topology: Topology,
        configuration: NodeConfiguration = NodeConfiguration(),
        deliverySink: (any DeliverySink)? = nil,
        finalSink: (any FinalSink)? = nil,
        hopObserver: (@Sendable (HopRecord) -> Void)? = nil,
        eventLoopGroup: MultiThreadedEventLoopGroup? = nil,
        metrics: NodeMetrics = NodeMetrics(),
        logger: Logger = Logger(label: "loopix.node")
    ) throws {
        try topology.validate()
        guard let descriptor = topology.node(id) else { throw TopologyError.unknownNode(id) }
        guard descriptor.publicKey == secretKey.publicKey else {
            throw TopologyError.badNode(id, "the secret key does not match the topology's public key")
        }
        self.id = id
        self.descriptor = descriptor
        self.topology = topology
        self.configuration = configuration
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "node"] = "\(id.hex.prefix(12))"
        self.logger = logger
        self.ownsGroup = eventLoopGroup == nil
        self.group = eventLoopGroup ?? MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoops))
        let loops = Array(group.makeIterator())
        if ownsGroup { MixNode.requestSlice(on: group, microseconds: configuration.eventLoopSliceMicroseconds) }

        let geometry = topology.parameters.geometry
        let filter = try ReplayFilter(capacity: configuration.replayCapacity,
                                      falsePositiveRate: configuration.replayFalsePositiveRate)
        processor = try PacketProcessor(geometry: geometry, secretKey: secretKey, replayFilter: filter)
        // The wiring, top to bottom: each stage gets what it talks to when it is made.
        let slab = PacketSlab(packetBytes: geometry.packetBytes, capacity: configuration.packetBuffers)
        self.slab = slab
        let settings = OutboundSettings(
            queueLimit: configuration.outboundQueueLimit, initialBackoff: configuration.reconnectInitialBackoff,
            maxBackoff: configuration.reconnectMaxBackoff, keepAliveInterval: configuration.keepAliveInterval)
        let peers = topology.nodes.filter { $0.id != id }
        // Link i lives on loop i mod loops, and its packets wait in that loop's scheduler.
        let routes = OutboundRoutes(connections: peers.enumerated().map { position, peer in
            OutboundConnection(peer: peer, eventLoop: loops[position % loops.count], schedulerIndex: position % loops.count,
                               metrics: metrics, settings: settings)
        })
        let schedulers = loops.map {
            DelayScheduler(eventLoop: $0, routes: routes, metrics: metrics, deliverySink: deliverySink, hopObserver: hopObserver)
        }
        self.schedulers = schedulers
        self.routes = routes

        let sendsLoops = descriptor.role == .mix && configuration.sendLoops && topology.parameters.mixLoopRate > 0
        let monitor = sendsLoops
            ? LoopMonitor(window: configuration.loopWindow, grace: configuration.loopGrace,
                          minimumSamples: configuration.loopMinimumSamples,
                          threshold: topology.parameters.loopReturnThreshold)
            : nil
        let queue = CryptoQueue(hardLimit: configuration.aqm.queueLimit)
        let admission = AdmissionState(initialLimit: configuration.aqm.queueLimit)
        let worker = PacketWorker(processor: self.processor, queue: queue, admission: admission, metrics: metrics,
                                  routes: routes, schedulers: schedulers, loopMonitor: monitor, finalSink: finalSink,
                                  hasDeliverySink: deliverySink != nil)
        let pool = CryptoWorkerPool(queue: queue, worker: worker, workers: max(1, configuration.workers))
        self.pool = pool
        controller = QueueController(configuration: configuration.aqm, queue: queue, admission: admission, slab: slab,
                                     workers: max(1, configuration.workers), metrics: metrics, eventLoop: loops[0])
        loopSender = monitor.map {
            LoopSender(me: id, topology: topology, monitor: $0, routes: routes, schedulers: schedulers, slab: slab,
                       metrics: metrics, logger: logger, eventLoop: loops[0],
                       alarmMultiplier: configuration.loopAlarmRateMultiplier)
        }
        inbound = InboundContext(pool: pool, admission: admission, slab: slab, schedulers: schedulers, metrics: metrics,
                                 frameTimeout: configuration.frameTimeout, maxConnections: configuration.maxInboundConnections)
    }

    /// Binds the listening socket (and the metrics endpoint) and starts the timers.
    public func start() async throws {
        let packetBytes = topology.parameters.geometry.packetBytes
        let inbound = self.inbound
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
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WireFrameDecoder(packetBytes: packetBytes)))
                    try channel.pipeline.syncOperations.addHandler(InboundPacketHandler(shared: inbound))
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
        for connection in routes.connections {
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
        processor.replayFilter?.rotate(toEpoch: epoch)
    }
}
