// The queue between the event loops and the crypto workers.
import Atomics
import DequeModule
import Synchronization

/// An admitted packet waiting for a worker.
struct QueuedPacket: ~Copyable, Sendable {
    var buffer: PacketBuffer
    /// Monotonic nanoseconds when it was read from the wire.
    var arrival: UInt64
    /// The sending peer's slot in `PeerShares` (0: none).
    var peer: UInt32 = 0
}

/// A bounded FIFO of admitted packets, and how many workers are draining it. Its length is
/// mirrored in an atomic so that admission can read it without the lock.
final class CryptoQueue: Sendable {
    private struct State: ~Copyable {
        var entries: RigidDeque<QueuedPacket>
        var activeWorkers = 0
    }

    let hardLimit: Int
    private let state: Mutex<State>
    private let lengthValue = ManagedAtomic<Int>(0)

    init(hardLimit: Int) {
        self.hardLimit = hardLimit
        self.state = Mutex(State(entries: RigidDeque(capacity: hardLimit)))
    }

    /// Packets waiting, read without the lock (it may be a moment old).
    var length: Int { lengthValue.load(ordering: .relaxed) }

    /// Moves packets from the front of `batch` while they fit under the hard limit; what does not
    /// fit stays in `batch`. Returns how many workers the caller should start (the queue counts
    /// them as active from now on).
    func append(from batch: inout RigidDeque<QueuedPacket>, maxWorkers: Int, counted: (Int) -> Void = { _ in }) -> Int {
        state.withLock { state in
            var moved = 0
            while !state.entries.isFull, let packet = batch.popFirst() {
                state.entries.append(packet)
                moved += 1
            }
            // Counted before a worker can take them (and count them out).
            counted(moved)
            lengthValue.store(state.entries.count, ordering: .relaxed)
            let start = max(0, min(maxWorkers - state.activeWorkers, state.entries.count))
            state.activeWorkers += start
            return start
        }
    }

    /// The oldest queued packet; when the queue is empty, the calling worker is counted as
    /// stopped and nil is returned. One packet at a time: a packet held by a worker but not yet
    /// processed would wait unseen by admission and by the controller.
    func take() -> QueuedPacket? {
        state.withLock { state in
            guard let packet = state.entries.popFirst() else {
                state.activeWorkers -= 1
                return nil
            }
            lengthValue.store(state.entries.count, ordering: .relaxed)
            return packet
        }
    }

    /// How long the oldest queued packet has waited, in nanoseconds (0 when empty).
    func headAge(now: UInt64) -> UInt64 {
        state.withLock { state in
            guard !state.entries.isEmpty else { return 0 }
            return now &- state.entries[state.entries.startIndex].arrival
        }
    }

    /// True when no packet is queued and no worker is busy.
    var isIdle: Bool {
        state.withLock { $0.entries.isEmpty && $0.activeWorkers == 0 }
    }

    /// Empties the queue (shutdown), letting go of every packet; returns how many there were.
    func removeAll() -> Int {
        state.withLock { state in
            let count = state.entries.count
            state.entries.removeAll()
            lengthValue.store(0, ordering: .relaxed)
            return count
        }
    }
}
