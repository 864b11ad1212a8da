import LoopixBench
import Testing

@Suite("Node benchmark targets")
struct NodeTargetsTests {
    private func step(_ epoch: UInt64, full: Double = 0, rss: Double) -> EpochStep {
        EpochStep(epoch: epoch, offered: 1000, relayed: 990, drops: full > 0 ? ["replay_filter_full": full, "aqm": 3] : ["aqm": 3],
                  previousKey: 10, rssMaxMB: rss, rssEndMB: rss)
    }

    private func targets(_ steps: [EpochStep], share: Double = 0.005) -> [NodeTarget] {
        NodeTargets.evaluate(sweeps: [], soak: nil, mainWorkers: 1, epochMachineryShare: share,
                             epochs: EpochsPhaseResult(epochSeconds: 5, grace: 1, rate: 1000, ratedPacketsPerSecond: 1000, steps: steps))
    }

    @Test("the epochs phase is met only with no full-filter drop and flat memory after the first epoch")
    func epochsPhase() {
        let flat = [step(4, rss: 30), step(5, rss: 41), step(6, rss: 41.5)]
        #expect(EpochsPhaseResult(epochSeconds: 5, grace: 1, rate: 1, ratedPacketsPerSecond: 1, steps: flat).rssDriftMB == 0.5)
        let flatTargets = targets(flat)
        #expect(flatTargets.filter { !$0.met }.isEmpty)
        let full = [step(4, rss: 41), step(5, full: 1, rss: 41), step(6, rss: 41)]
        let fullFailed = targets(full).filter { !$0.met }.map(\.name)
        #expect(fullFailed == ["3 key epochs of 5 s at capacity: replay_filter_full drops"])
        let growing = [step(4, rss: 41), step(5, rss: 45), step(6, rss: 49)]
        let growingFailed = targets(growing).filter { !$0.met }.map(\.name)
        #expect(growingFailed == ["3 key epochs of 5 s at capacity: RSS change between epoch ends"])
    }

    @Test("the epoch machinery's share of a packet is judged against 2 %")
    func epochShare() {
        let below = targets([], share: 0.019).first { $0.name.hasPrefix("epoch machinery") }
        let above = targets([], share: 0.021).first { $0.name.hasPrefix("epoch machinery") }
        #expect(below?.met == true)
        #expect(above?.met == false)
    }
}
