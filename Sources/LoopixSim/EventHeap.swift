// A binary min-heap of timed events for the discrete-event simulations.

protocol TimedEvent {
    var time: Double { get }
}

struct EventHeap<Element: TimedEvent> {
    private(set) var items: [Element] = []

    init(capacity: Int = 0) { items.reserveCapacity(capacity) }

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var minTime: Double { items.isEmpty ? .infinity : items[0].time }
    var min: Element? { items.first }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) >> 1
            if items[parent].time <= e.time { break }
            items[i] = items[parent]
            i = parent
        }
        items[i] = e
    }

    @discardableResult
    mutating func pop() -> Element? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return first }
        let n = items.count
        var i = 0
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            let r = l + 1
            let c = (r < n && items[r].time < items[l].time) ? r : l
            if items[c].time >= last.time { break }
            items[i] = items[c]
            i = c
        }
        items[i] = last
        return first
    }
}
