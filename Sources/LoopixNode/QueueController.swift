// Drives the PIE controller from a timer on one event loop and publishes its decisions.
import NIOCore

/// Samples the crypto queue every `updateInterval`, updates the drop probability and the
/// sojourn-based packet limit, and refreshes the queue gauges. Confined to its event loop.
final class QueueController: @unchecked Sendable {
    // `@unchecked Sendable`: every mutable field is touched only on `eventLoop`.
    private let queue: CryptoQueue
    private let admission: AdmissionState
    private let metrics: NodeMetrics
    private let slab: PacketSlab
    private let workers: Int
    private let eventLoop: any EventLoop
    private var controller: PIEController
    /// Packets per second the workers really clear while backlogged (a moving average), 0 until
    /// measured: on a machine they share with other work they clear fewer than their service
    /// time promises.
    private var drainRate = 0.0
    /// How much the interval rates scatter around it (moving average of squared deviations).
    private var drainVariance = 0.0
    private var lastTick: (time: UInt64, completed: Int, length: Int)?
    private var task: RepeatedTask?

    init(configuration: AQMConfiguration, queue: CryptoQueue, admission: AdmissionState, slab: PacketSlab,
         workers: Int, metrics: NodeMetrics, eventLoop: any EventLoop) {
        self.controller = PIEController(configuration: configuration)
        self.queue = queue
        self.admission = admission
        self.slab = slab
        self.workers = workers
        self.metrics = metrics
        self.eventLoop = eventLoop
    }

    func start() {
        let interval = TimeAmount.nanoseconds(Int64(controller.configuration.updateInterval * 1e9))
        eventLoop.execute {
            self.task = self.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                self.tick()
            }
        }
    }

    func stop() {
        eventLoop.execute { self.task?.cancel() }
    }

    private func tick() {
        let now = monotonicNanoseconds()
        let sojourn = max(queue.headAge(now: now), admission.takeIntervalMaxSojourn())
        noteDrain(now: now)
        admission.dropProbability = controller.update(queueDelay: Double(sojourn) / 1e9)
        admission.admitLimit = admitLimit()
        metrics.dropProbability.record(controller.probability)
        metrics.cryptoQueueLength.record(queue.length)
        metrics.buffersInUse.record(slab.inUse)
    }

    /// Measures the drain rate over the last interval if the queue held work for every worker
    /// at both ends of it.
    private func noteDrain(now: UInt64) {
        let completed = admission.completed
        let length = queue.length
        if let last = lastTick, last.length >= workers, length >= workers, now > last.time {
            let rate = Double(completed &- last.completed) / (Double(now - last.time) / 1e9)
            if drainRate == 0 {
                drainRate = rate
            } else {
                let deviation = rate - drainRate
                drainRate = drainRate * 7 / 8 + rate / 8
                drainVariance = drainVariance * 7 / 8 + deviation * deviation / 8
            }
        }
        lastTick = (now, completed, length)
    }

    /// The packets the workers clear within the sojourn limit: from the measured drain rate once
    /// there is one, from the workers' service time before. The rate counted on is one standard
    /// deviation below the average (at least half of it): a packet admitted now waits through
    /// whatever the workers drain next, and where they are descheduled now and then, that is
    /// often less than the average. Workers that always get their cores scatter little, and
    /// keep nearly the whole limit.
    private func admitLimit() -> Int {
        let service = admission.serviceNanos
        guard service > 0 else { return queue.hardLimit }
        var perPacket = Double(service) / 1e9
        if drainRate > 0 {
            let dependable = max(drainRate / 2, drainRate - drainVariance.squareRoot())
            perPacket = max(perPacket, Double(workers) / dependable)
        }
        return controller.configuration.admissionLimit(
            servicePerPacket: perPacket, workers: workers, burstAllowance: controller.burstAllowance)
    }
}
