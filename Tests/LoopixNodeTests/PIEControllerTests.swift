// The AQM controller on synthetic traces: it must leave a light load alone, hold an overload
// near target while keeping the workers busy, and follow steps in load both ways.
import LoopixNode
import Testing

@Suite("PIE controller on synthetic traces")
struct PIEControllerTests {
    let simulation = QueueSimulation()
    var target: Double { simulation.configuration.targetDelay }

    @Test("steady load at half capacity: no early drops, short sojourn")
    func steadyLoad() {
        let r = simulation.run([.init(load: 0.5, seconds: 2)])
        #expect(r.aqmDrops + r.limitDrops == 0)
        #expect(r.sojournQuantile(0.99) < target)
        #expect(Double(r.served) >= 0.99 * Double(r.offered))
    }

    @Test("steady load at 90 %: hardly any drops")
    func highLoad() {
        let r = simulation.run([.init(load: 0.9, seconds: 2)])
        #expect(Double(r.aqmDrops + r.limitDrops) <= 0.01 * Double(r.offered))
    }

    @Test("overload 1.5x and 2x: goodput >= 95 % of capacity, p99 sojourn <= 2x target", arguments: [1.5, 2.0])
    func overload(load: Double) {
        let r = simulation.run([.init(load: load, seconds: 3)], measureFrom: 0.5)
        print("overload \(load): goodput \(r.goodputFraction) mean \(r.meanSojourn) p99 \(r.sojournQuantile(0.99)) p \(r.probabilityTrace.last!.probability) limit \(r.limitDrops)")
        #expect(r.goodputFraction >= 0.95)
        #expect(r.sojournQuantile(0.99) <= 2 * target)
        #expect(Double(r.limitDrops) < 0.03 * Double(r.offered), "the controller, not the hard limit, should carry the load")
        // The early drops, not the hard limit, shed the excess: 1 - 1/load of the offered load.
        let earlyDropFraction = Double(r.aqmDrops) / Double(r.offered)
        #expect(abs(earlyDropFraction - (1 - 1 / load)) < 0.05)
    }

    @Test("step 0.5x -> 2x -> 0.5x: probability rises within 200 ms, the tail stays bounded, and it returns to zero")
    func stepChanges() {
        let r = simulation.run([
            .init(load: 0.5, seconds: 0.5), .init(load: 2, seconds: 1), .init(load: 0.5, seconds: 1.5),
        ])
        let rise = r.probabilityTrace.first { $0.time > 0.5 && $0.probability > 0.1 }
        #expect(rise != nil)
        if let rise { #expect(rise.time - 0.5 < 0.2, "rose after \(rise.time - 0.5) s") }
        // Meanwhile the hard limits hold the tail.
        #expect(r.sojournQuantile(0.99) <= 2 * target)
        let late = r.probabilityTrace.filter { $0.time > 2.5 }
        #expect(late.allSatisfy { $0.probability < 0.01 }, "probability must decay after the overload")
        let fall = r.probabilityTrace.first { $0.time > 1.5 && $0.probability < 0.05 }
        if let fall { print("step: fell after \(fall.time - 1.5) s; rose after \(rise.map { $0.time - 0.5 } ?? -1) s") }
    }

    @Test("a short burst above capacity passes undropped within the burst allowance")
    func burstAllowance() {
        // 1 ms at 2x capacity after a calm period: it and its backlog pass within maxBurst (10 ms).
        let r = simulation.run([.init(load: 0.3, seconds: 0.5), .init(load: 2, seconds: 0.001), .init(load: 0.3, seconds: 0.2)])
        #expect(r.aqmDrops + r.limitDrops == 0)
    }

    @Test("the probability stays within 0...1 and is zero when the queue is empty")
    func bounds() {
        var controller = PIEController(configuration: AQMConfiguration())
        for _ in 0..<5000 { controller.update(queueDelay: 1) }
        #expect(controller.probability == 1)
        for _ in 0..<5000 { controller.update(queueDelay: 0) }
        #expect(controller.probability < 0.001)
        #expect(controller.effectiveProbability == 0)
    }
}
