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
    /// Packets unwrapped with the previous epoch's key during its grace period.
    var previousKey = 0
    /// Packets processed since the counts were last published.
    var unpublished = 0

    init() {
        drops = [Int](repeating: 0, count: DropCause.allCases.count)
    }
}

/// The per-packet logic of the crypto stage; shared by all workers, stateless between packets.
final class PacketWorker: Sendable {
    let epochs: EpochStates
    let queue: CryptoQueue
    let admission: AdmissionState
    let metrics: NodeMetrics
    let schedulers: [DelayScheduler]
    let loopMonitor: LoopMonitor?
    let finalSink: (any FinalSink)?
    let hasDeliverySink: Bool
    let shares: PeerShares?

    init(epochs: EpochStates, queue: CryptoQueue, admission: AdmissionState, metrics: NodeMetrics,
         schedulers: [DelayScheduler], loopMonitor: LoopMonitor?, finalSink: (any FinalSink)?, hasDeliverySink: Bool,
         shares: PeerShares? = nil) {
        self.shares = shares
        self.epochs = epochs
        self.queue = queue
        self.admission = admission
        self.metrics = metrics
        self.schedulers = schedulers
        self.loopMonitor = loopMonitor
        self.finalSink = finalSink
        self.hasDeliverySink = hasDeliverySink
    }

    /// How many packets a worker processes between publishing its counts.
    static let countInterval = 64

    /// Processes one packet taken from the queue and hands its result to its scheduler (which
    /// wakes its loop as `WakePolicy` says). Counts are published every `countInterval` packets.
    func process(_ packet: consuming QueuedPacket, _ scratch: WorkerScratch) {
        let start = monotonicNanoseconds()
        shares?.taken(packet.peer)
        let sojourn = start &- packet.arrival
        metrics.sojourn.recordNanoseconds(Int64(sojourn))
        handle(packet, scratch)
        admission.noteWorkerSample(sojournNanos: sojourn, serviceNanos: monotonicNanoseconds() &- start)
        scratch.unpublished += 1
        if scratch.unpublished >= Self.countInterval { publishCounts(scratch) }
    }

    /// Wakes every event loop whose scheduler has results waiting (a worker running out of work).
    func wakeSchedulers() {
        for scheduler in schedulers { scheduler.wakeIfWaiting() }
    }

    /// Unwraps the packet in place and routes the result; a packet whose way ends here is let go
    /// (its buffer returns to the slab) when this returns.
    @inline(__always)
    private func handle(_ packet: consuming QueuedPacket, _ scratch: WorkerScratch) {
        let arrival = packet.arrival
        let buffer = packet.buffer
        let epoch = epochs.current
        let processed: ProcessedPacket
        do {
            let unwrapped = try epoch.unwrap(UnsafeRawBufferPointer(buffer.bytes), into: buffer.bytes)
            processed = unwrapped.processed
            if unwrapped.previousKey { scratch.previousKey += 1 }
        } catch {
            scratch.drops[DropCause(error).index] += 1
            return
        }
        let ready = monotonicNanoseconds()
        switch processed.command {
        case .relay(let next, let delay):
            guard delay <= epoch.hopDelayLimit else {
                scratch.drops[DropCause.delayTooLong.index] += 1
                return
            }
            guard let link = epoch.links[next] else {
                scratch.drops[DropCause.unknownNextHop.index] += 1
                return
            }
            schedulers[link.link.schedulerIndex].handOver(ScheduledPacket(
                due: arrival &+ UInt64(delay) &* 1000, arrival: arrival, ready: ready, buffer: buffer,
                delayMicroseconds: delay, destination: .relay(link)), backlog: queue.length)
        case .deliver(let mailbox, let delay):
            guard delay <= epoch.hopDelayLimit else {
                scratch.drops[DropCause.delayTooLong.index] += 1
                return
            }
            guard hasDeliverySink else {
                scratch.drops[DropCause.noDeliverySink.index] += 1
                return
            }
            let scheduler = Int(buffer.slot) % schedulers.count
            schedulers[scheduler].handOver(ScheduledPacket(
                due: arrival &+ UInt64(delay) &* 1000, arrival: arrival, ready: ready, buffer: buffer,
                delayMicroseconds: delay, destination: .deliver(mailbox)), backlog: queue.length)
        case .drop:
            // Drop cover traffic ends here; nothing leaves, so its delay does not matter.
            scratch.coverDropped += 1
        case .final(let messageID):
            if let loopMonitor, loopMonitor.loopReturned(messageID, at: ready) {
                scratch.loopsReturned += 1
            } else if let finalSink {
                if let range = processed.finalMessage {
                    finalSink.receive(messageID: messageID, message: UnsafeRawBufferPointer(rebasing: buffer.bytes[range]))
                } else {
                    finalSink.receive(messageID: messageID, message: nil)
                }
            } else {
                scratch.drops[DropCause.unknownFinal.index] += 1
            }
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
        if scratch.previousKey != 0 {
            metrics.previousKey.increment(by: scratch.previousKey)
            scratch.previousKey = 0
        }
    }
}
