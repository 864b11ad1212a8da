// The link to one next hop: connects on demand over Noise XK (the peer's key from the
// directory), gathers the frames of a flush into one buffer and seals each where it lies, reconnects with backoff, holds a bounded queue while
// the peer is unreachable or slow, keeps an idle link alive and replaces an old one.
import DequeModule
import LoopixNetwork
import LoopixNoise
import NIOCore
import NIOPosix

/// Opens the transport of an outbound link, with the link's handlers installed in the pipeline.
protocol LinkConnector: Sendable {
    func connect(to peer: NodeDescriptor, on eventLoop: any EventLoop,
                 installing handlers: @escaping @Sendable () throws -> [any ChannelHandler]) -> EventLoopFuture<any Channel>
}

/// Plain TCP to the address the topology lists for the peer.
struct TCPLinkConnector: LinkConnector {
    func connect(to peer: NodeDescriptor, on eventLoop: any EventLoop,
                 installing handlers: @escaping @Sendable () throws -> [any ChannelHandler]) -> EventLoopFuture<any Channel> {
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandlers(try handlers()) }
            }
            .connect(host: peer.host, port: peer.port)
    }
}

/// Settings shared by all outbound links of a node.
struct OutboundSettings: Sendable {
    var queueLimit: Int
    var initialBackoff: Double
    var maxBackoff: Double
    var keepAliveInterval: Double
    var security: LinkSecurity = .plaintextForBenchmark
    var links = LinkSettings()
}

/// A TCP link to one peer, confined to one event loop.
///
/// `@unchecked Sendable`: every mutable field is touched only on `eventLoop` (callers hop there
/// first; `DelayScheduler` runs on it).
final class OutboundConnection: @unchecked Sendable {
    private enum State {
        case idle
        case connecting
        /// Connected; the Noise handshake is under way.
        case handshaking(any Channel)
        case connected(any Channel, since: UInt64, sealer: NoiseLinkSealer?)
        case backingOff
        case closed
    }

    let peer: NodeDescriptor
    let eventLoop: any EventLoop
    /// The delay scheduler on `eventLoop`: packets for this link wait there for their delay.
    let schedulerIndex: Int
    private let metrics: NodeMetrics
    private let settings: OutboundSettings
    private let connector: any LinkConnector
    private var state = State.idle
    private var pending: UniqueDeque<PacketBuffer>
    private var backoff: Double
    private var unflushed = 0
    /// The frames written since the last flush, sealed, in one buffer: one allocation and one
    /// channel write for all of them instead of one per packet.
    private var outgoing: ByteBuffer?
    private var wroteSinceKeepAlive = false
    private var keepAlive: RepeatedTask?

    init(peer: NodeDescriptor, eventLoop: any EventLoop, schedulerIndex: Int, metrics: NodeMetrics,
         settings: OutboundSettings, connector: any LinkConnector = TCPLinkConnector()) {
        self.peer = peer
        self.eventLoop = eventLoop
        self.schedulerIndex = schedulerIndex
        self.metrics = metrics
        self.settings = settings
        self.connector = connector
        self.pending = UniqueDeque(minimumCapacity: min(settings.queueLimit, 64))
        self.backoff = settings.initialBackoff
    }

    /// Packets waiting for the link (on the loop).
    var queuedCount: Int { pending.count }

    /// Takes the packet over: writes it now, queues it, or drops it (counted).
    func send(_ packet: consuming PacketBuffer) {
        eventLoop.assertInEventLoop()
        if case .connected(let channel, let since, let sealer) = state, pending.isEmpty, channel.isWritable,
            !replaceIfOld(channel, since: since)
        {
            write(packet, to: channel, sealer: sealer)
            return
        }
        if case .closed = state {
            metrics.drop(.shutdown)
            return
        }
        guard pending.count < settings.queueLimit else {
            metrics.drop(.outboundQueueFull)
            return
        }
        pending.append(packet)
        if case .idle = state { connect() }
    }

    /// Flushes what was written since the last flush.
    func flush() {
        guard unflushed > 0, case .connected(let channel, _, _) = state else { return }
        writeOutgoing(to: channel)
        channel.flush()
        metrics.relayed.increment(by: unflushed)
        unflushed = 0
    }

    /// Frames gathered into one buffer before it is written (the buffer's capacity).
    static let framesPerWrite = 16

    /// Appends the packet as a frame to the buffer of this flush, sealed where it lies; its slab
    /// buffer goes back here. A full buffer is written at once (flushed with the rest).
    private func write(_ packet: consuming PacketBuffer, to channel: any Channel, sealer: NoiseLinkSealer?) {
        let bytes = UnsafeRawBufferPointer(packet.bytes)
        let frameBytes = WireFormat.lengthPrefixBytes + WireFormat.frameHeaderBytes + bytes.count
        if let buffered = outgoing, buffered.writableBytes < frameBytes + NoiseLinkFormat.overheadBytes { writeOutgoing(to: channel) }
        var buffer = outgoing ?? channel.allocator.buffer(capacity: Self.framesPerWrite * (frameBytes + NoiseLinkFormat.overheadBytes))
        outgoing = nil
        guard append(to: &buffer, with: sealer, on: channel, { frame in
            frame.writeWireFrameHeader(type: .packet, bodyBytes: bytes.count)
            frame.writeBytes(bytes)
        }) else { return }
        outgoing = buffer
        unflushed += 1
        wroteSinceKeepAlive = true
    }

    /// Writes the frames gathered so far (not flushed).
    private func writeOutgoing(to channel: any Channel) {
        guard let buffer = outgoing else { return }
        outgoing = nil
        channel.write(buffer, promise: nil)
    }

    /// Appends one frame, written by `writeFrame`, to `buffer`: sealed as a Noise message, or as
    /// it is on a plaintext link. False if the link cannot seal any more (it is then closed, and
    /// reconnects).
    private func append(to buffer: inout ByteBuffer, with sealer: NoiseLinkSealer?, on channel: any Channel,
                        _ writeFrame: (inout ByteBuffer) -> Void) -> Bool {
        guard let sealer else {
            writeFrame(&buffer)
            return true
        }
        do {
            try sealer.appendSealed(to: &buffer, writeFrame)
            return true
        } catch {
            metrics.drop(.outboundQueueFull)
            channel.close(mode: .all, promise: nil)
            return false
        }
    }

    /// The handlers of a new link: the Noise initiator, which hands sealing over to this link
    /// once the handshake is done, then the link's own.
    private func handlers() throws -> [any ChannelHandler] {
        let own = OutboundLinkHandler(connection: self)
        guard case .noise(let key) = settings.security else { return [own] }
        guard let responderKey = peer.linkKey else { throw NoiseLinkError.responderKeyMismatch }
        return [try NoiseLinkHandler(role: .initiator(responderKey: responderKey), localKey: key, purpose: .packets,
                                     settings: settings.links, maxInboundPlaintext: 0, handsOverSending: true), own]
    }

    private func connect() {
        state = .connecting
        connector.connect(to: peer, on: eventLoop, installing: { try self.handlers() }).whenComplete { result in
            switch result {
            case .success(let channel):
                if case .closed = self.state {
                    channel.close(mode: .all, promise: nil)
                    return
                }
                guard case .connecting = self.state else { return }
                if case .noise = self.settings.security {
                    // Connected only once the handshake is done (`linkEstablished`).
                    self.state = channel.isActive ? .handshaking(channel) : .idle
                    if !channel.isActive { self.retryLater() }
                } else {
                    self.established(channel, sealer: nil)
                }
            case .failure:
                self.retryLater()
            }
        }
    }

    private func established(_ channel: any Channel, sealer: NoiseLinkSealer?) {
        state = .connected(channel, since: eventLoop.now.uptimeNanoseconds, sealer: sealer)
        startKeepAlive(on: channel)
        drainPending()
    }

    /// Replaces a link older than `maxLinkAge` with a fresh handshake: what was written on it
    /// leaves first, then it closes, and the packets wait for the new one. True if it did.
    private func replaceIfOld(_ channel: any Channel, since: UInt64) -> Bool {
        guard Double(eventLoop.now.uptimeNanoseconds &- since) > settings.links.maxLinkAge * 1e9 else { return false }
        flush()
        keepAlive?.cancel()
        keepAlive = nil
        let done = eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(channel.allocator.buffer(capacity: 0), promise: done)
        done.futureResult.whenComplete { _ in channel.close(mode: .all, promise: nil) }
        state = .idle
        return true
    }

    /// Waits out the backoff (with jitter), doubling it for next time, then reconnects if needed.
    private func retryLater() {
        if case .closed = state { return }
        state = .backingOff
        let wait = backoff * Double.random(in: 0.5...1.0)
        backoff = min(backoff * 2, settings.maxBackoff)
        eventLoop.scheduleTask(in: .nanoseconds(Int64(wait * 1e9))) {
            guard case .backingOff = self.state else { return }
            self.state = .idle
            if !self.pending.isEmpty { self.connect() }
        }
    }

    private func drainPending() {
        guard case .connected(let channel, _, let sealer) = state else {
            if case .idle = state, !pending.isEmpty { connect() }
            return
        }
        while channel.isWritable, let packet = pending.popFirst() {
            write(packet, to: channel, sealer: sealer)
        }
        flush()
    }

    private func startKeepAlive(on channel: any Channel) {
        let interval = TimeAmount.nanoseconds(Int64(settings.keepAliveInterval * 1e9))
        keepAlive = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            guard case .connected(let current, _, let sealer) = self.state, current === channel else { return }
            if !self.wroteSinceKeepAlive {
                var buffer = channel.allocator.buffer(
                    capacity: WireFormat.lengthPrefixBytes + WireFormat.frameHeaderBytes + NoiseLinkFormat.overheadBytes)
                guard self.append(to: &buffer, with: sealer, on: channel, { $0.writeWireFrameHeader(type: .keepAlive, bodyBytes: 0) })
                else { return }
                channel.writeAndFlush(buffer, promise: nil)
            }
            self.wroteSinceKeepAlive = false
        }
    }

    // Called by the link's handler, on the loop.

    func writabilityChanged() {
        drainPending()
    }

    /// The handshake is done: the link carries packets from now on, sealed with `sealer`.
    func linkEstablished(_ channel: any Channel, sealer: NoiseLinkSealer?) {
        guard case .handshaking(let current) = state, current === channel else { return }
        established(channel, sealer: sealer)
    }

    /// The link's handshake failed (counted; the close that follows starts the backoff).
    func linkFailed(_ error: NoiseLinkError) {
        metrics.failedLink(error.cause)
    }

    func linkClosed(_ channel: any Channel) {
        switch state {
        case .connected(let current, let since, _) where current === channel:
            keepAlive?.cancel()
            keepAlive = nil
            unflushed = 0
            outgoing = nil
            // A link that lived a while starts over from the shortest wait.
            if eventLoop.now.uptimeNanoseconds &- since > 10_000_000_000 { backoff = settings.initialBackoff }
            retryLater()
        case .handshaking(let current) where current === channel:
            retryLater()
        default:
            // A replaced link closing, or one that never got anywhere.
            break
        }
    }

    /// Closes the link and drops what is still queued (counted); on the loop.
    func close() {
        eventLoop.assertInEventLoop()
        // What this flush gathered leaves first.
        flush()
        let previous = state
        state = .closed
        keepAlive?.cancel()
        keepAlive = nil
        if case .handshaking(let channel) = previous { channel.close(mode: .all, promise: nil) }
        if case .connected(let channel, _, _) = previous { channel.close(mode: .all, promise: nil) }
        metrics.drop(.shutdown, count: pending.count)
        pending.removeAll()
    }
}

/// Watches one outbound link for its handshake, writability and closure; discards anything the
/// peer sends.
final class OutboundLinkHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let connection: OutboundConnection

    init(connection: OutboundConnection) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let established = event as? NoiseLinkEstablished {
            connection.linkEstablished(context.channel, sealer: established.sealer)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.linkClosed(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? NoiseLinkError { connection.linkFailed(error) }
        context.close(promise: nil)
    }
}

