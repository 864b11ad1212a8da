// The client's links to its provider, over Noise XK (the provider's key from the directory, the
// client's the X25519 form of its registered key): packets on the provider's node port, pulls
// on its client port.
import LoopixNetwork
import LoopixNoise
import LoopixSphinx
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Why a pull or a send failed.
public enum PullFailure: Error, Sendable, Hashable {
    case refused(PullRefusal)
    case unexpectedFrame
    case malformedResponse
    case connectionClosed
    /// The provider did not finish the pull within the deadline.
    case timedOut
    /// The packet link is not taking more (the provider reads slower than the client sends).
    case linkBusy
    /// The link's handshake or encryption failed: `responderKeyMismatch` when whoever answered
    /// does not hold the provider's key.
    case link(NoiseLinkError)
}

/// Sends packets over one kept-open link (reopened when it drops or grows old, with keep-alives
/// only while idle) and pulls over a short link per pull: request, K packets, acknowledgement
/// after `receive` returns, confirmation. Both are Noise links authenticated both ways. Nothing
/// waits without bound: a pull has a deadline, and a send is refused while the link's write
/// buffer is full.
public final class TCPClientTransport: ClientTransport {
    public struct Endpoint: Sendable, Hashable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    private let packetEndpoint: Endpoint
    private let pullEndpoint: Endpoint
    private let identity: ClientIdentity
    private let geometry: Geometry
    private let pullSize: Int
    private let group: any EventLoopGroup
    private let keepAliveInterval: TimeAmount
    private let pullDeadline: TimeAmount
    private let providerKey: NoisePublicKey
    private let linkKey: NoiseSecretKey
    private let linkSettings: LinkSettings
    private let connection = NIOLockedValueBox<(future: EventLoopFuture<any Channel>, since: NIODeadline)?>(nil)

    /// `providerKey`: the provider's link key (the X25519 form of its identity in the directory:
    /// `VerifyingKey.linkKey`). The client's own is the X25519 form of `identity.signingKey`,
    /// the key its provider registered.
    public init(packets: Endpoint, pulls: Endpoint, identity: ClientIdentity, providerKey: NoisePublicKey,
                geometry: Geometry, pullSize: Int, group: any EventLoopGroup, keepAliveInterval: Double = 3,
                pullDeadline: Double = 15, linkSettings: LinkSettings = LinkSettings()) {
        self.providerKey = providerKey
        self.linkKey = identity.signingKey.linkKey()
        self.linkSettings = linkSettings
        self.packetEndpoint = packets
        self.pullEndpoint = pulls
        self.identity = identity
        self.geometry = geometry
        self.pullSize = pullSize
        self.group = group
        self.keepAliveInterval = .milliseconds(Int64(keepAliveInterval * 1000))
        self.pullDeadline = .milliseconds(Int64(pullDeadline * 1000))
    }

    // MARK: sending

    /// A Noise initiator toward the provider for `purpose`.
    private func noiseHandler(_ purpose: LinkPurpose, maxInboundPlaintext: Int) throws -> NoiseLinkHandler {
        try NoiseLinkHandler(role: .initiator(responderKey: providerKey), localKey: linkKey, purpose: purpose,
                             settings: linkSettings, maxInboundPlaintext: maxInboundPlaintext)
    }

    /// The packet link, once its handshake is done; a new one when there is none or it is
    /// older than `maxLinkAge` (the old one closes once what was written on it left).
    private func packetChannel() -> EventLoopFuture<any Channel> {
        connection.withLockedValue { current in
            if let current {
                if Double((NIODeadline.now() - current.since).nanoseconds) < linkSettings.maxLinkAge * 1e9 { return current.future }
                current.future.whenSuccess { old in
                    old.writeAndFlush(ByteBuffer()).whenComplete { _ in old.close(promise: nil) }
                }
            }
            let interval = keepAliveInterval
            let loop = group.next()
            let established = loop.makePromise(of: NoisePublicKey.self)
            let connected = ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(5))
                .channelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([
                            try noiseHandler(.packets, maxInboundPlaintext: 0), LinkEstablishmentWatcher(promise: established),
                            MessageToByteHandler(WireFrameEncoder()), IdleKeepAlive(interval: interval),
                        ])
                    }
                }
                .connect(host: packetEndpoint.host, port: packetEndpoint.port)
            connected.whenFailure { established.fail($0) }
            let future = connected.flatMap { channel in established.futureResult.map { _ in channel } }
                .flatMapErrorThrowing { error in
                    throw (error as? NoiseLinkError).map(PullFailure.link) ?? error
                }
            current = (future, .now())
            future.whenFailure { [connection] _ in connection.withLockedValue { $0 = nil } }
            future.whenSuccess { [connection] channel in
                channel.closeFuture.whenComplete { _ in
                    connection.withLockedValue { if let c = $0, c.future === future { $0 = nil } }
                }
            }
            return future
        }
    }

    /// Queues the packet on the link; refused (`.linkBusy`) while the link's write buffer is
    /// above its high-water mark, so that a provider that stops reading costs bounded memory and
    /// never blocks the caller.
    public func send(_ packet: [UInt8]) async throws {
        let channel = try await packetChannel().get()
        guard channel.isActive else { throw PullFailure.connectionClosed }
        guard channel.isWritable else { throw PullFailure.linkBusy }
        channel.writeAndFlush(WireFrame(type: .packet, body: ByteBuffer(bytes: packet)), promise: nil)
    }

    // MARK: pulling

    public func pull(_ receive: @Sendable ([[UInt8]]) async -> [Bool]) async throws {
        let decoder = PullFrameDecoder.client(pullSize: pullSize, packetBytes: geometry.packetBytes)
        let loop = group.next()
        let established = loop.makePromise(of: NoisePublicKey.self)
        let channel: NIOAsyncChannel<PullFrame, PullFrame>
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(.seconds(5))
                .connect(host: pullEndpoint.host, port: pullEndpoint.port) { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([
                            try noiseHandler(.pulls, maxInboundPlaintext: NoiseLinkFormat.maxPlaintextBytes),
                            LinkEstablishmentWatcher(promise: established),
                            ByteToMessageHandler(decoder), MessageToByteHandler(PullFrameEncoder()),
                        ])
                        return try NIOAsyncChannel<PullFrame, PullFrame>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            established.fail(error)
            throw error
        }
        // Past the deadline the connection is closed, which ends whatever the pull waits for.
        let expired = NIOLockedValueBox(false)
        let deadline = channel.channel.eventLoop.scheduleTask(in: pullDeadline) {
            expired.withLockedValue { $0 = true }
            channel.channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        try await channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            func next(_ type: PullFrameType) async throws -> [UInt8] {
                let received: PullFrame?
                do { received = try await frames.next() } catch let error as NoiseLinkError { throw PullFailure.link(error) }
                guard var frame = received else {
                    throw expired.withLockedValue { $0 } ? PullFailure.timedOut : PullFailure.connectionClosed
                }
                let body = frame.body.readBytes(length: frame.body.readableBytes) ?? []
                if frame.type == .refusal {
                    throw PullFailure.refused(body.first.flatMap(PullRefusal.init(rawValue:)) ?? .protocolViolation)
                }
                guard frame.type == type else { throw PullFailure.unexpectedFrame }
                return body
            }
            // Nothing is written before the handshake proved the provider's key: a request written
            // earlier would only fail as "closed" when whoever answered could not read the handshake.
            do {
                _ = try await established.futureResult.get()
            } catch {
                throw (error as? NoiseLinkError).map(PullFailure.link) ?? error
            }
            try await outbound.write(PullFrame(type: .request, bytes: PullRequest(mailbox: identity.mailbox).encoded))
            let response: PullResponse
            do {
                response = try PullResponse(decoding: try await next(.response), pullSize: pullSize,
                                            packetBytes: geometry.packetBytes)
            } catch let e as PullMessageError {
                _ = e
                throw PullFailure.malformedResponse
            }
            let keep = await receive(response.slots.map(\.packet))
            let acknowledged = zip(response.slots, keep).filter(\.1).map(\.0.handle)
            try await outbound.write(PullFrame(type: .acknowledgement,
                                               bytes: PullAcknowledgement(handles: acknowledged).encoded))
            _ = try await next(.acknowledged)  // the provider has committed the removal
        }
    }

    public func close() async {
        let current = connection.withLockedValue { c -> EventLoopFuture<any Channel>? in
            defer { c = nil }
            return c?.future
        }
        if let channel = try? await current?.get() { try? await channel.close() }
    }
}

/// Writes a keep-alive frame on a link that carried nothing for a whole interval, and never on
/// one that is busy: keep-alives only keep an idle link inside the provider's frame deadline.
final class IdleKeepAlive: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = WireFrame
    typealias OutboundOut = WireFrame

    private let interval: TimeAmount
    private var wroteSinceTick = false
    private var task: RepeatedTask?

    init(interval: TimeAmount) { self.interval = interval }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard task == nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        task = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let (handler, context) = loopBound.value
            if !handler.wroteSinceTick {
                context.writeAndFlush(handler.wrapOutboundOut(WireFrame(type: .keepAlive, body: ByteBuffer())), promise: nil)
            }
            handler.wroteSinceTick = false
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        wroteSinceTick = true
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        task?.cancel()
        task = nil
        context.fireChannelInactive()
    }
}
