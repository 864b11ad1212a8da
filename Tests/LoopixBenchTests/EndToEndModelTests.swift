// The model `bench e2e` judges loop round trips against: without measured parts it is the
// paper's Gamma plus the pull wait, and measured parts add to it as given.
import LoopixBench
import LoopixMetrics
import Testing

@Suite("End-to-end model")
struct EndToEndModelTests {
    let noOverhead = BucketHistogram(bounds: [], cumulative: [])

    @Test("with no overhead, commit or pull time the model is Gamma(hops, 1/µ) plus U(0, interval)")
    func reducesToGammaPlusUniform() {
        let model = EndToEndModel(hops: 5, meanDelay: 0.05, pullInterval: 0.05, hopOverheads: [], commitDelay: noOverhead,
                                  pullAnswerDelays: [])
        let (totals, means) = model.simulate(count: 100_000, seed: 1)
        #expect(abs(means.mixing - 0.25) < 0.003 && abs(means.pullWait - 0.025) < 0.0005)
        #expect(means.overhead == 0 && means.commit == 0 && means.pullAnswer == 0)
        let g = GammaDistribution(shape: 5, scale: 0.05)
        // Every 50th of the sorted draws: 2,000 values spread over the whole distribution.
        let d = kolmogorovSmirnov(stride(from: 0, to: totals.count, by: 50).map { totals[$0] }) {
            gammaPlusUniformCDF(g, wait: 0.05, at: $0)
        }
        #expect(kolmogorovSmirnovPValue(d, count: totals.count / 50) > 0.01, "D = \(d)")
    }

    @Test("measured parts add their means, drawn from the histograms and samples given")
    func partsAdd() {
        // Every overhead in the 1-2 ms bucket, every commit in 4-6 ms, every pull answer 3 ms.
        let overhead = BucketHistogram(bounds: [0.001, 0.002, .infinity], cumulative: [0, 100, 100])
        let commit = BucketHistogram(bounds: [0.004, 0.006, .infinity], cumulative: [0, 10, 10])
        let model = EndToEndModel(hops: 5, meanDelay: 0.05, pullInterval: 0.05, hopOverheads: Array(repeating: overhead, count: 5),
                                  commitDelay: commit, pullAnswerDelays: [0.003])
        let (_, means) = model.simulate(count: 20_000, seed: 2)
        #expect(abs(means.overhead - 5 * 0.0015) < 0.0001)
        #expect(abs(means.commit - 0.005) < 0.0001)
        #expect(abs(means.pullAnswer - 0.003) < 1e-12)
        #expect(abs(means.total - (0.25 + 0.0075 + 0.005 + 0.025 + 0.003)) < 0.003)
    }

    @Test("pooled histograms add their counts bucket by bucket")
    func pooled() {
        let a = BucketHistogram(bounds: [0.001, .infinity], cumulative: [3, 4])
        let b = BucketHistogram(bounds: [0.001, .infinity], cumulative: [1, 6])
        let p = BucketHistogram.pooled([a, b, BucketHistogram(bounds: [], cumulative: [])])
        #expect(p.cumulative == [4, 10])
    }
}
