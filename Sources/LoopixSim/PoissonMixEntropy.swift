// Single Poisson mix: event-driven simulation and the adversary's entropy for
// each outgoing message (paper section 4.1.3, Appendix A.1, Theorem 2).
//
// The mix receives a Poisson(lambda) stream; each message is held for an
// independent Exp(mu) delay (a heap of real departure times). The mix may also
// emit its own loop cover messages as a Poisson(loopRate) stream (lambda_M).
//
// The adversary sees every arrival and every departure. Because delays are
// memoryless, at a departure every real message inside is equally likely to be
// the one leaving (Theorem 1), so the adversary's belief about which input an
// outgoing message is equals the average of the beliefs of the messages in the
// pool. Its entropy is tracked incrementally with the merge formula of
// Appendix A.1 (`Entropy.merged`): O(1) per event, no history kept.
//
// With loops, the next output is a loop with probability
// lambda_M / (lambda_M + n mu) when n real messages are inside (Theorem 2's
// proof), so the outgoing message's distribution is {loop: pL} plus (1 - pL)
// times the pool distribution, with entropy h2(pL) + (1 - pL) H_pool.
// Conservatively, the adversary is assumed to know n at every instant (as in
// the observation o_{n,k,l}); hence after each output it learns whether it was
// a loop, and the pool is only depleted by real departures.
//
// That backward entropy counts "loop" as one outcome, so with many loops it can
// fall even though linking gets harder. The effect of loops is therefore also
// measured by the probability the adversary assigns to the true input of a real
// outgoing message, (1 - pL) w_true, whose expectation given the state is
// (1 - pL) sum_i w_i^2; the collision sum sum_i w_i^2 merges like the entropy:
// c = (l/(l+k))^2 c_old + k/(l+k)^2.
import Foundation
import LoopixRandom

public struct MixEntropyConfig: Sendable, Codable, Hashable {
    /// Rate of incoming (adversary-visible) messages.
    public var lambda: Double
    /// Delay parameter: each message is delayed by Exp(mu), mean 1/mu.
    public var mu: Double
    /// lambda_M: rate of the mix's own loop messages (0 = none).
    public var loopRate: Double
    /// Warm-up length, in mean delays 1/mu, discarded before measuring.
    public var warmupDelays: Double
    /// Measurement length, in mean delays 1/mu (at least `minMeasuredOutputs` outputs on average).
    public var measureDelays: Double
    public var minMeasuredOutputs: Int

    public init(lambda: Double, mu: Double, loopRate: Double = 0,
                warmupDelays: Double = 8, measureDelays: Double = 4, minMeasuredOutputs: Int = 5000) {
        self.lambda = lambda
        self.mu = mu
        self.loopRate = loopRate
        self.warmupDelays = warmupDelays
        self.measureDelays = measureDelays
        self.minMeasuredOutputs = minMeasuredOutputs
    }

    var warmupTime: Double { warmupDelays / mu }
    var measureTime: Double {
        max(measureDelays / mu, Double(minMeasuredOutputs) / max(lambda + loopRate, 1e-12))
    }
}

public struct MixEntropyResult: Sendable, Codable {
    /// Mean entropy (bits) of the adversary's distribution over all outgoing messages in the window.
    public var meanEntropyBits: Double
    /// The same, over outgoing real messages only.
    public var meanEntropyRealBits: Double
    public var outputs: Int
    public var realOutputs: Int
    /// Mean, over real outgoing messages, of the probability the adversary gives
    /// to the true input (Theorem 2's link probability averaged over the trace).
    public var meanLinkProbabilityReal: Double
    /// Time-average number of real messages in the mix during the window.
    public var meanPoolSize: Double
    public var events: Int
}

public enum PoissonMixEntropy {
    struct Departure: TimedEvent { var time: Double }

    /// One simulation run.
    public static func run(_ c: MixEntropyConfig, seed: UInt64) -> MixEntropyResult {
        precondition(c.lambda > 0 && c.mu > 0 && c.loopRate >= 0)
        var rng = Xoshiro256(seed: seed)
        let warm = c.warmupTime
        let end = warm + c.measureTime
        var heap = EventHeap<Departure>(capacity: Int(c.lambda / c.mu * 1.5) + 16)

        // Start at the M/M/inf stationary occupancy, Poisson(lambda/mu), with
        // fresh Exp(mu) residual delays (memorylessness); the adversary sees
        // them as arrivals at time 0. The warm-up washes out that history.
        let initial = rng.poisson(mean: c.lambda / c.mu)
        for _ in 0..<initial { heap.push(Departure(time: rng.exponential(rate: c.mu))) }

        // Adversary state (Appendix A.1): `oldCount` messages share a normalised
        // distribution of entropy `oldEntropy`; `fresh` messages arrived since.
        var oldCount = 0
        var oldEntropy = 0.0
        var oldCollision = 0.0
        var fresh = initial

        var t = 0.0
        var nextArrival = rng.exponential(rate: c.lambda)
        var nextLoop = rng.exponential(rate: c.loopRate)
        var sumH = 0.0, sumHReal = 0.0, sumLink = 0.0
        var outputs = 0, realOutputs = 0
        var poolArea = 0.0
        var events = 0

        while true {
            let td = heap.minTime
            let tn = min(nextArrival, td, nextLoop)
            if tn > end { break }
            if tn > warm { poolArea += Double(heap.count) * (tn - max(t, warm)) }
            t = tn
            events += 1
            if tn == nextArrival {
                fresh += 1
                heap.push(Departure(time: t + rng.exponential(rate: c.mu)))
                nextArrival = t + rng.exponential(rate: c.lambda)
                continue
            }
            let isLoop = tn == nextLoop && tn < td
            let n = heap.count // = oldCount + fresh real messages inside
            let hPool = Entropy.merged(old: Double(oldCount), oldEntropy: oldEntropy, fresh: fresh)
            let total = Double(oldCount + fresh)
            let collision = total > 0
                ? (Double(oldCount) * Double(oldCount) * oldCollision + Double(fresh)) / (total * total) : 0
            var hOut = hPool
            var pLoop = 0.0
            if c.loopRate > 0 {
                pLoop = c.loopRate / (c.loopRate + Double(n) * c.mu)
                hOut = Entropy.h2(pLoop) + (1 - pLoop) * hPool
            }
            if t > warm {
                sumH += hOut
                outputs += 1
                if !isLoop {
                    sumHReal += hOut
                    sumLink += (1 - pLoop) * collision
                    realOutputs += 1
                }
            }
            if isLoop {
                oldCount = n
                nextLoop = t + rng.exponential(rate: c.loopRate)
            } else {
                heap.pop()
                oldCount = n - 1
            }
            oldEntropy = oldCount > 0 ? hPool : 0
            oldCollision = oldCount > 0 ? collision : 0
            fresh = 0
        }
        if end > warm { poolArea += Double(heap.count) * (end - max(t, warm)) }
        return MixEntropyResult(
            meanEntropyBits: outputs > 0 ? sumH / Double(outputs) : 0,
            meanEntropyRealBits: realOutputs > 0 ? sumHReal / Double(realOutputs) : 0,
            outputs: outputs, realOutputs: realOutputs,
            meanLinkProbabilityReal: realOutputs > 0 ? sumLink / Double(realOutputs) : 0,
            meanPoolSize: poolArea / (end - warm), events: events)
    }

    /// Large-pool approximation of the stationary entropy without loops, in bits:
    /// the outgoing message is an input of age a with density mu e^{-mu a} spread
    /// over lambda da inputs, whose entropy is log2(lambda/mu) + log2(e).
    public static func largePoolApproximation(lambda: Double, mu: Double) -> Double {
        Foundation.log2(lambda / mu) + Entropy.log2e
    }
}
