// The scheduler's heap and the packet slab, alone.
@testable import LoopixNode
import Testing

@Suite("Timer heap and packet slab")
struct TimerHeapTests {
    @Test("the heap releases packets in due order and only when due")
    func order() {
        let slab = PacketSlab(packetBytes: 16, capacity: 500)
        var heap = TimerHeap(reservingCapacity: 16)
        let dues = (0..<500).map { _ in UInt64.random(in: 1...1_000_000) }
        for due in dues {
            guard let buffer = slab.acquire() else {
                Issue.record("the slab ran out at \(slab.inUse) of 500")
                return
            }
            heap.push(ScheduledPacket(due: due, arrival: 0, ready: 0, buffer: buffer, delayMicroseconds: 0, destination: .deliver(.zero)))
        }
        var early = false
        if heap.popDue(now: dues.min()! - 1) != nil { early = true }
        #expect(!early, "nothing is due before the earliest due time")
        var popped: [UInt64] = []
        while let packet = heap.popDue(now: .max) { popped.append(packet.due) }
        #expect(popped == dues.sorted())
        #expect(slab.inUse == 0, "every popped packet's buffer went back when it was let go")
    }

    @Test("the slab hands out each buffer once and takes it back when its handle is let go")
    func slab() {
        let slab = PacketSlab(packetBytes: 100, capacity: 3)
        guard let a = slab.acquire(), let b = slab.acquire(), let c = slab.acquire() else {
            Issue.record("a slab of three did not hand out three buffers")
            return
        }
        #expect(Set([a.slot, b.slot, c.slot]).count == 3)
        var fourth = false
        if slab.acquire() != nil { fourth = true }
        #expect(!fourth, "a full slab hands out nothing")
        #expect(slab.inUse == 3)
        a.bytes.initializeMemory(as: UInt8.self, repeating: 7)
        #expect(a.bytes.count == 100)
        #expect(a.bytes.baseAddress != b.bytes.baseAddress)
        _ = consume b
        #expect(slab.inUse == 2)
        _ = consume a
        _ = consume c
        #expect(slab.inUse == 0)
    }
}
