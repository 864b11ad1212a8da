// The Poisson delay stage: holds each processed packet until its delay has passed, with
// microsecond resolution from the event loop's timer, then writes it to its next hop.
import LoopixSphinx
import NIOConcurrencyHelpers
import NIOCore

/// What a test or benchmark learns about each relayed packet (monotonic nanoseconds).
public struct HopRecord: Sendable {
    public var arrival: UInt64
    public var sent: UInt64
    public var requestedDelayMicroseconds: UInt32
}

/// One per event loop: a timer heap of packets owned by that loop. Workers hand packets over
/// through a locked inbox, which the loop drains when a worker wakes it and after every read
/// burst it handles; everything else runs on the loop.
///
/// `@unchecked Sendable`: `inbox` and `drainPending` are guarded by `inboxLock`; every other
/// mutable field is touched only on `eventLoop`.
final class DelayScheduler: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let slab: PacketSlab
    private let metrics: NodeMetrics
    private let deliverySink: (any DeliverySink)?
    private let hopObserver: (@Sendable (HopRecord) -> Void)?
    /// All outbound connections of the node; this scheduler only uses those on its loop.
    var connections: [OutboundConnection] = []

    private let inboxLock = NIOLock()
    private var inbox: [ScheduledPacket] = []
    private var drainPending = false

    private var spare: [ScheduledPacket] = []
    private var heap = TimerHeap(reservingCapacity: 1024)
    private var timer: Scheduled<Void>?
    private var timerDue: UInt64 = .max
    private var touched: [OutboundConnection] = []
    private var delivered = 0

    init(eventLoop: any EventLoop, slab: PacketSlab, metrics: NodeMetrics,
         deliverySink: (any DeliverySink)?, hopObserver: (@Sendable (HopRecord) -> Void)?) {
        self.eventLoop = eventLoop
        self.slab = slab
        self.metrics = metrics
        self.deliverySink = deliverySink
        self.hopObserver = hopObserver
        inbox.reserveCapacity(256)
        spare.reserveCapacity(256)
    }

    /// Hands one packet over from a worker. The loop is woken once `wakeAfter` packets wait in
    /// the inbox (1: at once); until then they wait for the loop's next wake-up, which on a busy
    /// loop comes before that anyway: every read burst it handles drains the inbox too.
    func submit(_ packet: ScheduledPacket, wakeAfter threshold: Int) {
        let wake = inboxLock.withLock {
            inbox.append(packet)
            return claimWake(atLeast: threshold)
        }
        if wake { eventLoop.execute { self.drainInbox() } }
    }

    /// Wakes the loop if packets wait in the inbox and no wake-up is on its way: a worker that
    /// runs out of work leaves nothing behind.
    func wakeIfWaiting() {
        if inboxLock.withLock({ claimWake(atLeast: 1) }) { eventLoop.execute { self.drainInbox() } }
    }

    /// Under `inboxLock`: whether the caller is to wake the loop, because `threshold` packets wait
    /// and no wake-up is on its way (the caller's then is).
    private func claimWake(atLeast threshold: Int) -> Bool {
        guard !drainPending, inbox.count >= max(1, threshold) else { return false }
        drainPending = true
        return true
    }

    /// On the loop: takes in what waits in the inbox, if anything, and sends what is due.
    func drainIfWaiting() {
        eventLoop.assertInEventLoop()
        if inboxLock.withLock({ !inbox.isEmpty }) { drainInbox() }
    }

    /// Packets waiting for their delay (on the loop).
    var pendingCount: Int {
        eventLoop.preconditionInEventLoop()
        return heap.count
    }

    private func drainInbox() {
        inboxLock.withLock {
            swap(&inbox, &spare)
            drainPending = false
        }
        for packet in spare { heap.push(packet) }
        spare.removeAll(keepingCapacity: true)
        fireDue()
    }

    private func fireDue() {
        let now = monotonicNanoseconds()
        while let packet = heap.popDue(now: now) {
            dispatch(packet, now: now)
        }
        for connection in touched { connection.flush() }
        touched.removeAll(keepingCapacity: true)
        if delivered != 0 {
            metrics.delivered.increment(by: delivered)
            delivered = 0
        }
        rearm()
    }

    private func dispatch(_ packet: ScheduledPacket, now: UInt64) {
        metrics.schedulerLateness.recordNanoseconds(Int64(now &- max(packet.due, packet.ready)))
        metrics.hopOverhead.recordNanoseconds(Int64(now &- packet.due))
        switch packet.action {
        case .relay:
            let connection = connections[Int(packet.target)]
            connection.send(packet.slot)
            if !connection.touched {
                connection.touched = true
                touched.append(connection)
            }
            hopObserver?(HopRecord(arrival: packet.arrival, sent: now, requestedDelayMicroseconds: packet.delayMicroseconds))
        case .deliver:
            deliverySink?.deliver(mailbox: packet.mailbox, packet: UnsafeRawBufferPointer(slab.buffer(packet.slot)))
            slab.release(packet.slot)
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
        inboxLock.withLock {
            swap(&inbox, &spare)
            drainPending = false
        }
        for packet in spare { heap.push(packet) }
        spare.removeAll(keepingCapacity: true)
        timer?.cancel()
        timer = nil
        timerDue = .max
        var dropped = 0
        while let packet = heap.popFirst() {
            slab.release(packet.slot)
            dropped += 1
        }
        metrics.drop(.shutdown, count: dropped)
        return dropped
    }
}
