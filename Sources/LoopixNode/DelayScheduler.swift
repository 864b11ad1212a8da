// The Poisson delay stage: holds each processed packet until its delay has passed, with
// microsecond resolution from the event loop's timer, then writes it to its next hop.
import BasicContainers
import LoopixSphinx
import NIOCore
import Synchronization

/// What a test or benchmark learns about each relayed packet (monotonic nanoseconds).
public struct HopRecord: Sendable {
    public var arrival: UInt64
    public var sent: UInt64
    public var requestedDelayMicroseconds: UInt32
}

/// One per event loop: a timer heap of packets owned by that loop. Workers (and the loop
/// sender) hand packets over through a locked inbox, which the loop takes in as `WakePolicy`
/// describes; everything else runs on the loop.
///
/// `@unchecked Sendable`: the inbox is behind its mutex; every other mutable field is touched
/// only on `eventLoop`.
final class DelayScheduler: @unchecked Sendable {
    private struct Inbox: ~Copyable {
        var packets: UniqueArray<ScheduledPacket>
        /// A wake-up is on its way to the loop.
        var wakePending = false
    }

    let eventLoop: any EventLoop
    private let metrics: NodeMetrics
    private let deliverySink: (any DeliverySink)?
    private let hopObserver: (@Sendable (HopRecord) -> Void)?

    private let inbox: Mutex<Inbox>
    /// The loop's side of the inbox: swapped with it, so that taking packets in allocates nothing.
    private var taken: UniqueArray<ScheduledPacket>
    private var heap = TimerHeap(reservingCapacity: 1024)
    private var timer: Scheduled<Void>?
    private var timerDue: UInt64 = .max
    /// Links written to since the last flush, each once: few per wake-up, so a list beats a set.
    private var flushList: [LinkHandle] = []
    private var delivered = 0

    init(eventLoop: any EventLoop, metrics: NodeMetrics,
         deliverySink: (any DeliverySink)?, hopObserver: (@Sendable (HopRecord) -> Void)?) {
        self.eventLoop = eventLoop
        self.metrics = metrics
        self.deliverySink = deliverySink
        self.hopObserver = hopObserver
        self.inbox = Mutex(Inbox(packets: UniqueArray(minimumCapacity: 256)))
        self.taken = UniqueArray(minimumCapacity: 256)
        flushList.reserveCapacity(16)
    }

    // MARK: the three moments of `WakePolicy`

    /// From a worker or the loop sender: takes the packet over, and wakes the loop once
    /// `WakePolicy.threshold(backlog:)` packets wait (1: at once).
    func handOver(_ packet: consuming ScheduledPacket, backlog: Int) {
        let threshold = WakePolicy.threshold(backlog: backlog)
        var handed = Optional(packet)
        let wake = inbox.withLock { inbox in
            inbox.packets.append(handed.take()!)
            return Self.claimWake(&inbox, atLeast: threshold)
        }
        if wake { eventLoop.execute { self.takeInAndFire() } }
    }

    /// From a worker that ran out of work: wakes the loop if anything waits for it.
    func wakeIfWaiting() {
        if inbox.withLock({ Self.claimWake(&$0, atLeast: 1) }) { eventLoop.execute { self.takeInAndFire() } }
    }

    /// On the loop, awake anyway: takes in what waits, if anything, and sends what is due.
    func takeInbox() {
        eventLoop.assertInEventLoop()
        if inbox.withLock({ !$0.packets.isEmpty }) { takeInAndFire() }
    }

    /// Under the inbox lock: whether the caller is to wake the loop, because `threshold` packets
    /// wait and no wake-up is on its way (the caller's then is).
    private static func claimWake(_ inbox: inout Inbox, atLeast threshold: Int) -> Bool {
        guard !inbox.wakePending, inbox.packets.count >= threshold else { return false }
        inbox.wakePending = true
        return true
    }

    // MARK: on the loop

    /// Packets waiting for their delay (on the loop).
    var pendingCount: Int {
        eventLoop.preconditionInEventLoop()
        return heap.count
    }

    private func takeIn() {
        inbox.withLock { inbox in
            swap(&inbox.packets, &taken)
            inbox.wakePending = false
        }
        while let packet = taken.popLast() { heap.push(packet) }
    }

    private func takeInAndFire() {
        takeIn()
        fireDue()
    }

    private func fireDue() {
        let now = monotonicNanoseconds()
        while let packet = heap.popDue(now: now) {
            dispatch(packet, now: now)
        }
        for handle in flushList { handle.link.flush() }
        flushList.removeAll(keepingCapacity: true)
        if delivered != 0 {
            metrics.delivered.increment(by: delivered)
            delivered = 0
        }
        rearm()
    }

    private func dispatch(_ packet: consuming ScheduledPacket, now: UInt64) {
        metrics.schedulerLateness.recordNanoseconds(Int64(now &- max(packet.due, packet.ready)))
        metrics.hopOverhead.recordNanoseconds(Int64(now &- packet.due))
        switch packet.destination {
        case .relay(let handle):
            hopObserver?(HopRecord(arrival: packet.arrival, sent: now, requestedDelayMicroseconds: packet.delayMicroseconds))
            handle.link.send(packet.buffer)
            if !flushList.contains(handle) { flushList.append(handle) }
        case .deliver(let mailbox):
            deliverySink?.deliver(mailbox: mailbox, packet: UnsafeRawBufferPointer(packet.buffer.bytes))
            delivered += 1
        }
    }

    private func rearm() {
        guard let due = heap.earliestDue else { return }
        guard timer == nil || due < timerDue else { return }
        timer?.cancel()
        timerDue = due
        timer = eventLoop.scheduleTask(deadline: .uptimeNanoseconds(due)) {
            self.timer = nil
            self.timerDue = .max
            self.fireDue()
        }
    }

    /// Shutdown: drops every packet still waiting (counted), on the loop; returns how many.
    func dropAll() -> Int {
        eventLoop.preconditionInEventLoop()
        takeIn()
        timer?.cancel()
        timer = nil
        timerDue = .max
        var dropped = 0
        while heap.popFirst() != nil { dropped += 1 }
        metrics.drop(.shutdown, count: dropped)
        return dropped
    }
}
