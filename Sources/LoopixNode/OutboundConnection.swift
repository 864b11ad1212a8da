// The link to one next hop: connects on demand, reconnects with backoff, holds a bounded queue
// while the peer is unreachable or slow, and keeps an idle link alive.
import DequeModule
import LoopixNetwork
import NIOCore
import NIOPosix

/// Opens the transport of an outbound link, with the link's handler installed in the pipeline.
protocol LinkConnector: Sendable {
    func connect(to peer: NodeDescriptor, on eventLoop: any EventLoop,
                 installing handler: @escaping @Sendable () -> any ChannelHandler) -> EventLoopFuture<any Channel>
}

/// Plain TCP to the address the topology lists for the peer.
struct TCPLinkConnector: LinkConnector {
    func connect(to peer: NodeDescriptor, on eventLoop: any EventLoop,
                 installing handler: @escaping @Sendable () -> any ChannelHandler) -> EventLoopFuture<any Channel> {
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler()) }
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
}

/// A TCP link to one peer, confined to one event loop.
///
/// `@unchecked Sendable`: every mutable field is touched only on `eventLoop` (callers hop there
/// first; `DelayScheduler` runs on it).
final class OutboundConnection: @unchecked Sendable {
    private enum State {
        case idle
        case connecting
        case connected(any Channel, since: UInt64)
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
        if case .connected(let channel, _) = state, pending.isEmpty, channel.isWritable {
            write(packet, to: channel)
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
        guard unflushed > 0, case .connected(let channel, _) = state else { return }
        channel.flush()
        metrics.relayed.increment(by: unflushed)
        unflushed = 0
    }

    /// Copies the packet into a frame for the channel; its buffer goes back to the slab here.
    private func write(_ packet: consuming PacketBuffer, to channel: any Channel) {
        let bytes = UnsafeRawBufferPointer(packet.bytes)
        var buffer = channel.allocator.buffer(capacity: WireFormat.lengthPrefixBytes + WireFormat.frameHeaderBytes + bytes.count)
        buffer.writeWireFrameHeader(type: .packet, bodyBytes: bytes.count)
        buffer.writeBytes(bytes)
        channel.write(buffer, promise: nil)
        unflushed += 1
        wroteSinceKeepAlive = true
    }

    private func connect() {
        state = .connecting
        connector.connect(to: peer, on: eventLoop) { OutboundLinkHandler(connection: self) }.whenComplete { result in
            switch result {
            case .success(let channel):
                if case .closed = self.state {
                    channel.close(mode: .all, promise: nil)
                    return
                }
                self.state = .connected(channel, since: self.eventLoop.now.uptimeNanoseconds)
                self.startKeepAlive(on: channel)
                self.drainPending()
            case .failure:
                self.retryLater()
            }
        }
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
        guard case .connected(let channel, _) = state else { return }
        while channel.isWritable, let packet = pending.popFirst() {
            write(packet, to: channel)
        }
        flush()
    }

    private func startKeepAlive(on channel: any Channel) {
        let interval = TimeAmount.nanoseconds(Int64(settings.keepAliveInterval * 1e9))
        keepAlive = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            guard case .connected(let current, _) = self.state, current === channel else { return }
            if !self.wroteSinceKeepAlive {
                var buffer = channel.allocator.buffer(capacity: 6)
                buffer.writeWireFrameHeader(type: .keepAlive, bodyBytes: 0)
                channel.writeAndFlush(buffer, promise: nil)
            }
            self.wroteSinceKeepAlive = false
        }
    }

    // Called by the link's handler, on the loop.

    func writabilityChanged() {
        drainPending()
    }

    func linkClosed() {
        keepAlive?.cancel()
        keepAlive = nil
        guard case .connected(_, let since) = state else { return }
        unflushed = 0
        // A link that lived a while starts over from the shortest wait.
        if eventLoop.now.uptimeNanoseconds &- since > 10_000_000_000 { backoff = settings.initialBackoff }
        retryLater()
    }

    /// Closes the link and drops what is still queued (counted); on the loop.
    func close() {
        eventLoop.assertInEventLoop()
        let previous = state
        state = .closed
        keepAlive?.cancel()
        keepAlive = nil
        if case .connected(let channel, _) = previous {
            if unflushed > 0 {
                channel.flush()
                metrics.relayed.increment(by: unflushed)
                unflushed = 0
            }
            channel.close(mode: .all, promise: nil)
        }
        metrics.drop(.shutdown, count: pending.count)
        pending.removeAll()
    }
}

/// Watches one outbound link for writability and closure; discards anything the peer sends.
final class OutboundLinkHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let connection: OutboundConnection

    init(connection: OutboundConnection) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.linkClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

