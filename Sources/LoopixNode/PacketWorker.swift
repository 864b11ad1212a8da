// What a crypto worker does to a packet: unwrap it in place, record its replay tag, and route it
// to the delay scheduler, a sink, or the drop counters. No allocation per packet.
import LoopixNetwork
import LoopixSphinx

/// Per-worker state, reused from packet to packet so that a packet allocates nothing: the
/// counts not yet published.
final class WorkerScratch: @unchecked Sendable {
    // `@unchecked Sendable`: a scratch is handed to one worker at a time by `CryptoWorkerPool`.
    var drops: [Int]
    var coverDropped = 0
    var loopsReturned = 0
    /// Packets processed since the counts were last published.
    var unpublished = 0

    init() {
        drops = [Int](repeating: 0, count: DropCause.allCases.count)
    }
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
    /// The most results that wait in a scheduler's inbox before a worker wakes its event loop.
    static let maxUnwoken = 16

    /// Processes one packet taken from the queue and puts its result in its scheduler's inbox.
    /// While the backlog is short the event loop is woken for it at once; behind a longer
    /// backlog, only once a quarter of the backlog (at most `maxUnwoken`) waits there: each of
    /// those packets waited far longer in the queue, and a busy loop drains the inbox after
    /// every read burst anyway, so that one wake-up and one socket write serve several packets.
    /// Counts are published every `countInterval` packets.
    func process(_ packet: QueuedPacket, _ scratch: WorkerScratch) {
        let start = monotonicNanoseconds()
        let sojourn = start &- packet.arrival
        metrics.sojourn.recordNanoseconds(Int64(sojourn))
        queue.noteSojourn(sojourn)
        handle(packet, scratch)
        queue.noteServiceTime(monotonicNanoseconds() &- start)
        queue.completed.wrappingIncrement(ordering: .relaxed)
        scratch.unpublished += 1
        if scratch.unpublished >= Self.countInterval { publishCounts(scratch) }
    }

    /// Wakes every event loop whose scheduler has results waiting (a worker running out of work).
    func wakeSchedulers() {
        for scheduler in schedulers { scheduler.wakeIfWaiting() }
    }

    /// Puts a result in its scheduler's inbox, waking the loop as `process` describes.
    @inline(__always)
    private func submit(_ packet: ScheduledPacket, to scheduler: Int) {
        let backlog = queue.length.load(ordering: .relaxed)
        schedulers[scheduler].submit(packet, wakeAfter: min(Self.maxUnwoken, max(1, backlog / 4)))
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
            submit(ScheduledPacket(
                due: packet.arrival &+ UInt64(delay) &* 1000, arrival: packet.arrival, ready: ready,
                slot: packet.slot, delayMicroseconds: delay, target: UInt32(target), action: .relay,
                mailbox: .zero), to: routes.connections[target].schedulerIndex)
        case .deliver(let mailbox, let delay):
            guard hasDeliverySink else {
                scratch.drops[DropCause.noDeliverySink.index] += 1
                slab.release(packet.slot)
                return
            }
            submit(ScheduledPacket(
                due: packet.arrival &+ UInt64(delay) &* 1000, arrival: packet.arrival, ready: ready,
                slot: packet.slot, delayMicroseconds: delay, target: 0, action: .deliver, mailbox: mailbox),
                to: Int(packet.slot) % schedulers.count)
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
