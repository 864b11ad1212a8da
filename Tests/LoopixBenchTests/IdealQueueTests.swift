import Testing
@testable import LoopixBench

@Suite("Ideal queue (M/D/c)")
struct IdealQueueTests {
    @Test("one server: the mean latency is Pollaczek–Khinchine's S + ρS / (2(1 − ρ))")
    func pollaczekKhinchine() {
        for (rho, packets) in [(0.5, 50_000), (0.9, 300_000)] {
            let s = IdealQueue.latency(workers: 1, serviceTime: 1, load: rho, packets: packets)
            let expected = 1 + rho / (2 * (1 - rho))
            #expect(abs(s.mean - expected) / expected < 0.04, "ρ = \(rho): mean \(s.mean), theory \(expected)")
        }
    }

    @Test("the median at 90 % load is about 4 service times with one server and 2.4 with two")
    func medians() {
        let one = IdealQueue.latency(workers: 1, serviceTime: 1, load: 0.9, packets: 100_000)
        let two = IdealQueue.latency(workers: 2, serviceTime: 1, load: 0.9, packets: 100_000)
        #expect(one.p50 > 3.7 && one.p50 < 4.3, "M/D/1: \(one.p50)")
        #expect(two.p50 > 2.1 && two.p50 < 2.7, "M/D/2: \(two.p50)")
        // A lightly loaded queue rarely waits: the median is the service time itself.
        #expect(IdealQueue.latency(workers: 2, serviceTime: 1, load: 0.5, packets: 20_000).p50 == 1)
    }

    @Test("latency scales with the service time")
    func scales() {
        let a = IdealQueue.latency(workers: 2, serviceTime: 1, load: 0.8, packets: 20_000, seed: 7)
        let b = IdealQueue.latency(workers: 2, serviceTime: 100e-6, load: 0.8, packets: 20_000, seed: 7)
        // Equal to HdrHistogram's three significant digits.
        #expect(abs(b.p99 / 100e-6 - a.p99) < 2e-3 * a.p99)
    }
}
