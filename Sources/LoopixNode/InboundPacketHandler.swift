// The event-loop end of the pipeline: takes decoded frames, applies admission (AQM, limits and
// the peers' fair shares) before any crypto, copies admitted packets into slab buffers, and
// hands them to the workers once per read burst, after which it lets the loop's delay scheduler
// take in what the workers left in its inbox. Also cuts peers that break the framing or send
// too slowly, and counts what the link layer below it refused.
import Atomics
import DequeModule
import LoopixNetwork
import LoopixNoise
import NIOConcurrencyHelpers
import NIOCore

/// What every inbound connection of a node shares.
final class InboundContext: Sendable {
    let pool: CryptoWorkerPool
    let admission: AdmissionState
    let slab: PacketSlab
    let schedulers: [DelayScheduler]
    let metrics: NodeMetrics
    let frameTimeout: UInt64
    let maxConnections: Int
    let openConnections = ManagedAtomic<Int>(0)
    let shares: PeerShares
    /// Links are plain TCP (the benchmark's own node): each connection is a peer of its own.
    let plaintext: Bool
    /// The open inbound links and their peers' keys, so that a peer the directory no longer
    /// lists can be cut.
    let peers = NIOLockedValueBox<[ObjectIdentifier: (channel: any Channel, peer: NoisePublicKey)]>([:])

    init(pool: CryptoWorkerPool, admission: AdmissionState, slab: PacketSlab, schedulers: [DelayScheduler],
         metrics: NodeMetrics, frameTimeout: Double, maxConnections: Int, shares: PeerShares, plaintext: Bool = false) {
        self.shares = shares
        self.plaintext = plaintext
        self.pool = pool
        self.admission = admission
        self.slab = slab
        self.schedulers = schedulers
        self.metrics = metrics
        self.frameTimeout = UInt64(frameTimeout * 1e9)
        self.maxConnections = maxConnections
    }
}

/// One per inbound connection, after `WireFrameDecoder`.
final class InboundPacketHandler: ChannelInboundHandler {
    typealias InboundIn = WireFrame

    private static let batchLimit = 64
    private static let checksPerTimeout = 4
    private let shared: InboundContext
    private var decider: DropDecider
    private var batch = RigidDeque<QueuedPacket>(capacity: InboundPacketHandler.batchLimit)
    private var received = 0
    /// Deadline checks since the last complete frame (see `checkDeadline`).
    private var silentChecks = 0
    private var deadlineCheck: RepeatedTask?
    /// The delay scheduler of this connection's event loop, if the node has one on it.
    private var scheduler: DelayScheduler?
    private var counted = false
    /// Set once this side decided to close: errors after that (an unfinished frame flushed out
    /// by the close) belong to the cause already counted.
    private var closing = false
    /// The sending peer, once its link is established (at once on plaintext links).
    private var peer: PeerIdentity?
    /// Its slot in the shares.
    private var slot: UInt32 = 0

    init(shared: InboundContext) {
        self.shared = shared
        self.decider = DropDecider(seed: UInt64.random(in: 1...UInt64.max))
    }

    func channelActive(context: ChannelHandlerContext) {
        let open = shared.openConnections.wrappingIncrementThenLoad(ordering: .relaxed)
        counted = true
        shared.metrics.connectionsOpen.record(open)
        guard open <= shared.maxConnections else {
            shared.metrics.drop(.connectionLimit)
            closing = true
            context.close(promise: nil)
            return
        }
        scheduler = shared.schedulers.first { $0.eventLoop === context.eventLoop }
        if shared.plaintext { join(.connection(ObjectIdentifier(context.channel))) }
        // A peer must complete a frame every frameTimeout; checked four times per timeout on the
        // loop's clock, so a silent peer is cut between 1 and 1.25 timeouts after its last frame.
        let period = TimeAmount.nanoseconds(Int64(max(shared.frameTimeout / UInt64(Self.checksPerTimeout), 1_000_000)))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadlineCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            let (handler, context) = loopBound.value
            handler.checkDeadline(context: context)
        }
        context.fireChannelActive()
    }

    private func join(_ identity: PeerIdentity) {
        peer = identity
        slot = shared.shares.join(identity)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let established = event as? NoiseLinkEstablished {
            join(.key(established.peer))
            shared.metrics.linksEstablished.increment()
            let channel = context.channel
            shared.peers.withLockedValue { $0[ObjectIdentifier(channel)] = (channel, established.peer) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let now = monotonicNanoseconds()
        silentChecks = 0
        guard frame.type == .packet else { return }
        received += 1
        if let cause = admissionRefusal() {
            shared.metrics.drop(cause)
            return
        }
        guard let buffer = shared.slab.acquire() else {
            shared.metrics.drop(.noBuffer)
            return
        }
        let destination = buffer.bytes
        frame.body.withUnsafeReadableBytes { destination.copyMemory(from: $0) }
        batch.append(QueuedPacket(buffer: buffer, arrival: now, peer: slot))
        if batch.count >= Self.batchLimit { handOff() }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        handOff()
        // The loop is awake anyway: results the workers left without waking it leave now.
        scheduler?.takeInbox()
        context.fireChannelReadComplete()
    }

    /// Refuses an arrival before any crypto: the limit and the peer's share, then the AQM's
    /// probability (`FairAdmission`). The packets this connection read but has not handed over
    /// yet count as queued: they are ahead of this one, and a long read burst would otherwise
    /// overshoot the limit by a whole batch.
    @inline(__always)
    private func admissionRefusal() -> DropCause? {
        let length = shared.pool.queue.length + batch.count
        let queuedHere = shared.shares.queued(slot)
        let active = shared.shares.activePeers + (queuedHere == 0 ? 1 : 0)
        let probability = shared.admission.dropProbability
        // As in PIE, never drop early while the queue is nearly empty (inside `judge`).
        return FairAdmission.judge(length: length, mine: queuedHere + batch.count, active: active,
                                   limit: shared.admission.admitLimit) { decider.shouldDrop(probability: probability) }
    }

    private func handOff() {
        if received > 0 {
            shared.metrics.packetsIn.increment(by: received)
            received = 0
        }
        guard !batch.isEmpty else { return }
        let (shares, slot) = (shared.shares, slot)
        shared.pool.submit(&batch, counted: { shares.added(slot, count: $0) })
        if !batch.isEmpty {
            shared.metrics.drop(.queueFull, count: batch.count)
            batch.removeAll()
        }
    }

    private func checkDeadline(context: ChannelHandlerContext) {
        silentChecks += 1
        guard silentChecks > Self.checksPerTimeout else { return }
        shared.metrics.drop(.frameTimeout)
        deadlineCheck?.cancel()
        closing = true
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? WireProtocolError, !closing {
            shared.metrics.drop(DropCause(error))
        }
        if let error = error as? NoiseLinkError, !closing {
            shared.metrics.refusedLink(error.cause)
        }
        // Any error ends the connection: a peer that breaks the framing is not trusted again.
        handOff()
        closing = true
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handOff()
        deadlineCheck?.cancel()
        deadlineCheck = nil
        if let peer {
            shared.shares.leave(peer)
            self.peer = nil
            let channel = context.channel
            shared.peers.withLockedValue { _ = $0.removeValue(forKey: ObjectIdentifier(channel)) }
        }
        if counted {
            counted = false
            let open = shared.openConnections.wrappingDecrementThenLoad(ordering: .relaxed)
            shared.metrics.connectionsOpen.record(open)
        }
        context.fireChannelInactive()
    }
}
