// Drives the PIE controller from a timer on one event loop and publishes its decisions.
import NIOCore

/// Samples the crypto queue every `updateInterval`, updates the drop probability and the
/// sojourn-based packet limit, and refreshes the queue gauges. Confined to its event loop.
final class QueueController: @unchecked Sendable {
    // `@unchecked Sendable`: every mutable field is touched only on `eventLoop`.
    private let queue: CryptoQueue
    private let metrics: NodeMetrics
    private let slab: PacketSlab
    private let workers: Int
    private let eventLoop: any EventLoop
    private var controller: PIEController
    private var task: RepeatedTask?

    init(configuration: AQMConfiguration, queue: CryptoQueue, slab: PacketSlab, workers: Int,
         metrics: NodeMetrics, eventLoop: any EventLoop) {
        self.controller = PIEController(configuration: configuration)
        self.queue = queue
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
        let sojourn = max(queue.headAge(now: now), queue.intervalMaxSojourn.exchange(0, ordering: .relaxed))
        let probability = controller.update(queueDelay: Double(sojourn) / 1e9)
        queue.dropProbabilityBits.store(probability.bitPattern, ordering: .relaxed)
        queue.admitLimit.store(admitLimit(), ordering: .relaxed)
        metrics.dropProbability.record(controller.probability)
        metrics.cryptoQueueLength.record(queue.length.load(ordering: .relaxed))
        metrics.buffersInUse.record(slab.inUse)
    }

    /// The packets the workers clear within the sojourn limit, from the measured service time.
    private func admitLimit() -> Int {
        let limit = controller.configuration.sojournLimit
        let service = queue.serviceNanos.load(ordering: .relaxed)
        guard limit > 0, service > 0 else { return queue.hardLimit }
        let packets = limit * 1e9 / Double(service) * Double(workers)
        return max(2 * workers, min(queue.hardLimit, Int(packets)))
    }
}
