// The scheduler's heap and the packet slab, alone.
@testable import LoopixNode
import Testing

@Suite("Timer heap and packet slab")
struct TimerHeapTests {
    @Test("the heap releases packets in due order and only when due")
    func order() {
        var heap = TimerHeap(reservingCapacity: 16)
        let dues = (0..<500).map { _ in UInt64.random(in: 0...1_000_000) }
        for (index, due) in dues.enumerated() {
            heap.push(ScheduledPacket(due: due, arrival: 0, ready: 0, slot: PacketSlot(index), delayMicroseconds: 0,
                                      target: 0, action: .relay, mailbox: .zero))
        }
        #expect(heap.popDue(now: dues.min()! - 1) == nil || dues.min()! == 0)
        var popped: [UInt64] = []
        while let packet = heap.popDue(now: .max) { popped.append(packet.due) }
        #expect(popped == dues.sorted())
    }

    @Test("the slab hands out each buffer once and takes them back")
    func slab() {
        let slab = PacketSlab(packetBytes: 100, capacity: 3)
        let slots = (0..<3).compactMap { _ in slab.acquire() }
        #expect(Set(slots).count == 3)
        #expect(slab.acquire() == nil)
        #expect(slab.inUse == 3)
        slab.buffer(slots[0]).initializeMemory(as: UInt8.self, repeating: 7)
        #expect(slab.buffer(slots[0]).count == 100)
        slab.release(slots)
        #expect(slab.inUse == 0)
    }
}
