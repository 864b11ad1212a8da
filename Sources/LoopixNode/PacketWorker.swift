// What a crypto worker does to a batch: unwrap each packet in place, record its replay tag, and
// route it to the delay scheduler, a sink, or the drop counters. No allocation per packet.
import LoopixNetwork
import LoopixSphinx

/// Per-worker buffers, reused from batch to batch so that a batch allocates nothing.
final class WorkerScratch: @unchecked Sendable {
    // `@unchecked Sendable`: a scratch is handed to one worker at a time by `CryptoWorkerPool`.
    var batch: [QueuedPacket] = []
    var outputs: [[ScheduledPacket]]
    var released: [PacketSlot] = []
    var drops: [Int]
    var coverDropped = 0
    var loopsReturned = 0

    init(schedulers: Int, batchLimit: Int) {
        batch.reserveCapacity(batchLimit)
        released.reserveCapacity(batchLimit)
        outputs = (0..<schedulers).map { _ in
            var array: [ScheduledPacket] = []
            array.reserveCapacity(batchLimit)
            return array
        }
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

    /// Processes `scratch.batch` and hands the results on; leaves the scratch empty.
    func process(_ scratch: WorkerScratch) {
        let start = monotonicNanoseconds()
        for packet in scratch.batch {
            let sojourn = start &- packet.arrival
            metrics.sojourn.recordNanoseconds(Int64(sojourn))
            queue.noteSojourn(sojourn)
            handle(packet, scratch)
        }
        let end = monotonicNanoseconds()
        queue.noteServiceTime(perPacket: (end &- start) / UInt64(max(1, scratch.batch.count)))
        scratch.batch.removeAll(keepingCapacity: true)
        finish(scratch)
    }

    @inline(__always)
    private func handle(_ packet: QueuedPacket, _ scratch: WorkerScratch) {
        let buffer = slab.buffer(packet.slot)
        let processed: ProcessedPacket
        do {
            processed = try processor.process(UnsafeRawBufferPointer(buffer), into: buffer)
        } catch {
            scratch.drops[DropCause(error).index] += 1
            scratch.released.append(packet.slot)
            return
        }
        let ready = monotonicNanoseconds()
        switch processed.command {
        case .relay(let next, let delay):
            guard let target = routes.index[next] else {
                scratch.drops[DropCause.unknownNextHop.index] += 1
                scratch.released.append(packet.slot)
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
                scratch.released.append(packet.slot)
                return
            }
            let scheduler = Int(packet.slot) % schedulers.count
            scratch.outputs[scheduler].append(ScheduledPacket(
                due: packet.arrival &+ UInt64(delay) &* 1000, arrival: packet.arrival, ready: ready,
                slot: packet.slot, delayMicroseconds: delay, target: 0, action: .deliver, mailbox: mailbox))
        case .drop:
            // Drop cover traffic ends here; nothing leaves, so its delay does not matter.
            scratch.coverDropped += 1
            scratch.released.append(packet.slot)
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
            scratch.released.append(packet.slot)
        }
    }

    /// Publishes a batch's results: one lock per scheduler, one per slab, counters once.
    private func finish(_ scratch: WorkerScratch) {
        for index in scratch.outputs.indices where !scratch.outputs[index].isEmpty {
            schedulers[index].submit(&scratch.outputs[index])
        }
        if !scratch.released.isEmpty {
            slab.release(scratch.released)
            scratch.released.removeAll(keepingCapacity: true)
        }
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
