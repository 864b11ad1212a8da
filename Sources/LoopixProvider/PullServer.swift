// The provider's client port: serves authenticated pulls over TCP, disk work off the event loop.
import Dispatch
import Logging
import LoopixNetwork
import LoopixSphinx
import NIOCore
import NIOPosix

/// Listens for client pull connections: sends a challenge, answers each signed request with K
/// packets, applies the acknowledgement, and sends the next challenge. Any malformed,
/// unauthenticated or out-of-order frame gets a refusal (counted) and the connection closed.
public final class PullServer: Sendable {
    public let service: PullService
    private let metrics: ProviderMetrics
    private let logger: Logger
    private let storeQueue = DispatchQueue(label: "loopix.pull-store", attributes: .concurrent)
    /// A client must send its next frame within this many seconds.
    public let idleTimeout: Double

    public init(service: PullService, metrics: ProviderMetrics, idleTimeout: Double = 30,
                logger: Logger = Logger(label: "loopix.pull")) {
        self.service = service
        self.metrics = metrics
        self.idleTimeout = idleTimeout
        self.logger = logger
    }

    /// Binds `host:port` (port 0: any free port) and serves until the returned channel is closed.
    public func bind(host: String, port: Int, group: any EventLoopGroup) async throws -> any Channel {
        let decoder = PullFrameDecoder.provider(pullSize: service.pullSize)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(decoder),
                        MessageToByteHandler(PullFrameEncoder()),
                        PullConnectionHandler(server: self),
                    ])
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
}

/// One client connection's state machine: challenge → request → response → acknowledgement → challenge …
final class PullConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = PullFrame
    typealias OutboundOut = PullFrame

    private let server: PullServer
    private var session = PullService.PullSession()
    private var busy = false
    private var idleTimer: Scheduled<Void>?

    init(server: PullServer) { self.server = server }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(PullFrame(type: .challenge, bytes: session.challenge!)), promise: nil)
        armIdleTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        context.fireChannelInactive()
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
        guard !busy else { return refuse(.protocolViolation, context: context) }
        let bytes = frame.body.readBytes(length: frame.body.readableBytes) ?? []
        let service = server.service
        let loopBound = NIOLoopBound((context, self), eventLoop: context.eventLoop)
        switch frame.type {
        case .request:
            let request: PullRequest
            do { request = try PullRequest(decoding: bytes) } catch { return refuse(.malformed, context: context) }
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
                    context.writeAndFlush(handler.wrapOutboundOut(PullFrame(type: .challenge, bytes: session.challenge!)),
                                          promise: nil)
                case .failure(let refusal):
                    handler.refuse(refusal, context: context)
                }
            }
        default:
            refuse(.protocolViolation, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        server.metricsHandle.refusedPull("pull_framing")
        context.close(promise: nil)
    }

    private func refuse(_ refusal: PullRefusal, context: ChannelHandlerContext) {
        server.metricsHandle.refusedPull(refusal.cause)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(PullFrame(type: .refusal, bytes: [refusal.rawValue])))
            .whenComplete { _ in loopBound.value.close(promise: nil) }
    }
}
