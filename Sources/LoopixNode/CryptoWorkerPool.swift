// The crypto stage: a Dispatch pool of at most `workers` drainers that empty the crypto queue
// one packet at a time. Event loops only enqueue; workers never touch a socket.
import DequeModule
import Dispatch
import NIOConcurrencyHelpers

/// Runs `PacketWorker` over the crypto queue on up to `workers` threads at once.
final class CryptoWorkerPool: Sendable {
    let queue: CryptoQueue
    private let worker: PacketWorker
    private let workers: Int
    private let dispatch = DispatchQueue(label: "loopix.crypto", qos: .userInitiated, attributes: .concurrent)
    private let scratches: NIOLockedValueBox<[WorkerScratch]>

    init(queue: CryptoQueue, worker: PacketWorker, workers: Int) {
        self.queue = queue
        self.worker = worker
        self.workers = workers
        self.scratches = NIOLockedValueBox((0..<workers).map { _ in WorkerScratch() })
    }

    /// Moves a batch from an event loop into the queue, as much as fits, and wakes idle workers;
    /// what did not fit stays in `batch`.
    func submit(_ batch: inout RigidDeque<QueuedPacket>, counted: (Int) -> Void = { _ in }) {
        let start = queue.append(from: &batch, maxWorkers: workers, counted: counted)
        for _ in 0..<start {
            dispatch.async { self.drain() }
        }
    }

    private func drain() {
        // A worker that just stopped may not have put its scratch back yet: then make one.
        let scratch = scratches.withLockedValue { $0.popLast() } ?? WorkerScratch()
        defer { scratches.withLockedValue { $0.append(scratch) } }
        while true {
            // Nothing left to take: wake the loops for waiting results before the queue counts
            // this worker idle.
            if queue.length == 0 { worker.wakeSchedulers() }
            guard let packet = queue.take() else { break }
            worker.process(packet, scratch)
        }
        // Another worker took the last packet between the check and the take.
        worker.wakeSchedulers()
        worker.publishCounts(scratch)
    }
}
