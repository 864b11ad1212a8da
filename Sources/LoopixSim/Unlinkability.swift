// End-to-end sender-receiver unlinkability epsilon (paper section 4.3).
//
// U senders (including two challenge senders S0 and S1) each emit messages as a
// Poisson(lambda) stream into a stratified network of `layers` layers of
// `width` Poisson mixes; every message picks one mix per layer uniformly at
// random and is delayed Exp(mu) at each. S0 and S1 add one payload message to
// their buffers every 1/challengePayloadRate time units; when their Poisson
// clock fires they send a payload if the buffer is not empty (labelled S0 or
// S1), otherwise a cover message (unlabelled). Everything else is unlabelled.
//
// The adversary tracks, at every mix, the probability mass of labels S0 and S1
// in its pool (Theorem 1): an arrival adds the message's label distribution; an
// honest mix emits the pool average and scales the pool by (n-1)/n; a corrupt
// mix emits the message with the distribution it came in with.
//
// After a burn-in (challenge senders silent) and a window in which S0 and S1
// send, a final-layer mix is picked at random and, treating it as honest,
// epsilon = |ln(p0 / p1)| from its pool's label masses (equation 3). epsilon is
// +infinity when only one of the two labels has mass there (the adversary
// excludes one sender) and undefined (NaN) when neither has.
//
// Reading instant: both challenge senders add payloads at the same instants, one
// period 1/challengePayloadRate apart, so the challenge mass in the last layer
// rises and falls with that period, and when the mean path delay is shorter than
// a period epsilon depends on where in it the pools are read (0.274 at the end of
// a 100-unit window, 0.091 at 100.5, for lambda 16 and mu 6.296). By default the
// pools are read at a uniformly random point of the period after the window, so
// epsilon is the average over reading instants; `randomReadingInstant = false`
// reads at the end of the window exactly, as before.
//
// Burn-in: the paper uses 2500 time units. Here each mix starts instead in the
// exact stationary state of the background traffic: a network of M/M/inf nodes
// fed by Poisson traffic has independent Poisson(rate/mu) occupancies, and the
// residual delays are fresh Exp(mu) by memorylessness. A short burn-in then
// suffices (default 50, `--burn-in 2500` reproduces the paper's setting).
import Foundation
import LoopixRandom

public struct UnlinkabilityConfig: Sendable, Codable, Hashable {
    public var users: Int = 100
    /// lambda: each sender's total sending rate (payload and cover).
    public var rate: Double = 2
    /// Payload messages added per time unit to each challenge sender's buffer.
    public var challengePayloadRate: Double = 1
    public var mu: Double = 1
    public var layers: Int = 3
    public var width: Int = 3
    /// Fraction of all mixes that are (passively) corrupt, chosen at random per
    /// run: floor(f N) mixes, plus one more with probability frac(f N), so the
    /// expected number is exactly f N even when f N is not an integer.
    public var corruptFraction: Double = 0
    public var burnIn: Double = 50
    public var window: Double = 100
    /// Start every mix in the stationary state (see the file comment).
    public var stationaryStart: Bool = true
    /// Read the pools at a uniformly random point of the payload period after the window
    /// (see the file comment), rather than at its end.
    public var randomReadingInstant: Bool = true

    public init() {}

    public var mixes: Int { layers * width }
    /// Expected number of corrupt mixes.
    public var corruptMixes: Double { corruptFraction * Double(mixes) }
}

public struct UnlinkabilityRun: Sendable, Codable {
    /// |ln(p0/p1)| at the chosen final-layer mix; +inf if exactly one is 0, NaN if both are.
    public var epsilon: Double
    public var p0: Double
    public var p1: Double
    public var finalPool: Int
    public var labelledSent: Int
    public var events: Int
    /// Label mass bookkeeping: mass in all pools + mass that left the last layer.
    /// Equals `labelledSent` up to rounding (each labelled message carries mass 1).
    public var labelMassAccounted: Double
}

public enum UnlinkabilitySimulation {
    struct Departure: TimedEvent {
        var time: Double
        var mix: Int32
        var p0: Double
        var p1: Double
    }

    /// Per-mix adversary state and the event queue of one run.
    struct State {
        var count: [Int]
        var m0: [Double]
        var m1: [Double]
        var heap: EventHeap<Departure>
        let mu: Double

        @inline(__always)
        mutating func arrive(_ mix: Int, _ p0: Double, _ p1: Double, _ t: Double, _ rng: inout Xoshiro256) {
            count[mix] += 1
            m0[mix] += p0
            m1[mix] += p1
            heap.push(Departure(time: t + rng.exponential(rate: mu), mix: Int32(mix), p0: p0, p1: p1))
        }
    }

    public static func run(_ c: UnlinkabilityConfig, seed: UInt64) -> UnlinkabilityRun {
        precondition(c.users >= 2 && c.layers >= 1 && c.width >= 1 && c.mu > 0 && c.rate > 0)
        var rng = Xoshiro256(seed: seed)
        // Drawn first, so that runs with the same seed and different windows share their paths.
        let readingOffset = rng.openUnitInterval() / c.challengePayloadRate
        let nMix = c.mixes
        let w = c.width
        var corrupt = [Bool](repeating: false, count: nMix)
        // Corrupt mixes: a uniformly random subset of the given size.
        var perm = Array(0..<nMix)
        let expected = min(max(c.corruptMixes, 0), Double(nMix))
        var nCorrupt = Int(expected.rounded(.down))
        if nCorrupt < nMix && rng.openUnitInterval() < expected - Double(nCorrupt) { nCorrupt += 1 }
        for i in 0..<nCorrupt {
            let j = i + rng.index(below: nMix - i)
            perm.swapAt(i, j)
            corrupt[perm[i]] = true
        }
        let finalMix = (c.layers - 1) * w + rng.index(below: w)
        let background = Double(c.users - 2) * c.rate
        let perMixRate = background / Double(w)
        var st = State(count: Array(repeating: 0, count: nMix), m0: Array(repeating: 0, count: nMix),
                       m1: Array(repeating: 0, count: nMix),
                       heap: EventHeap(capacity: Int(Double(nMix) * perMixRate / c.mu * 1.5) + 64), mu: c.mu)

        if c.stationaryStart {
            for mix in 0..<nMix {
                let n = rng.poisson(mean: perMixRate / c.mu)
                for _ in 0..<n { st.arrive(mix, 0, 0, 0, &rng) }
            }
        }

        let start = c.burnIn
        let end = c.burnIn + c.window + (c.randomReadingInstant ? readingOffset : 0)
        var tBackground = rng.exponential(rate: background)
        var tChallenge0 = start + rng.exponential(rate: c.rate)
        var tChallenge1 = start + rng.exponential(rate: c.rate)
        var sent0 = 0, sent1 = 0
        var events = 0
        var exitedMass = 0.0
        let lastLayerStart = (c.layers - 1) * w

        while true {
            let td = st.heap.minTime
            let tc = min(tChallenge0, tChallenge1)
            let t = min(td, tBackground, tc)
            if t > end { break }
            events += 1
            if t == td {
                let d = st.heap.pop()!
                let mix = Int(d.mix)
                let n = Double(st.count[mix])
                let q0: Double, q1: Double
                if corrupt[mix] {
                    q0 = d.p0; q1 = d.p1
                } else {
                    q0 = st.m0[mix] / n; q1 = st.m1[mix] / n
                }
                st.count[mix] -= 1
                if st.count[mix] == 0 {
                    st.m0[mix] = 0; st.m1[mix] = 0
                } else {
                    st.m0[mix] = max(0, st.m0[mix] - q0)
                    st.m1[mix] = max(0, st.m1[mix] - q1)
                }
                if mix < lastLayerStart {
                    st.arrive((mix / w + 1) * w + rng.index(below: w), q0, q1, t, &rng)
                } else {
                    exitedMass += q0 + q1
                }
            } else if t == tBackground {
                st.arrive(rng.index(below: w), 0, 0, t, &rng)
                tBackground = t + rng.exponential(rate: background)
            } else {
                // Payload messages are added to the buffer at start, start + 1/r, ...
                let added = Int(((t - start) * c.challengePayloadRate).rounded(.down)) + 1
                if tChallenge0 <= tChallenge1 {
                    let payload = added > sent0
                    if payload { sent0 += 1 }
                    st.arrive(rng.index(below: w), payload ? 1 : 0, 0, t, &rng)
                    tChallenge0 = t + rng.exponential(rate: c.rate)
                } else {
                    let payload = added > sent1
                    if payload { sent1 += 1 }
                    st.arrive(rng.index(below: w), 0, payload ? 1 : 0, t, &rng)
                    tChallenge1 = t + rng.exponential(rate: c.rate)
                }
            }
        }
        let n = Double(st.count[finalMix])
        let p0 = n > 0 ? st.m0[finalMix] / n : 0
        let p1 = n > 0 ? st.m1[finalMix] / n : 0
        let eps: Double
        if p0 == 0 && p1 == 0 {
            eps = .nan
        } else if p0 == 0 || p1 == 0 {
            eps = .infinity
        } else {
            eps = abs(Foundation.log(p0 / p1))
        }
        return UnlinkabilityRun(epsilon: eps, p0: p0, p1: p1, finalPool: st.count[finalMix],
                                labelledSent: sent0 + sent1, events: events,
                                labelMassAccounted: exitedMass + st.m0.reduce(0, +) + st.m1.reduce(0, +))
    }
}

/// Summary of epsilon over repetitions.
public struct EpsilonSummary: Sendable, Codable {
    public var reps: Int
    /// Repetitions where the final pool held mass of at least one challenge label.
    public var defined: Int
    /// Repetitions with epsilon = +infinity (one challenge sender excluded).
    public var infinite: Int
    /// Values are capped at `cap` (nats) before averaging, so that the rare
    /// infinite or near-infinite runs do not dominate; `cap` is reported.
    public var cap: Double
    public var mean: Double
    public var sd: Double
    /// Half-width of the 95 % confidence interval of `mean` (normal approximation, 1.96 sd / √defined).
    public var ci95: Double
    public var median: Double
    public var q25: Double
    public var q75: Double
    /// Mean over runs with finite epsilon, uncapped.
    public var meanFinite: Double

    public init(_ values: [Double], cap: Double) {
        let defined = values.filter { !$0.isNaN }
        let capped = defined.map { min($0, cap) }
        reps = values.count
        self.defined = defined.count
        infinite = defined.filter(\.isInfinite).count
        self.cap = cap
        mean = Stats.mean(capped)
        sd = Stats.sd(capped)
        ci95 = capped.count > 1 ? 1.96 * sd / Double(capped.count).squareRoot() : .nan
        median = Stats.median(defined)
        q25 = Stats.quantile(defined, 0.25)
        q75 = Stats.quantile(defined, 0.75)
        meanFinite = Stats.mean(defined.filter(\.isFinite))
    }
}
