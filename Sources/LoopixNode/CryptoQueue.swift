// The queue between the event loops and the crypto workers, with the state admission reads
// without taking its lock.
import Atomics
import DequeModule
import NIOConcurrencyHelpers

/// An admitted packet waiting for a worker.
struct QueuedPacket: Sendable {
    var slot: PacketSlot
    /// Monotonic nanoseconds when it was read from the wire.
    var arrival: UInt64
}

/// A bounded FIFO of admitted packets plus the admission state derived from it: the current
/// length, the drop probability and the limit in packets, all readable lock-free.
///
/// `@unchecked Sendable`: `entries` and `activeWorkers` are only touched under `lock`; the rest
/// are atomics or immutable.
final class CryptoQueue: @unchecked Sendable {
    let hardLimit: Int
    private let lock = NIOLock()
    private var entries: Deque<QueuedPacket>
    private var activeWorkers = 0

    /// Mirror of the length, updated under the lock, read by admission without it.
    let length = ManagedAtomic<Int>(0)
    /// The limit admission applies now (the hard limit or less, from the sojourn limit).
    let admitLimit: ManagedAtomic<Int>
    /// The AQM's effective drop probability, as the bit pattern of a Double.
    let dropProbabilityBits = ManagedAtomic<UInt64>(0)
    /// The longest sojourn seen by a worker since the controller last looked, in nanoseconds.
    let intervalMaxSojourn = ManagedAtomic<UInt64>(0)
    /// A moving average of one packet's processing time on one worker, in nanoseconds.
    let serviceNanos = ManagedAtomic<UInt64>(0)
    /// Packets the workers have finished, ever (the controller derives the drain rate from it).
    let completed = ManagedAtomic<Int>(0)

    init(hardLimit: Int) {
        self.hardLimit = hardLimit
        self.entries = Deque(minimumCapacity: hardLimit)
        self.admitLimit = ManagedAtomic(hardLimit)
    }

    /// Appends what fits under the hard limit; returns how many of `batch` were taken (a prefix).
    /// Also returns how many workers the caller should start (the queue counts them as active).
    func append(_ batch: [QueuedPacket], maxWorkers: Int) -> (accepted: Int, workersToStart: Int) {
        lock.withLock {
            let accepted = min(batch.count, hardLimit - entries.count)
            if accepted > 0 { entries.append(contentsOf: batch[..<accepted]) }
            length.store(entries.count, ordering: .relaxed)
            let start = max(0, min(maxWorkers - activeWorkers, entries.count))
            activeWorkers += start
            return (accepted, start)
        }
    }

    /// The oldest queued packet; when the queue is empty, the calling worker is counted as
    /// stopped and nil is returned. One packet at a time: a packet held by a worker but not yet
    /// processed would wait unseen by admission and by the controller.
    func take() -> QueuedPacket? {
        lock.withLock {
            guard let packet = entries.popFirst() else {
                activeWorkers -= 1
                return nil
            }
            length.store(entries.count, ordering: .relaxed)
            return packet
        }
    }

    /// How long the oldest queued packet has waited, in nanoseconds (0 when empty).
    func headAge(now: UInt64) -> UInt64 {
        lock.withLock {
            guard let head = entries.first else { return 0 }
            return now &- head.arrival
        }
    }

    /// True when no packet is queued and no worker is busy.
    var isIdle: Bool {
        lock.withLock { entries.isEmpty && activeWorkers == 0 }
    }

    /// Empties the queue (shutdown); returns the packets for the caller to release and count.
    func removeAll() -> [QueuedPacket] {
        lock.withLock {
            let all = Array(entries)
            entries.removeAll()
            length.store(0, ordering: .relaxed)
            return all
        }
    }

    /// The drop probability admission applies now.
    var dropProbability: Double {
        Double(bitPattern: dropProbabilityBits.load(ordering: .relaxed))
    }

    /// Records a worker's sojourn sample for the controller.
    @inline(__always)
    func noteSojourn(_ nanos: UInt64) {
        var current = intervalMaxSojourn.load(ordering: .relaxed)
        while nanos > current {
            let (exchanged, original) = intervalMaxSojourn.compareExchange(
                expected: current, desired: nanos, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
    }

    /// Folds one packet's processing time (wall clock, so time the worker spent descheduled
    /// counts) into the moving average (weight 1/16).
    @inline(__always)
    func noteServiceTime(_ nanos: UInt64) {
        let old = serviceNanos.load(ordering: .relaxed)
        serviceNanos.store(old == 0 ? nanos : old - old / 16 + nanos / 16, ordering: .relaxed)
    }
}
