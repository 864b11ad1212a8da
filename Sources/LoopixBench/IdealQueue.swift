// What queueing alone costs a node whose workers take a given time per packet, at a given load:
// the floor the node benchmark prints beside its measured per-hop latency.

/// An M/D/c queue: Poisson arrivals, `workers` servers that each take exactly `serviceTime` per
/// packet, first come first served, nothing dropped, no other cost. A first-come-first-served
/// node whose workers unwrap a packet in `serviceTime` cannot do better at the same utilisation.
public enum IdealQueue {
    /// Per-packet latency (wait plus service, seconds) at utilisation `load` (arrivals per second
    /// ÷ the servers' capacity, below 1), over about `packets` arrivals: the crypto-queue model
    /// with a queue that never refuses anything.
    public static func latency(workers: Int, serviceTime: Double, load: Double, packets: Int = 200_000,
                               seed: UInt64 = 1) -> Summary {
        precondition(workers > 0 && serviceTime > 0 && load > 0 && load < 1, "an M/D/c queue needs c > 0, S > 0 and 0 < load < 1")
        var model = QueueModel()
        model.workers = workers
        model.serviceTime = serviceTime
        model.configuration.queueLimit = .max
        let scenario = QueueScenario(name: "M/D/\(workers)", phases: [.init(load: load, seconds: Double(packets) / (load * model.capacity))])
        model.binSeconds = scenario.seconds / 100  // the time series is not read here
        let result = model.run(scenario, arrivals: model.arrivals(for: scenario, seed: seed), policy: .tailDrop)
        var latencies = Summary(result.sojourns)
        // Every packet is served for exactly `serviceTime` after its wait.
        latencies.mean += serviceTime; latencies.min += serviceTime; latencies.max += serviceTime
        latencies.p50 += serviceTime; latencies.p95 += serviceTime; latencies.p99 += serviceTime
        return latencies
    }
}
