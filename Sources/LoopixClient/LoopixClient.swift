// The client as an application uses it: send, reply, and read messages, while the cover traffic runs itself.
import Foundation
import Logging
import LoopixNetwork
import LoopixSphinx
import NIOConcurrencyHelpers
import NIOCore

/// Counters of what a client did and saw.
public struct ClientStatistics: Sendable, Hashable, Codable {
    public var sentReal = 0
    public var sentDrop = 0
    public var sentLoop = 0
    public var sendFailures = 0
    public var pulls = 0
    public var pullFailures = 0
    public var messagesReceived = 0
    public var loopsReturned = 0
    public var dummiesReceived = 0
    public var duplicatesReceived = 0
    public var undecodable = 0
    /// Packets the replay state could not record (left unacknowledged in the mailbox).
    public var unrecorded = 0
    /// Messages that could not be built when their turn came (their recipient's provider left
    /// the network, for example).
    public var unbuildable = 0
    /// Round trips of returned loops, seconds (the most recent 1024).
    public var loopRoundTrips: [Double] = []
    /// Seconds from each scheduled pull's deadline until its answer was in hand, before the
    /// packets were read (the most recent 1024): what a packet already in the mailbox waits
    /// beyond the deadline.
    public var pullAnswerDelays: [Double] = []
    /// Pull deadlines skipped because the pull before them was still running.
    public var pullDeadlinesMissed = 0
}

/// A running Loopix client: the application calls `send` and reads `messages`; three Poisson streams
/// (λP from the send buffer or drop cover, λL loops, λD drops) and the pull timer run on their own.
/// The streams fire from timers on one event loop at absolute deadlines, so neither a busy
/// task pool nor timer overshoot bends them away from Poisson.
public final class LoopixClient: Sendable {
    public let core: ClientCore
    public let rates: ClientRates
    public let bufferCapacity: Int
    private let transport: any ClientTransport
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    /// Messages for the application, in arrival order.
    public let messages: AsyncStream<ReceivedMessage>
    private let continuation: AsyncStream<ReceivedMessage>.Continuation
    /// Called with each packet's kind and send time (seconds since start), for tests and status views.
    private let sendObserver: (@Sendable (OutgoingPacket.Kind, Double) -> Void)?
    /// Packets built on the streams' ticks, in tick order, for the one task that hands them to the
    /// transport: they leave in the order they were built, whatever the task pool is doing.
    private let outgoing: AsyncStream<OutgoingPacket>
    private let outgoingContinuation: AsyncStream<OutgoingPacket>.Continuation
    /// The most packets that wait for the transport; beyond, a tick's cover packet is dropped and
    /// a real one goes back to the head of the send buffer (a link that has not kept up for many
    /// ticks must not make the client hold ever more packets).
    static let maxUnsent = 64

    private struct State {
        var buffer: [PendingMessage] = []
        var statistics = ClientStatistics()
        var tasks: [Task<Void, Never>] = []
        var timers: [Int: Scheduled<Void>] = [:]
        var unsent = 0
        var stopped = false
    }

    private let started: NIODeadline

    /// `eventLoop` runs the streams' timers and builds their packets (a few hundred microseconds each).
    public init(core: ClientCore, rates: ClientRates, transport: any ClientTransport, eventLoop: any EventLoop,
                bufferCapacity: Int = 1000, logger: Logger = Logger(label: "loopix.client"),
                sendObserver: (@Sendable (OutgoingPacket.Kind, Double) -> Void)? = nil) {
        self.core = core
        self.rates = rates
        self.transport = transport
        self.eventLoop = eventLoop
        self.bufferCapacity = bufferCapacity
        self.logger = logger
        self.sendObserver = sendObserver
        (messages, continuation) = AsyncStream.makeStream(of: ReceivedMessage.self, bufferingPolicy: .unbounded)
        (outgoing, outgoingContinuation) = AsyncStream.makeStream(of: OutgoingPacket.self, bufferingPolicy: .unbounded)
        started = .now()
    }

    /// Seconds since the client was made.
    public var now: Double { Double((NIODeadline.now() - started).nanoseconds) / 1e9 }

    public var statistics: ClientStatistics { state.withLockedValue { $0.statistics } }
    public var address: RecipientAddress { core.identity.address }

    /// Queues a message for `recipient`; it is built and leaves on the next λP tick. Fails at
    /// once if it cannot fit one packet.
    public func send(_ body: [UInt8], to recipient: RecipientAddress, attachReplyBlock: Bool = false) throws(ClientError) {
        let max = core.maxMessageBytes(withReplyBlock: attachReplyBlock)
        guard body.count <= max else { throw .messageTooLong(bytes: body.count, max: max) }
        try enqueue(.message(body: body, recipient: recipient, attachReplyBlock: attachReplyBlock))
    }

    /// Queues a reply through a reply block received with a message.
    public func reply(_ body: [UInt8], using block: ReplyBlock) throws(ClientError) {
        try enqueue(.reply(try core.makeReply(body, using: block).packet))
    }

    private func enqueue(_ packet: PendingMessage) throws(ClientError) {
        let result: ClientError? = state.withLockedValue { s in
            if s.stopped { return .stopped }
            guard s.buffer.count < bufferCapacity else { return .sendBufferFull(capacity: bufferCapacity) }
            s.buffer.append(packet)
            return nil
        }
        if let result { throw result }
    }

    /// Messages waiting in the send buffer.
    public var pendingMessages: Int { state.withLockedValue { $0.buffer.count } }

    /// Starts the Poisson streams and the pull timer.
    public func start() {
        let t0 = now
        let streams: [(Int, Double, @Sendable () throws(ClientError) -> OutgoingPacket)] = [
            (0, rates.payload, { [self] () throws(ClientError) in try nextPayload() }),
            (1, rates.loop, { [self] () throws(ClientError) in try core.makeLoop(now: now) }),
            (2, rates.drop, { [core] () throws(ClientError) in try core.makeDrop() }),
        ]
        for (id, rate, make) in streams where rate > 0 {
            eventLoop.execute { [self] in schedule(stream: id, events: PoissonStream(rate: rate, start: t0), make: make) }
        }
        state.withLockedValue { $0.tasks.append(sendLoop()) }
        if rates.pullInterval > 0 { state.withLockedValue { $0.tasks.append(pullLoop()) } }
    }

    /// Stops every stream and the pulls, closes the link and finishes `messages`.
    public func stop() async {
        let tasks = state.withLockedValue { s -> [Task<Void, Never>] in
            s.stopped = true
            return s.tasks
        }
        try? await eventLoop.submit { [state] in
            state.withLockedValue { s in
                for timer in s.timers.values { timer.cancel() }
                s.timers = [:]
            }
        }.get()
        outgoingContinuation.finish()
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
        await transport.close()
        continuation.finish()
    }

    /// The head of the send buffer, built now, or a drop cover packet when it is empty (or when
    /// the head cannot be built any more: it is counted and dropped, and the tick is not lost).
    /// While there is no document for the epoch (one late at a boundary), nothing is taken from
    /// the buffer: the tick is lost, the messages wait for the next one.
    private func nextPayload() throws(ClientError) -> OutgoingPacket {
        _ = try core.network.current()
        while let head = state.withLockedValue({ $0.buffer.isEmpty ? nil : $0.buffer.removeFirst() }) {
            switch head {
            case .reply(let packet):
                return OutgoingPacket(kind: .reply, packet: packet)
            case .message(let body, let recipient, let attach):
                do {
                    return try core.makeMessage(body, to: recipient, attachReplyBlock: attach).with(source: head)
                } catch {
                    // The epoch turned since the check above and its document is missing: the
                    // message goes back to the head and waits like the rest.
                    do throws(ClientError) { _ = try core.network.current() } catch {
                        state.withLockedValue { $0.buffer.insert(head, at: 0) }
                        throw error
                    }
                    logger.warning("a queued message cannot be built and is dropped: \(error)")
                    state.withLockedValue { $0.statistics.unbuildable += 1 }
                }
            }
        }
        return try core.makeDrop()
    }

    /// Arms the timer of one Poisson stream for its next event (on the event loop).
    private func schedule(stream id: Int, events: PoissonStream,
                          make: @escaping @Sendable () throws(ClientError) -> OutgoingPacket) {
        let deadline = started + .nanoseconds(Int64(events.nextEvent * 1e9))
        let timer = eventLoop.scheduleTask(deadline: deadline) { [self] in
            var next = events
            next.advance()
            guard state.withLockedValue({ !$0.stopped }) else { return }
            schedule(stream: id, events: next, make: make)
            fire(make)
        }
        state.withLockedValue { s in
            if s.stopped { timer.cancel() } else { s.timers[id] = timer }
        }
    }

    /// One stream event: build the packet now and queue it for the transport.
    private func fire(_ make: @Sendable () throws(ClientError) -> OutgoingPacket) {
        let packet: OutgoingPacket
        do { packet = try make() } catch {
            logger.warning("could not build a packet: \(error)")
            return
        }
        sendObserver?(packet.kind, now)
        let queued = state.withLockedValue { s in
            guard s.unsent < Self.maxUnsent else { return false }
            s.unsent += 1
            return true
        }
        if queued { outgoingContinuation.yield(packet) } else { notSent(packet) }
    }

    /// Hands the queued packets to the transport one at a time, in the order they were built.
    private func sendLoop() -> Task<Void, Never> {
        Task { [self] in
            for await packet in outgoing {
                do {
                    try await transport.send(packet.packet)
                    state.withLockedValue { s in
                        s.unsent -= 1
                        switch packet.kind {
                        case .real, .reply: s.statistics.sentReal += 1
                        case .drop: s.statistics.sentDrop += 1
                        case .loop: s.statistics.sentLoop += 1
                        }
                    }
                } catch {
                    state.withLockedValue { $0.unsent -= 1 }
                    notSent(packet)
                }
            }
        }
    }

    /// A packet that did not leave: counted; a real message is not lost to a broken or slow link,
    /// it goes back to the head of the buffer and leaves on a later tick (cover traffic is
    /// simply dropped).
    private func notSent(_ packet: OutgoingPacket) {
        state.withLockedValue { s in
            s.statistics.sendFailures += 1
            guard !s.stopped else { return }
            // A message goes back unbuilt, to be built again with the keys of whenever it leaves.
            if let source = packet.source {
                s.buffer.insert(source, at: 0)
            } else if packet.kind == .reply {
                s.buffer.insert(.reply(packet.packet), at: 0)
            }
        }
    }

    /// Pulls at the deadlines of a `PullSchedule` from now on, so the period is the pull interval
    /// whatever a pull costs; a pull that overruns its slot is followed by the next deadline still
    /// ahead, not by a burst of late ones.
    private func pullLoop() -> Task<Void, Never> {
        let schedule = PullSchedule(start: now, interval: rates.pullInterval)
        return Task { [self] in
            var slot = 0
            while !Task.isCancelled {
                // A pull runs to its end, acknowledgement included, even when `stop()` cancels the
                // loop: cut short after the packets were read, the provider would answer them again
                // to the next client process, whose replay filter has never seen them.
                let deadline = schedule.deadline(slot)
                await Task.detached { [self] in await pull(deadline: deadline) }.value
                let next = schedule.nextSlot(after: slot, now: now)
                if next > slot + 1 { state.withLockedValue { $0.statistics.pullDeadlinesMissed += next - slot - 1 } }
                slot = next
                let wait = schedule.deadline(slot) - now
                if wait > 0 { do { try await Task.sleep(for: .nanoseconds(Int64(wait * 1e9))) } catch { return } }
            }
        }
    }

    /// Pulls the mailbox once and reads what came; exposed for tests and the interactive CLI.
    public func pullOnce() async { await pull(deadline: nil) }

    /// One pull; a scheduled one records how long after its deadline the answer came.
    private func pull(deadline: Double?) async {
        do {
            try await transport.pull { [self] packets in
                if let deadline {
                    let delay = now - deadline
                    state.withLockedValue { s in
                        s.statistics.pullAnswerDelays.append(delay)
                        if s.statistics.pullAnswerDelays.count > 1024 { s.statistics.pullAnswerDelays.removeFirst() }
                    }
                }
                return packets.map { p in
                    let event = core.receive(p, now: now)
                    handle(event)
                    if case .unrecorded = event { return false }
                    return true
                }
            }
            state.withLockedValue { $0.statistics.pulls += 1 }
        } catch {
            // A pull refused or cut while stopping is not a failure of the link.
            if Task.isCancelled || state.withLockedValue({ $0.stopped }) { return }
            state.withLockedValue { $0.statistics.pullFailures += 1 }
            if case PullFailure.link(let cause) = error {
                // Not a passing fault: the provider cannot be authenticated, or does not take this client.
                logger.error("pull failed: the link to the provider did not authenticate: \(cause)")
            } else {
                logger.debug("pull failed: \(error)")
            }
        }
    }

    private func handle(_ event: ClientEvent) {
        switch event {
        case .message(let m):
            state.withLockedValue { $0.statistics.messagesReceived += 1 }
            continuation.yield(m)
        case .loopReturned(let rtt):
            state.withLockedValue { s in
                s.statistics.loopsReturned += 1
                s.statistics.loopRoundTrips.append(rtt)
                if s.statistics.loopRoundTrips.count > 1024 { s.statistics.loopRoundTrips.removeFirst() }
            }
        case .dummy: state.withLockedValue { $0.statistics.dummiesReceived += 1 }
        case .duplicate: state.withLockedValue { $0.statistics.duplicatesReceived += 1 }
        case .undecodable: state.withLockedValue { $0.statistics.undecodable += 1 }
        case .unrecorded:
            state.withLockedValue { $0.statistics.unrecorded += 1 }
            logger.error("the replay state is full: a pulled packet is left unacknowledged in the mailbox")
        }
    }
}
