// The delay scheduler's priority queue.
import BasicContainers

/// A binary min-heap of scheduled packets ordered by due time; grows to its high-water mark once
/// and then never allocates.
struct TimerHeap: ~Copyable {
    private var storage: UniqueArray<ScheduledPacket>

    init(reservingCapacity capacity: Int) {
        storage = UniqueArray(minimumCapacity: capacity)
    }

    var count: Int { storage.count }
    var isEmpty: Bool { storage.isEmpty }
    /// The earliest due time, if any.
    var earliestDue: UInt64? { storage.isEmpty ? nil : storage[0].due }

    mutating func push(_ packet: consuming ScheduledPacket) {
        storage.append(packet)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard storage[child].due < storage[parent].due else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest packet if it is due at `now`.
    mutating func popDue(now: UInt64) -> ScheduledPacket? {
        guard let due = earliestDue, due <= now else { return nil }
        return popFirst()
    }

    mutating func popFirst() -> ScheduledPacket? {
        guard !storage.isEmpty else { return nil }
        let last = storage.count - 1
        storage.swapAt(0, last)
        let top = storage.removeLast()
        var parent = 0
        let n = storage.count
        while true {
            let left = 2 * parent + 1
            guard left < n else { break }
            let right = left + 1
            let smaller = right < n && storage[right].due < storage[left].due ? right : left
            guard storage[smaller].due < storage[parent].due else { break }
            storage.swapAt(smaller, parent)
            parent = smaller
        }
        return top
    }
}
