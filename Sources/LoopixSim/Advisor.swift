// Parameter advisor: given the user population and rates, a latency budget and
// an anonymity target, propose the mix delay parameter mu and cover-traffic
// rates, and tabulate the trade-off between latency, bandwidth and anonymity
// (the paper, section 7, leaves this choice application dependent).
//
// Method.
// 1. Latency: a message is delayed Exp(mu) at each of `hops` hops (by default
//    layers + 2: the sender's provider, one mix per layer and the recipient's
//    provider each hold it Exp(mu), as the node code does), so its added
//    end-to-end delay is Erlang(hops, mu). For a budget B at quantile q the
//    smallest admissible mu is mu* = G^{-1}_{hops}(q) / B (G the Erlang(hops, 1)
//    CDF; for q = "mean", mu* = hops / B). Anonymity improves as mu decreases
//    (larger pools), so mu* is the best delay parameter the budget allows.
// 2. Anonymity for a per-user total rate r = lambda_P + lambda_L + lambda_D:
//    - per-mix entropy: each mix receives r U / width from users plus about
//      lambda_M layers from mix loops; the single-mix simulation (with the mix's
//      own loops at lambda_M) gives the mean entropy of an outgoing message;
//    - epsilon: the network simulation with U senders at rate r, challenge
//      senders whose payload rate is lambda_P, `layers` x `width` mixes.
// 3. The smallest r in [r_min, r_max] that meets the target(s) at mu* is found
//    on a geometric grid and refined by bisection (common random numbers across
//    candidates keep the comparison stable). Cover = r - lambda_P, split evenly
//    into loops and drops as in the paper's experiments.
// 4. The trade-off table evaluates the same metrics on a grid of mu (latency)
//    and r (bandwidth).
// 5. Mix loops: from Theorem 2, under a full (n-1) attack the first output is the
//    target with probability mu / (mu + lambda_M); lambda_M is chosen so that
//    this is at most `maxNMinusOneLink`.
import Foundation

public struct AdvisorInput: Sendable, Codable {
    public var users: Int = 1000
    /// lambda_P: each user's payload (real-or-drop) stream rate.
    public var payloadRate: Double = 1
    /// Existing cover rates per user; the advisor never proposes less.
    public var minLoopRate: Double = 0
    public var minDropRate: Double = 0
    /// Upper bound on a user's total sending rate (bandwidth budget).
    public var maxUserRate: Double = 20
    /// lambda_M: loop rate of each mix; nil = propose one.
    public var mixLoopRate: Double? = nil
    public var maxNMinusOneLink: Double = 0.5
    public var layers: Int = 3
    public var width: Int = 3
    /// Number of delaying hops on a path (default: layers + 2, the two providers and one mix per layer).
    public var hops: Int? = nil
    /// End-to-end mixing delay budget (time units).
    public var latencyBudget: Double = 5
    /// The recipient's pull interval (time units): a delivered message waits U(0, interval) for
    /// the next pull, which the latency then counts (0: mixing delays only).
    public var pullInterval: Double = 0
    /// Quantile of the end-to-end delay that must fit the budget; nil = the mean.
    public var latencyQuantile: Double? = 0.95
    public var targetEpsilon: Double? = nil
    public var targetEntropyBits: Double? = nil
    public var corruptFraction: Double = 0
    /// Repetitions per epsilon evaluation, and per single-mix entropy evaluation.
    public var reps: Int = 40
    public var entropyReps: Int = 4
    public var epsCap: Double = 10
    public var seed: UInt64 = 7
    public var gridRates: Int = 7
    public var gridMus: [Double] = [0.5, 0.71, 1, 1.41, 2, 4]

    public init() {}

    public var pathHops: Int { hops ?? layers + 2 }
}

public struct AdvisorPoint: Sendable, Codable {
    public var mu: Double
    public var userRate: Double
    public var coverRate: Double
    public var coverFraction: Double
    public var perMixRate: Double
    public var meanLatency: Double
    public var quantileLatency: Double
    public var entropyBits: Double
    /// Half-widths of the 95 % confidence intervals of `entropyBits` and `poolMean` over the
    /// entropy repetitions (t quantile for few repetitions).
    public var entropyCI95: Double
    public var poolMean: Double
    public var poolCI95: Double
    public var epsilon: EpsilonSummary?
    public var epsilonUpper95: Double?
    public var meetsLatency: Bool
    public var meetsTarget: Bool
}

public struct AdvisorReport: Sendable, Codable {
    public var input: AdvisorInput
    public var muStar: Double
    public var mixLoopRate: Double
    public var nMinusOneLinkProbability: Double
    public var nMinusOneEntropyBits: Double
    public var feasible: Bool
    public var recommended: AdvisorPoint?
    public var proposedLoopRate: Double?
    public var proposedDropRate: Double?
    public var notes: [String]
    public var tradeoff: [AdvisorPoint]
}

/// Half-width of a 95 % confidence interval of a mean of `n` draws with sample sd `sd`: Student's t
/// quantile for n − 1 degrees of freedom (the advisor's entropy uses as few as 4 repetitions).
public func tHalfWidth95(_ sd: Double, _ n: Int) -> Double {
    guard n > 1 else { return .nan }
    let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
                           2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086]
    let t = n - 1 <= table.count ? table[n - 2] : (n - 1 <= 30 ? 2.05 : (n - 1 <= 60 ? 2.01 : 1.96))
    return t * sd / Double(n).squareRoot()
}

public enum Erlang {
    /// CDF of Erlang(k, rate 1) at x.
    public static func cdf(k: Int, x: Double) -> Double {
        guard x > 0 else { return 0 }
        var term = 1.0, sum = 1.0
        if k > 1 { for i in 1..<k { term *= x / Double(i); sum += term } }
        return max(0, 1 - Foundation.exp(-x) * sum)
    }

    /// CDF of Erlang(k, rate) + U(0, wait) at x: the Erlang CDF averaged over the wait (midpoint
    /// rule on 400 points, well within 1e-5 for the smooth Erlang CDF).
    public static func cdfPlusUniform(k: Int, rate: Double, wait: Double, x: Double) -> Double {
        guard wait > 0 else { return cdf(k: k, x: rate * x) }
        let n = 400
        var sum = 0.0
        for i in 0..<n { sum += cdf(k: k, x: rate * (x - wait * (Double(i) + 0.5) / Double(n))) }
        return sum / Double(n)
    }

    /// Quantile of Erlang(k, rate) + U(0, wait), by bisection.
    public static func quantilePlusUniform(k: Int, rate: Double, wait: Double, q: Double) -> Double {
        guard wait > 0 else { return quantile(k: k, q: q) / rate }
        var lo = 0.0, hi = quantile(k: k, q: q) / rate + wait
        for _ in 0..<100 {
            let mid = (lo + hi) / 2
            if cdfPlusUniform(k: k, rate: rate, wait: wait, x: mid) < q { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// Quantile of Erlang(k, rate 1), by bisection.
    public static func quantile(k: Int, q: Double) -> Double {
        var lo = 0.0, hi = Double(k) + 50 * Double(k).squareRoot() + 50
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if cdf(k: k, x: mid) < q { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }
}

public enum Advisor {
    static func muForBudget(_ input: AdvisorInput) -> Double {
        let k = input.pathHops, wait = input.pullInterval, budget = input.latencyBudget
        guard let q = input.latencyQuantile else { return Double(k) / (budget - wait / 2) }
        guard wait > 0 else { return Erlang.quantile(k: k, q: q) / budget }
        // The quantile falls as mu grows: bisect mu between the budget without the wait and far above.
        var lo = Erlang.quantile(k: k, q: q) / budget, hi = lo
        while Erlang.quantilePlusUniform(k: k, rate: hi, wait: wait, q: q) > budget { hi *= 2 }
        for _ in 0..<100 {
            let mid = (lo + hi) / 2
            if Erlang.quantilePlusUniform(k: k, rate: mid, wait: wait, q: q) > budget { lo = mid } else { hi = mid }
        }
        return hi
    }

    /// Evaluates (mu, user rate) points, all simulation jobs at once on all
    /// cores. Every point uses the same seeds (common random numbers), so
    /// differences between points are not masked by independent noise.
    public static func evaluate(_ input: AdvisorInput, points: [(mu: Double, userRate: Double)],
                                mixLoopRate: Double, epsilon wantEpsilon: Bool, seed: UInt64) -> [AdvisorPoint] {
        let k = input.pathHops
        let perMix = points.map {
            $0.userRate * Double(input.users) / Double(input.width) + mixLoopRate * Double(input.layers)
        }
        let ent = PaperSweeps.entropy(
            zip(points, perMix).map { MixEntropyConfig(lambda: $1, mu: $0.mu, loopRate: mixLoopRate,
                                                       minMeasuredOutputs: 2000) },
            reps: input.entropyReps, seed: seed, commonSeeds: true)
        var eps = [EpsilonPointResult?](repeating: nil, count: points.count)
        if wantEpsilon {
            let configs = points.map { p -> UnlinkabilityConfig in
                var c = UnlinkabilityConfig()
                c.users = input.users
                c.rate = p.userRate
                c.challengePayloadRate = min(input.payloadRate, p.userRate)
                c.mu = p.mu
                c.layers = input.layers
                c.width = input.width
                c.corruptFraction = input.corruptFraction
                c.burnIn = 5 * Double(k) / p.mu
                c.window = max(100 / input.payloadRate, 10 * Double(input.layers) / p.mu)
                return c
            }
            eps = PaperSweeps.epsilon(configs, reps: input.reps, seed: seed, cap: input.epsCap, commonSeeds: true)
        }
        return points.indices.map { i in
            let mu = points[i].mu, userRate = points[i].userRate
            let summary = eps[i]?.summary
            let upper = summary.map { $0.mean + 1.645 * $0.sd / Double(max($0.defined, 1)).squareRoot() }
            let meanLat = Double(k) / mu + input.pullInterval / 2
            let qLat = input.latencyQuantile.map { Erlang.quantilePlusUniform(k: k, rate: mu, wait: input.pullInterval, q: $0) } ?? meanLat
            let budgetMeasure = input.latencyQuantile == nil ? meanLat : qLat
            var meets = true
            if let te = input.targetEpsilon, let u = upper { meets = meets && u <= te }
            if let th = input.targetEntropyBits { meets = meets && ent[i].meanBits >= th }
            let cover = userRate - input.payloadRate
            return AdvisorPoint(mu: mu, userRate: userRate, coverRate: cover, coverFraction: cover / userRate,
                                perMixRate: perMix[i], meanLatency: meanLat, quantileLatency: qLat,
                                entropyBits: ent[i].meanBits, entropyCI95: tHalfWidth95(ent[i].sdBits, ent[i].reps),
                                poolMean: ent[i].meanPoolSize, poolCI95: tHalfWidth95(ent[i].sdPoolSize, ent[i].reps),
                                epsilon: summary,
                                epsilonUpper95: upper,
                                meetsLatency: budgetMeasure <= input.latencyBudget * (1 + 1e-9), meetsTarget: meets)
        }
    }

    public static func advise(_ input: AdvisorInput, progress: (@Sendable (String) -> Void)? = nil) -> AdvisorReport {
        precondition(input.users >= 2 && input.payloadRate > 0 && input.latencyBudget > 0)
        precondition(input.pullInterval >= 0 && input.pullInterval * (input.latencyQuantile ?? 0.5) < input.latencyBudget,
                     "the pull wait alone exceeds the latency budget")
        var notes = [String]()
        let muStar = muForBudget(input)
        let lambdaM = input.mixLoopRate ?? muStar * (1 / input.maxNMinusOneLink - 1)
        let pLink = muStar / (muStar + lambdaM)
        let wantEps = input.targetEpsilon != nil
        let rMin = input.payloadRate + input.minLoopRate + input.minDropRate
        let rMax = max(input.maxUserRate, rMin)
        if input.targetEpsilon == nil && input.targetEntropyBits == nil {
            notes.append("No target given: reporting the trade-off only (use --target-epsilon or --target-entropy).")
        }
        let seed = input.seed

        // Candidate user rates: geometric grid from rMin to rMax.
        let n = max(input.gridRates, 2)
        let rates = (0..<n).map { i in rMin * Foundation.pow(rMax / rMin, Double(i) / Double(n - 1)) }

        // Search at mu*.
        progress?("evaluating \(rates.count) user rates at mu* = \(fmt(muStar, 4))")
        let atStar = evaluate(input, points: rates.map { (muStar, $0) }, mixLoopRate: lambdaM,
                              epsilon: wantEps, seed: seed)
        var recommended: AdvisorPoint? = nil
        if let first = atStar.firstIndex(where: \.meetsTarget) {
            if first == 0 {
                recommended = atStar[0]
            } else {
                var lo = rates[first - 1], hi = rates[first]
                var best = atStar[first]
                for _ in 0..<4 {
                    let mid = (lo * hi).squareRoot()
                    let p = evaluate(input, points: [(muStar, mid)], mixLoopRate: lambdaM,
                                     epsilon: wantEps, seed: seed)[0]
                    if p.meetsTarget { hi = mid; best = p } else { lo = mid }
                }
                recommended = best
            }
        } else if input.targetEpsilon != nil || input.targetEntropyBits != nil {
            notes.append("The target is not met at mu* even at the maximum user rate \(fmt(rMax, 4)); "
                + "see the trade-off table for the latency it needs.")
        }

        // Trade-off grid: multiples of mu* times the rate grid.
        let others = input.gridMus.filter { abs($0 - 1) > 1e-9 }.flatMap { f in rates.map { (muStar * f, $0) } }
        progress?("trade-off grid: \(others.count) more points")
        var grid = evaluate(input, points: others, mixLoopRate: lambdaM, epsilon: wantEps, seed: seed)
        grid += atStar
        grid.sort { ($0.mu, $0.userRate) < ($1.mu, $1.userRate) }

        var loop: Double? = nil, drop: Double? = nil
        if let rec = recommended {
            let extra = max(0, rec.userRate - rMin)
            loop = input.minLoopRate + extra / 2
            drop = input.minDropRate + extra / 2
            notes.append("Cover above the given minimum is split evenly between loops and drops, as in the "
                + "paper's experiments; for these passive metrics only the total rate matters, while loops "
                + "also serve active-attack detection.")
        }
        if input.mixLoopRate == nil {
            notes.append("lambda_M chosen so that a full (n-1) attack links the first output with probability "
                + "at most \(fmt(input.maxNMinusOneLink, 3)) (Theorem 2: mu / (mu + lambda_M)).")
        }
        notes.append("Latency counts the mixing delays of \(input.pathHops) hops (Erlang)"
            + (input.pullInterval > 0 ? " and the wait for the recipient's next pull, U(0, \(fmt(input.pullInterval, 4)))" : "")
            + ", not processing, storage or network time.")
        return AdvisorReport(input: input, muStar: muStar, mixLoopRate: lambdaM, nMinusOneLinkProbability: pLink,
                             nMinusOneEntropyBits: Entropy.geometric(p: pLink), feasible: recommended != nil,
                             recommended: recommended, proposedLoopRate: loop, proposedDropRate: drop,
                             notes: notes, tradeoff: grid)
    }

    public static func tradeoffTable(_ points: [AdvisorPoint]) -> CSVTable {
        var t = CSVTable(header: ["mu", "mean_latency", "quantile_latency", "user_rate", "cover_rate",
                                  "cover_fraction", "per_mix_rate", "pool_mean", "entropy_bits", "eps_mean",
                                  "eps_sd", "eps_upper95", "eps_infinite", "meets_latency", "meets_target"])
        for p in points {
            t.append([fmt(p.mu), fmt(p.meanLatency), fmt(p.quantileLatency), fmt(p.userRate), fmt(p.coverRate),
                      fmt(p.coverFraction, 4), fmt(p.perMixRate), fmt(p.poolMean), fmt(p.entropyBits),
                      fmt(p.epsilon?.mean ?? .nan), fmt(p.epsilon?.sd ?? .nan), fmt(p.epsilonUpper95 ?? .nan),
                      fmt(p.epsilon?.infinite ?? 0), p.meetsLatency ? "1" : "0", p.meetsTarget ? "1" : "0"])
        }
        return t
    }
}
