// What `loopix simulate advise` prints: the trade-off table and the recommendation, every
// simulated figure with the half-width of its 95 % confidence interval.

extension AdvisorReport {
    /// The trade-off table, the proposal and the notes, as text. Latencies and the (n−1) figures
    /// are exact (the Erlang distribution, Theorem 2); entropies, pool sizes and ε are simulated
    /// and carry "± half-width of the 95 % CI".
    public func text() -> String {
        func ci(_ value: Double, _ half: Double, _ digits: Int) -> String {
            half.isFinite ? "\(fmt(value, digits)) ± \(fmt(half, 2))" : fmt(value, digits)
        }
        var lines = [textTable(
            ["mu", "mean lat", "q lat", "user rate", "cover %", "pool (95% CI)", "H bits (95% CI)", "eps (95% CI)", "eps95", "ok"],
            tradeoff.map { p in
                [fmt(p.mu, 4), fmt(p.meanLatency, 3), fmt(p.quantileLatency, 3), fmt(p.userRate, 3),
                 fmt(100 * p.coverFraction, 3), ci(p.poolMean, p.poolCI95, 4), ci(p.entropyBits, p.entropyCI95, 3),
                 p.epsilon.map { ci($0.mean, $0.ci95, 3) } ?? "-", fmt(p.epsilonUpper95 ?? .nan, 3),
                 (p.meetsLatency && p.meetsTarget) ? "yes" : ""]
            }), ""]
        let q = input.latencyQuantile.map { "\(fmt(100 * $0, 3))th percentile" } ?? "mean"
        lines.append("hops per path: \(input.pathHops) (each holds a message Exp(mu)); latencies are exact (Erlang), "
            + "the simulated figures carry ± the half-width of their 95% confidence interval "
            + "(\(input.reps) repetitions for epsilon, \(input.entropyReps) for entropy)")
        lines.append("mu* (largest mean delay within the budget at the \(q)) = \(fmt(muStar, 4)); mean delay per hop \(fmt(1 / muStar, 4))")
        lines.append("mix loop rate lambda_M = \(fmt(mixLoopRate, 4)); (n-1) attack: first-output link probability "
            + "\(fmt(nMinusOneLinkProbability, 3)), position entropy \(fmt(nMinusOneEntropyBits, 3)) bits (exact, Theorem 2)")
        if let r = recommended, let loop = proposedLoopRate, let drop = proposedDropRate {
            lines.append("recommended: mu = \(fmt(r.mu, 4)), per-user total rate \(fmt(r.userRate, 4)) = payload "
                + "\(fmt(input.payloadRate, 4)) + loops \(fmt(loop, 4)) + drops \(fmt(drop, 4)) (cover \(fmt(100 * r.coverFraction, 3))%)")
            let eps = r.epsilon.map { "\(ci($0.mean, $0.ci95, 3)) (upper 95% bound \(fmt(r.epsilonUpper95 ?? .nan, 3)))" } ?? "not computed"
            lines.append("  gives: per-mix entropy \(ci(r.entropyBits, r.entropyCI95, 4)) bits, epsilon \(eps), "
                + "latency mean \(fmt(r.meanLatency, 4)), \(q) \(fmt(r.quantileLatency, 4))")
        } else {
            lines.append("no recommendation within the limits")
        }
        lines += notes.map { "note: \($0)" }
        return lines.joined(separator: "\n")
    }
}
