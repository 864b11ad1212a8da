// The provider's client port: pulls over Noise links from registered clients, disk work off the
// event loop, within a connection limit and a per-client rate limit.
import Dispatch
import Logging
import LoopixNetwork
import LoopixNoise
import LoopixSphinx
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What the pull port lets a client do, and how much of it.
public struct PullLimits: Sendable, Hashable {
    /// Pull connections open at once; beyond, new ones are closed at once (`pull_connection_limit`).
    public var maxConnections: Int = 512
    /// Unfinished handshakes one address may have open at once.
    public var maxPendingHandshakesPerAddress: Int = 16
    /// Pull connections one client key may hold at once.
    public var maxConnectionsPerClient: Int = 2
    /// Pulls per second one client key may make on average, and in a burst (a token bucket);
    /// beyond, the request is refused (`pull_rate_limited`) and the connection closed.
    public var pullsPerSecond: Double = 10
    public var pullBurst: Double = 20
    /// Handshake deadline, rekeying and age of pull links.
    public var links = LinkSettings()

    public init() {}
}

/// Listens for client pull connections: after the Noise handshake (only registered clients are
/// let in), answers each request for the client's own mailbox with K packets, applies the
/// acknowledgement and confirms it. Any malformed, unauthenticated or out-of-order frame gets a
/// refusal (counted) and the connection closed.
public final class PullServer: Sendable {
    public let service: PullService
    private let metrics: ProviderMetrics
    private let logger: Logger
    private let key: NoiseSecretKey
    let limits: PullLimits
    private let linkLimits: LinkLimits
    private let rates: PullRateLimiter
    private let openConnections = NIOLockedValueBox(0)
    private let storeQueue = DispatchQueue(label: "loopix.pull-store", attributes: .concurrent)
    /// A client must send its next frame within this many seconds.
    public let idleTimeout: Double

    /// `key`: the provider's link key (the X25519 form of its identity).
    public init(service: PullService, key: NoiseSecretKey, metrics: ProviderMetrics, idleTimeout: Double = 30,
                limits: PullLimits = PullLimits(), logger: Logger = Logger(label: "loopix.pull")) {
        self.service = service
        self.key = key
        self.metrics = metrics
        self.idleTimeout = idleTimeout
        self.limits = limits
        self.linkLimits = LinkLimits(maxPendingPerAddress: limits.maxPendingHandshakesPerAddress,
                                     maxLinksPerPeer: limits.maxConnectionsPerClient)
        self.rates = PullRateLimiter(rate: limits.pullsPerSecond, burst: limits.pullBurst)
        self.logger = logger
    }

    /// The handlers of one pull connection, head first.
    func handlers() throws -> [any ChannelHandler] {
        let noise = try NoiseLinkHandler(
            role: .responder(authorizer: RegisteredClients(store: service.store, queue: storeQueue), limits: linkLimits),
            localKey: key, purpose: .pulls, settings: limits.links,
            maxInboundPlaintext: WireFormat.lengthPrefixBytes + WireFormat.frameHeaderBytes
                + PullAcknowledgement.maxBytes(pullSize: service.pullSize))
        return [noise, ByteToMessageHandler(PullFrameDecoder.provider(pullSize: service.pullSize)),
                MessageToByteHandler(PullFrameEncoder()), PullConnectionHandler(server: self)]
    }

    /// Binds `host:port` (port 0: any free port) and serves until the returned channel is closed.
    public func bind(host: String, port: Int, group: any EventLoopGroup) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(try handlers())
                }
            }
            .bind(host: host, port: port).get()
    }

    /// Runs blocking store work off the event loop and completes on it.
    fileprivate func offload<T: Sendable>(on loop: any EventLoop, _ work: @escaping @Sendable () -> T) -> EventLoopFuture<T> {
        let promise = loop.makePromise(of: T.self)
        storeQueue.async { promise.succeed(work()) }
        return promise.futureResult
    }

    fileprivate var metricsHandle: ProviderMetrics { metrics }

    /// Counts a connection in; false beyond the limit.
    fileprivate func openConnection() -> Bool {
        openConnections.withLockedValue {
            guard $0 < limits.maxConnections else { return false }
            $0 += 1
            metrics.pullConnections.record($0)
            return true
        }
    }

    fileprivate func closeConnection() {
        openConnections.withLockedValue {
            $0 -= 1
            metrics.pullConnections.record($0)
        }
    }

    /// Addresses with unfinished handshakes and client keys with links (tests: nothing may leak).
    var linkCounts: (pendingAddresses: Int, peers: Int) { linkLimits.counts }

    fileprivate func mayPull(_ client: NoisePublicKey) -> Bool { rates.take(client, now: NIODeadline.now()) }
}

/// Lets in the clients registered in the store (looked up off the event loop).
struct RegisteredClients: LinkAuthorizer {
    let store: MailboxStore
    let queue: DispatchQueue

    func authorize(_ peer: NoisePublicKey, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        // Known clients are let in on the loop: a thread pool busy with other work must not hold
        // their handshakes past the deadline.
        if store.isKnownClient(linkKey: peer) { return eventLoop.makeSucceededFuture(true) }
        let promise = eventLoop.makePromise(of: Bool.self)
        queue.async { promise.succeed((try? store.isRegistered(linkKey: peer)) ?? false) }
        return promise.futureResult
    }
}

/// A token bucket per client key; buckets that are full again are forgotten.
final class PullRateLimiter: Sendable {
    private let rate: Double
    private let burst: Double
    private let buckets = NIOLockedValueBox<[NoisePublicKey: (tokens: Double, at: NIODeadline)]>([:])

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = max(1, burst)
    }

    /// Takes a token for `client`; false if it has none.
    func take(_ client: NoisePublicKey, now: NIODeadline) -> Bool {
        buckets.withLockedValue { buckets in
            if buckets.count > 10_000 {
                buckets = buckets.filter { refilled($0.value, now: now) < burst }
            }
            let tokens = buckets[client].map { refilled($0, now: now) } ?? burst
            guard tokens >= 1 else {
                buckets[client] = (tokens, now)
                return false
            }
            buckets[client] = (tokens - 1, now)
            return true
        }
    }

    private func refilled(_ bucket: (tokens: Double, at: NIODeadline), now: NIODeadline) -> Double {
        min(burst, bucket.tokens + Double((now - bucket.at).nanoseconds) / 1e9 * rate)
    }
}

/// One client connection's state machine, once its link is established:
/// request → response → acknowledgement → acknowledged → request …
final class PullConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = PullFrame
    typealias OutboundOut = PullFrame

    private let server: PullServer
    private var session: PullService.PullSession?
    private var busy = false
    private var counted = false
    private var closing = false
    private var idleTimer: Scheduled<Void>?

    init(server: PullServer) { self.server = server }

    func channelActive(context: ChannelHandlerContext) {
        guard server.openConnection() else {
            server.metricsHandle.refusedPull("pull_connection_limit")
            closing = true
            context.close(promise: nil)
            return
        }
        counted = true
        armIdleTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        if counted {
            counted = false
            server.closeConnection()
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let established = event as? NoiseLinkEstablished {
            session = PullService.PullSession(client: established.peer)
            armIdleTimer(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func armIdleTimer(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let metrics = server.metricsHandle
        idleTimer = context.eventLoop.scheduleTask(in: .milliseconds(Int64(server.idleTimeout * 1000))) {
            metrics.refusedPull("pull_timeout")
            loopBound.value.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        armIdleTimer(context: context)
        guard !busy, let session else { return refuse(.protocolViolation, context: context) }
        let bytes = frame.body.readBytes(length: frame.body.readableBytes) ?? []
        let service = server.service
        let loopBound = NIOLoopBound((context, self), eventLoop: context.eventLoop)
        switch frame.type {
        case .request:
            let request: PullRequest
            do { request = try PullRequest(decoding: bytes) } catch { return refuse(.malformed, context: context) }
            guard !session.awaitsAcknowledgement else { return refuse(.protocolViolation, context: context) }
            guard server.mayPull(session.client) else { return refuse(.rateLimited, context: context) }
            busy = true
            let snapshot = session
            server.offload(on: context.eventLoop) { () -> Result<(PullResponse, PullService.PullSession), PullRefusal> in
                var session = snapshot
                return Result { () throws(PullRefusal) in (try service.answer(request, session: &session), session) }
            }.whenSuccess { result in
                let (context, handler) = loopBound.value
                handler.busy = false
                switch result {
                case .success(let (response, session)):
                    handler.session = session
                    let stored = session.outstandingCount
                    handler.server.metricsHandle.pulls.increment()
                    handler.server.metricsHandle.pulledStored.increment(by: stored)
                    handler.server.metricsHandle.pulledDummies.increment(by: response.slots.count - stored)
                    context.writeAndFlush(handler.wrapOutboundOut(PullFrame(type: .response, bytes: response.encoded)),
                                          promise: nil)
                case .failure(let refusal):
                    handler.refuse(refusal, context: context)
                }
            }
        case .acknowledgement:
            let ack: PullAcknowledgement
            do { ack = try PullAcknowledgement(decoding: bytes, pullSize: service.pullSize) } catch {
                return refuse(.malformed, context: context)
            }
            busy = true
            let snapshot = session
            server.offload(on: context.eventLoop) { () -> Result<(Int, PullService.PullSession), PullRefusal> in
                var session = snapshot
                return Result { () throws(PullRefusal) in (try service.acknowledge(ack, session: &session), session) }
            }.whenSuccess { result in
                let (context, handler) = loopBound.value
                handler.busy = false
                switch result {
                case .success(let (removed, session)):
                    handler.session = session
                    handler.server.metricsHandle.acknowledged.increment(by: removed)
                    context.writeAndFlush(handler.wrapOutboundOut(PullFrame(type: .acknowledged, bytes: [])), promise: nil)
                case .failure(let refusal):
                    handler.refuse(refusal, context: context)
                }
            }
        default:
            refuse(.protocolViolation, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !closing {
            closing = true
            if let error = error as? NoiseLinkError {
                server.metricsHandle.refusedPull("pull_link_" + error.cause)
            } else {
                server.metricsHandle.refusedPull("pull_framing")
            }
        }
        context.close(promise: nil)
    }

    private func refuse(_ refusal: PullRefusal, context: ChannelHandlerContext) {
        server.metricsHandle.refusedPull(refusal.cause)
        closing = true
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(PullFrame(type: .refusal, bytes: [refusal.rawValue])))
            .whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}
