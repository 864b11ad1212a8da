// Simulations with real exponential delays and message identities, used to
// check Theorems 1 and 2 numerically (tests and `loopix simulate theorems`).
import Foundation
import LoopixRandom

/// The paper's observation o_{n,k,l} (section 4.1.3): n messages arrive before
/// any leaves; n-k of them leave; l more arrive before the next departure; the
/// adversary then sees one outgoing message m. With the mix's own loops at rate
/// lambda_M the outgoing message may be a loop.
///
/// Theorem 1 (lambda_M = 0): Pr[m = a given one of the n] = k / (n (l+k)),
/// Pr[m = a given one of the l] = 1 / (l+k).
/// Theorem 2: both multiplied by (l+k) mu / ((l+k) mu + lambda_M), i.e.
/// Pr[m = m1] = (k/n) mu / ((l+k) mu + lambda_M), Pr[m = m2] = mu / ((l+k) mu + lambda_M).
/// (The arXiv v1 statement of Theorem 2 swaps the labels m1 and m2; its proof in
/// Appendix A.2 gives the assignment used here.)
public struct PoolScenario: Sendable, Codable, Hashable {
    public var n: Int
    public var k: Int
    public var l: Int
    /// Rate of the arrival process used to stage the scenario (does not enter the theorem).
    public var arrivalRate: Double
    public var mu: Double
    public var loopRate: Double

    public init(n: Int, k: Int, l: Int, arrivalRate: Double, mu: Double, loopRate: Double = 0) {
        precondition(n >= 1 && k >= 0 && k <= n && l >= 0 && (k + l > 0 || loopRate > 0))
        self.n = n; self.k = k; self.l = l
        self.arrivalRate = arrivalRate; self.mu = mu; self.loopRate = loopRate
    }

    private var denominator: Double { Double(l + k) * mu + loopRate }
    /// Theorem 1/2 probability that m is a specific one of the first n messages.
    public var theoryOriginal: Double { Double(k) / Double(n) * mu / denominator }
    /// Theorem 1/2 probability that m is a specific one of the l later messages.
    public var theoryLate: Double { mu / denominator }
    /// Probability that m is a loop (Appendix A.2, equation 8).
    public var theoryLoop: Double { loopRate / denominator }
}

public struct PoolScenarioCounts: Sendable, Codable {
    public var attempts = 0
    public var accepted = 0
    /// How often m was the i-th of the first n arrivals.
    public var original: [Int]
    /// How often m was the j-th of the l later arrivals.
    public var late: [Int]
    public var loops = 0

    public func frequency(original i: Int) -> Double { Double(original[i]) / Double(accepted) }
    public func frequency(late j: Int) -> Double { Double(late[j]) / Double(accepted) }
    public var loopFrequency: Double { Double(loops) / Double(accepted) }
    /// Binomial standard error of a frequency with probability p over the accepted trials.
    public func standardError(_ p: Double) -> Double { (p * (1 - p) / Double(accepted)).squareRoot() }
}

public enum PoolTheoremCheck {
    /// Stages o_{n,k,l} with real Exp(mu) delays until `accepted` trials match the
    /// observation (rejection sampling on the event order), and counts which message left.
    public static func run(_ s: PoolScenario, accepted target: Int, seed: UInt64) -> PoolScenarioCounts {
        var rng = Xoshiro256(seed: seed)
        var counts = PoolScenarioCounts(original: Array(repeating: 0, count: s.n),
                                        late: Array(repeating: 0, count: s.l))
        var dep = [Double](repeating: 0, count: s.n)
        var order = [Int](repeating: 0, count: s.n)
        var lateDep = [Double](repeating: 0, count: s.l)
        while counts.accepted < target {
            counts.attempts += 1
            // Phase 1: n arrivals, none may leave before the last has arrived.
            var a = 0.0
            for i in 0..<s.n {
                a += rng.exponential(rate: s.arrivalRate)
                dep[i] = a + rng.exponential(rate: s.mu)
            }
            let lastArrival = a
            if dep.min()! <= lastArrival { continue }
            // Phase 2: n-k departures, in the order of the real delays.
            for i in 0..<s.n { order[i] = i }
            order.sort { dep[$0] < dep[$1] }
            let t1 = s.k < s.n ? dep[order[s.n - s.k - 1]] : lastArrival
            let nextOriginal = s.k > 0 ? dep[order[s.n - s.k]] : Double.infinity
            // Phase 3: l arrivals before the next departure.
            var b = t1
            for j in 0..<s.l {
                b += rng.exponential(rate: s.arrivalRate)
                lateDep[j] = b + rng.exponential(rate: s.mu)
            }
            if nextOriginal <= b { continue }
            if s.l > 0, lateDep.min()! <= b { continue }
            // The mix's loop stream, a Poisson process running from time 0:
            // its first point after the last observed arrival.
            var loopTime = Double.infinity
            if s.loopRate > 0 {
                loopTime = rng.exponential(rate: s.loopRate)
                while loopTime <= b { loopTime += rng.exponential(rate: s.loopRate) }
            }
            // Phase 4: the next outgoing message.
            counts.accepted += 1
            var best = loopTime
            var winner = -1 // -1 loop, 0..<n original, n..<n+l late
            for r in (s.n - s.k)..<s.n where dep[order[r]] < best {
                best = dep[order[r]]
                winner = order[r]
            }
            for j in 0..<s.l where lateDep[j] < best {
                best = lateDep[j]
                winner = s.n + j
            }
            if winner < 0 {
                counts.loops += 1
            } else if winner < s.n {
                counts.original[winner] += 1
            } else {
                counts.late[winner - s.n] += 1
            }
        }
        return counts
    }
}

/// The (n-1) attack of section 4.2 against a mix with loops: the adversary lets
/// only the target message in and watches the outputs, which are the target and
/// the mix's own Poisson(lambda_M) loops it cannot tell apart.
///
/// By Theorem 2 with n = k = 1, l = 0 the first output is the target with
/// probability p = mu / (mu + lambda_M), and by memorylessness every later output
/// is again the target with probability p until it has left, so the target's
/// position J among the outputs is geometric: Pr[J = j] = p (1-p)^(j-1), with
/// entropy H = h2(p) / p bits (`Entropy.geometric`). This is the entropy the
/// loops guarantee to an adversary who uses the order of outputs.
///
/// A stronger adversary also uses the output times: given them, the posterior
/// that output i (at time t_i after the target entered) is the target is
/// proportional to exp(-mu t_i). Its mean entropy has no closed form here and is
/// estimated (`meanTimingEntropyBits`).
public struct NMinusOneResult: Sendable, Codable {
    public var mu: Double
    public var loopRate: Double
    public var trials: Int
    public var firstIsTarget: Int
    /// positionCounts[j-1] = number of trials where the target was output j.
    public var positionCounts: [Int]
    public var meanTimingEntropyBits: Double

    public var pFirst: Double { Double(firstIsTarget) / Double(trials) }
    public var theoryPFirst: Double { mu / (mu + loopRate) }
    public var theoryPositionEntropyBits: Double { Entropy.geometric(p: theoryPFirst) }
    /// Plug-in entropy (bits) of the empirical position distribution.
    public var empiricalPositionEntropyBits: Double { Entropy.shannon(positionCounts.map(Double.init)) }
}

public enum NMinusOneAttack {
    public static func run(mu: Double, loopRate: Double, trials: Int, seed: UInt64,
                           timing: Bool = true) -> NMinusOneResult {
        var rng = Xoshiro256(seed: seed)
        var positions = [Int]()
        var first = 0
        var timingSum = 0.0
        var times = [Double]()
        for _ in 0..<trials {
            let target = rng.exponential(rate: mu)
            var before = 0
            var t = rng.exponential(rate: loopRate)
            times.removeAll(keepingCapacity: true)
            while t < target {
                before += 1
                if timing { times.append(t) }
                t += rng.exponential(rate: loopRate)
            }
            if before == 0 { first += 1 }
            if before >= positions.count { positions += Array(repeating: 0, count: before - positions.count + 1) }
            positions[before] += 1
            if timing {
                // Posterior weights exp(-mu t) over every output, including loops
                // after the target; the tail beyond target + 30/mu is negligible.
                times.append(target)
                let horizon = target + 30 / mu
                while t < horizon {
                    times.append(t)
                    t += rng.exponential(rate: loopRate)
                }
                var w = 0.0, wlog = 0.0
                for x in times {
                    let lw = -mu * x // natural log of the weight
                    let e = Foundation.exp(lw)
                    w += e
                    wlog += e * lw
                }
                timingSum += (Foundation.log(w) - wlog / w) * Entropy.log2e
            }
        }
        return NMinusOneResult(mu: mu, loopRate: loopRate, trials: trials, firstIsTarget: first,
                               positionCounts: positions,
                               meanTimingEntropyBits: timing ? timingSum / Double(trials) : .nan)
    }
}

/// Calibration of the pool model over a long trace with identities: a single
/// mix with Poisson arrivals and real Exp(mu) delays; the adversary's belief
/// that a departing message is input i is w_i = mass_i / n, where every input
/// enters with mass 1 and every departure scales all masses by (n-1)/n (the
/// propagation rule built on Theorem 1). If the rule is right, the belief is
/// calibrated: E[w_true] = E[sum_i w_i^2], and within any band of predicted
/// probabilities the observed hits match the predicted mass.
public struct PoolCalibration: Sendable, Codable {
    public var departures = 0
    /// Sum over departures of (w_true - sum_i w_i^2): a martingale-difference sum, mean 0 under the model.
    public var sumDifference = 0.0
    public var sumDifferenceSquared = 0.0
    public var sumTrueWeight = 0.0
    public var sumPredictedHit = 0.0
    /// Band edges of predicted probabilities; observed[b] counts departures whose
    /// true input had its weight in band b, predicted[b] sums the weights in band b,
    /// variance[b] sums w (1 - w) over those weights.
    public var bandEdges: [Double]
    public var observed: [Double]
    public var predicted: [Double]
    public var variance: [Double]

    public var meanDifference: Double { sumDifference / Double(departures) }
    public var standardErrorOfMeanDifference: Double {
        let n = Double(departures)
        let m = sumDifference / n
        return ((sumDifferenceSquared / n - m * m) / (n - 1)).squareRoot()
    }
}

public enum PoolCalibrationCheck {
    struct Departure: TimedEvent { var time: Double; var id: Int }

    public static func run(lambda: Double, mu: Double, departures target: Int, seed: UInt64,
                           bandEdges: [Double] = [0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0001]) -> PoolCalibration {
        var rng = Xoshiro256(seed: seed)
        var heap = EventHeap<Departure>()
        var ids = [Int]()      // inputs with non-negligible mass
        var mass = [Double]()
        var nextId = 0
        var t = 0.0
        var nextArrival = rng.exponential(rate: lambda)
        let bands = bandEdges.count - 1
        var cal = PoolCalibration(bandEdges: bandEdges,
                                  observed: Array(repeating: 0, count: bands),
                                  predicted: Array(repeating: 0, count: bands),
                                  variance: Array(repeating: 0, count: bands))
        func band(_ w: Double) -> Int {
            var b = 0
            while b < bands - 1 && w >= bandEdges[b + 1] { b += 1 }
            return b
        }
        let warmDepartures = 200
        var seen = 0
        while cal.departures < target {
            if nextArrival < heap.minTime {
                t = nextArrival
                heap.push(Departure(time: t + rng.exponential(rate: mu), id: nextId))
                ids.append(nextId)
                mass.append(1)
                nextId += 1
                nextArrival = t + rng.exponential(rate: lambda)
                continue
            }
            let d = heap.pop()!
            t = d.time
            let n = Double(heap.count + 1)
            seen += 1
            if seen > warmDepartures {
                var trueW = 0.0, sumSq = 0.0
                for (i, id) in ids.enumerated() {
                    let w = mass[i] / n
                    sumSq += w * w
                    if id == d.id { trueW = w }
                    let b = band(w)
                    cal.predicted[b] += w
                    cal.variance[b] += w * (1 - w)
                }
                cal.observed[band(trueW)] += 1
                let diff = trueW - sumSq
                cal.departures += 1
                cal.sumDifference += diff
                cal.sumDifferenceSquared += diff * diff
                cal.sumTrueWeight += trueW
                cal.sumPredictedHit += sumSq
            }
            // Propagation rule: scale every belief mass by (n-1)/n, drop negligible ones.
            let f = (n - 1) / n
            var j = 0
            for i in 0..<ids.count {
                let m = mass[i] * f
                if m > 1e-12 {
                    ids[j] = ids[i]
                    mass[j] = m
                    j += 1
                }
            }
            ids.removeLast(ids.count - j)
            mass.removeLast(mass.count - j)
        }
        return cal
    }
}
