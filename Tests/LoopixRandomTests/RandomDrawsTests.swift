// The draws every module takes: their means, their determinism, and the early stop of Poisson counts.
import LoopixRandom
import Testing

@Suite("Random draws")
struct RandomDrawsTests {
    @Test("Poisson draws and arrivals have the rates asked for")
    func poisson() {
        var random = SplitMix64(seed: 7)
        for mean in [0.5, 4, 60] {
            let n = 20000
            let total = (0..<n).reduce(0) { s, _ in s + random.poisson(mean: mean) }
            #expect(abs(Double(total) / Double(n) - mean) < 0.05 * mean + 0.02)
        }
        var arrivals = PoissonArrivals(seed: 3)
        var last = 0.0
        for _ in 0..<50000 { last = arrivals.next(rate: 1000) }
        #expect(abs(50000 / last - 1000) < 20)
    }

    @Test("a Poisson count with a limit is the same draw cut at the limit")
    func poissonLimit() {
        var a = SplitMix64(seed: 11), b = SplitMix64(seed: 11)
        for _ in 0..<2000 {
            let full = a.poisson(mean: 8)
            let cut = b.poisson(mean: 8, atMost: 5)
            #expect(cut == min(full, 5))
            b = a  // the cut draw took fewer variates; continue both from the same state
        }
        var c = SplitMix64(seed: 1)
        #expect(c.poisson(mean: 1e9, atMost: 3) == 3, "a huge mean costs only the limit")
    }

    @Test("exponential draws have mean 1/rate and never give infinity for a positive rate")
    func exponential() {
        var random = Xoshiro256(seed: 41)
        let n = 100_000
        var sum = 0.0
        for _ in 0..<n {
            let x = random.exponential(rate: 4)
            #expect(x.isFinite && x >= 0)
            sum += x
        }
        #expect(abs(sum / Double(n) - 0.25) <= 4.5 * 0.25 / Double(n).squareRoot())
        #expect(random.exponential(rate: 0) == .infinity)
    }

    @Test("the same seed gives the same draws; derived seeds differ per job")
    func determinism() {
        var a = Xoshiro256(seed: 5), b = Xoshiro256(seed: 5)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        #expect(deriveSeed(1, 0, 0) != deriveSeed(1, 0, 1) && deriveSeed(1, 1, 0) != deriveSeed(1, 0, 1))
        var r = SplitMix64(seed: 9)
        #expect((0..<1000).allSatisfy { _ in (0..<7).contains(r.index(below: 7)) })
    }
}
