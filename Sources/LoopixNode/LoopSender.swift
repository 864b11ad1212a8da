// A mix's own loop traffic: Poisson emission at rate λM (higher while the loop alarm is raised),
// each loop through the other layers and a provider back to this mix.
import Dispatch
import Logging
import LoopixNetwork
import LoopixRandom
import LoopixSphinx
import NIOCore

/// Emits loop packets and evaluates the loop monitor once a second; timers on one event loop,
/// packet creation (crypto) on a Dispatch queue.
///
/// `@unchecked Sendable`: mutable fields are touched only on `eventLoop`.
final class LoopSender: @unchecked Sendable {
    private let me: NodeID
    private let epochs: EpochStates
    private let monitor: LoopMonitor
    private let schedulers: [DelayScheduler]
    private let slab: PacketSlab
    private let metrics: NodeMetrics
    private let logger: Logger
    private let eventLoop: any EventLoop
    private let alarmMultiplier: Double
    private let crypto = DispatchQueue(label: "loopix.loops", qos: .utility)
    private var nextLoop: Scheduled<Void>?
    private var evaluation: RepeatedTask?
    private var running = false
    private var wasAlarmed = false

    init(me: NodeID, epochs: EpochStates, monitor: LoopMonitor, schedulers: [DelayScheduler],
         slab: PacketSlab, metrics: NodeMetrics, logger: Logger, eventLoop: any EventLoop, alarmMultiplier: Double) {
        self.me = me
        self.epochs = epochs
        self.monitor = monitor
        self.schedulers = schedulers
        self.slab = slab
        self.metrics = metrics
        self.logger = logger
        self.eventLoop = eventLoop
        self.alarmMultiplier = alarmMultiplier
    }

    func start() {
        eventLoop.execute {
            self.running = true
            self.scheduleNext()
            self.evaluation = self.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                self.evaluate()
            }
        }
    }

    func stop() {
        eventLoop.execute {
            self.running = false
            self.nextLoop?.cancel()
            self.evaluation?.cancel()
        }
    }

    /// The current loop rate: λM, multiplied while the alarm is raised (the countermeasure).
    private var rate: Double {
        epochs.current.topology.parameters.mixLoopRate * (monitor.isAlarmed ? alarmMultiplier : 1)
    }

    private func scheduleNext() {
        guard running, rate > 0 else { return }
        let wait = Double.exponential(rate: rate)
        nextLoop = eventLoop.scheduleTask(in: .nanoseconds(Int64(wait * 1e9))) {
            self.emit()
            self.scheduleNext()
        }
    }

    private func emit() {
        var generator = SystemRandomNumberGenerator()
        let epoch = epochs.current
        let topology = epoch.topologyForSending()
        guard let path = try? topology.loopPath(from: me, using: &generator), path.count >= 2,
            let firstHop = epoch.links[path[0].id]
        else { return }
        let id = SphinxAddress.random()
        var route: [RouteHop] = []
        for (position, node) in path.enumerated() {
            let command: RoutingCommand =
                position == path.count - 1
                ? .final(messageID: id)
                : .relay(next: path[position + 1].id,
                         delayMicroseconds: topology.parameters.drawHopDelayMicroseconds(using: &generator))
            route.append(RouteHop(publicKey: node.publicKey, command: command))
        }
        let geometry = topology.parameters.geometry
        crypto.async { [route] in
            guard let buffer = self.slab.acquire() else {
                self.metrics.drop(.noBuffer)
                return
            }
            do {
                try Sphinx.createPacket(geometry: geometry, route: route, message: [], into: buffer.bytes)
            } catch {
                self.logger.error("cannot build a loop packet", metadata: ["error": "\(error)"])
                return
            }
            // The loop leaves through the delay scheduler of its first hop's link, at once.
            let now = monotonicNanoseconds()
            self.monitor.recordSent(id, at: now)
            self.schedulers[firstHop.link.schedulerIndex].handOver(ScheduledPacket(
                due: now, arrival: now, ready: now, buffer: buffer, delayMicroseconds: 0, destination: .relay(firstHop)),
                backlog: 0)
            self.metrics.loopsSent.increment()
        }
    }

    private func evaluate() {
        let verdict = monitor.evaluate(now: monotonicNanoseconds())
        if let ratio = verdict.ratio { metrics.loopReturnRatio.record(ratio) }
        metrics.loopAlarm.record(verdict.alarmed ? 1 : 0)
        if verdict.alarmed != wasAlarmed {
            wasAlarmed = verdict.alarmed
            if verdict.alarmed {
                metrics.loopAlarms.increment()
                logger.warning("loop return ratio below threshold: raising cover traffic", metadata: [
                    "ratio": "\(verdict.ratio ?? 0)", "threshold": "\(epochs.current.topology.parameters.loopReturnThreshold)",
                    "loops": "\(verdict.judged)",
                ])
                // The rate change takes effect from the next emission; cut the current wait short.
                nextLoop?.cancel()
                scheduleNext()
            } else {
                logger.notice("loop return ratio back above threshold", metadata: ["ratio": "\(verdict.ratio ?? 0)"])
            }
        }
    }
}
