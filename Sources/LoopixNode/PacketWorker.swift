// What a crypto worker does to a packet: unwrap it in place, record its replay tag, and route it
// to the delay scheduler, a sink, or the drop counters. No allocation per packet.
import LoopixNetwork
import LoopixSphinx

/// Per-worker state, reused from packet to packet so that a packet allocates nothing: the
/// results not yet handed to the schedulers and the counts not yet published.
final class WorkerScratch: @unchecked Sendable {
    // `@unchecked Sendable`: a scratch is handed to one worker at a time by `CryptoWorkerPool`.
    var outputs: [[ScheduledPacket]]
    var drops: [Int]
    var coverDropped = 0
    var loopsReturned = 0
    /// Packets processed since the counts were last published.
    var unpublished = 0

    init(schedulers: Int) {
        outputs = (0..<schedulers).map { _ in
            var array: [ScheduledPacket] = []
            array.reserveCapacity(PacketWorker.maxHeld)
            return array
        }
        drops = [Int](repeating: 0, count: DropCause.allCases.count)
    }

    /// Results not yet handed to the schedulers.
    var held: Int { outputs.reduce(0) { $0 + $1.count } }
}

/// The per-packet logic of the crypto stage; shared by all workers, stateless between packets.
final class PacketWorker: Sendable {
    let processor: PacketProcessor
    let slab: PacketSlab
    let queue: CryptoQueue
    let metrics: NodeMetrics
    let routes: OutboundRoutes
    let schedulers: [DelayScheduler]
    let loopMonitor: LoopMonitor?
    let finalSink: (any FinalSink)?
    let hasDeliverySink: Bool

    init(processor: PacketProcessor, slab: PacketSlab, queue: CryptoQueue, metrics: NodeMetrics,
         routes: OutboundRoutes, schedulers: [DelayScheduler], loopMonitor: LoopMonitor?,
         finalSink: (any FinalSink)?, hasDeliverySink: Bool) {
        self.processor = processor
        self.slab = slab
        self.queue = queue
        self.metrics = metrics
        self.routes = routes
        self.schedulers = schedulers
        self.loopMonitor = loopMonitor
        self.finalSink = finalSink
        self.hasDeliverySink = hasDeliverySink
    }

    /// How many packets a worker processes between publishing its counts.
    static let countInterval = 64
    /// The most results a worker holds before handing them to the schedulers.
    static let maxHeld = 16

    /// Processes one packet taken from the queue. Its result goes to its scheduler at once while
    /// the backlog is short; with a longer backlog a worker holds up to a quarter of it (at most
    /// `maxHeld`) and hands them over together, one wake-up of the event loop and one socket
    /// write for several packets, when each of them is waiting in the queue far longer anyway.
    /// Counts are published every `countInterval` packets.
    func process(_ packet: QueuedPacket, _ scratch: WorkerScratch) {
        let start = monotonicNanoseconds()
        let sojourn = start &- packet.arrival
        metrics.sojourn.recordNanoseconds(Int64(sojourn))
        queue.noteSojourn(sojourn)
        handle(packet, scratch)
        let backlog = queue.length.load(ordering: .relaxed)
        if scratch.held >= min(Self.maxHeld, max(1, backlog / 4)) { handOver(scratch) }
        queue.noteServiceTime(monotonicNanoseconds() &- start)
        queue.completed.wrappingIncrement(ordering: .relaxed)
        scratch.unpublished += 1
        if scratch.unpublished >= Self.countInterval { publishCounts(scratch) }
    }

    /// Gives every held result to its scheduler.
    func handOver(_ scratch: WorkerScratch) {
        for index in scratch.outputs.indices where !scratch.outputs[index].isEmpty {
            schedulers[index].submit(&scratch.outputs[index])
        }
    }

    @inline(__always)
    private func handle(_ packet: QueuedPacket, _ scratch: WorkerScratch) {
        let buffer = slab.buffer(packet.slot)
        let processed: ProcessedPacket
        do {
            processed = try processor.process(UnsafeRawBufferPointer(buffer), into: buffer)
        } catch {
            scratch.drops[DropCause(error).index] += 1
            slab.release(packet.slot)
            return
        }
        let ready = monotonicNanoseconds()
        switch processed.command {
        case .relay(let next, let delay):
            guard let target = routes.index[next] else {
                scratch.drops[DropCause.unknownNextHop.index] += 1
                slab.release(packet.slot)
                return
            }
            let scheduler = routes.connections[target].schedulerIndex
            scratch.outputs[scheduler].append(ScheduledPacket(
                due: packet.arrival &+ UInt64(delay) &* 1000, arrival: packet.arrival, ready: ready,
                slot: packet.slot, delayMicroseconds: delay, target: UInt32(target), action: .relay,
                mailbox: .zero))
        case .deliver(let mailbox, let delay):
            guard hasDeliverySink else {
                scratch.drops[DropCause.noDeliverySink.index] += 1
                slab.release(packet.slot)
                return
            }
            let scheduler = Int(packet.slot) % schedulers.count
            scratch.outputs[scheduler].append(ScheduledPacket(
                due: packet.arrival &+ UInt64(delay) &* 1000, arrival: packet.arrival, ready: ready,
                slot: packet.slot, delayMicroseconds: delay, target: 0, action: .deliver, mailbox: mailbox))
        case .drop:
            // Drop cover traffic ends here; nothing leaves, so its delay does not matter.
            scratch.coverDropped += 1
            slab.release(packet.slot)
        case .final(let messageID):
            if let loopMonitor, loopMonitor.loopReturned(messageID, at: ready) {
                scratch.loopsReturned += 1
            } else if let finalSink {
                if let range = processed.finalMessage {
                    finalSink.receive(messageID: messageID, message: UnsafeRawBufferPointer(rebasing: buffer[range]))
                } else {
                    finalSink.receive(messageID: messageID, message: nil)
                }
            } else {
                scratch.drops[DropCause.unknownFinal.index] += 1
            }
            slab.release(packet.slot)
        }
    }

    /// Publishes the counts gathered since the last call, one increment per cause.
    func publishCounts(_ scratch: WorkerScratch) {
        scratch.unpublished = 0
        for index in scratch.drops.indices where scratch.drops[index] != 0 {
            metrics.drop(DropCause.allCases[index], count: scratch.drops[index])
            scratch.drops[index] = 0
        }
        if scratch.coverDropped != 0 {
            metrics.coverDropped.increment(by: scratch.coverDropped)
            scratch.coverDropped = 0
        }
        if scratch.loopsReturned != 0 {
            metrics.loopsReturned.increment(by: scratch.loopsReturned)
            scratch.loopsReturned = 0
        }
    }
}
