// What queueing alone costs a node whose workers take a given time per packet, at a given load:
// the floor the node benchmark prints beside its measured per-hop latency.

/// An M/D/c queue: Poisson arrivals, `workers` servers that each take exactly `serviceTime` per
/// packet, first come first served, nothing dropped, no other cost. A first-come-first-served
/// node whose workers unwrap a packet in `serviceTime` cannot do better at the same utilisation.
public enum IdealQueue {
    /// Per-packet latency (wait plus service, seconds) at utilisation `load` (arrivals per second
    /// ÷ the servers' capacity, below 1), simulated over `packets` arrivals.
    public static func latency(workers: Int, serviceTime: Double, load: Double, packets: Int = 200_000,
                               seed: UInt64 = 1) -> Summary {
        precondition(workers > 0 && serviceTime > 0 && load > 0 && load < 1, "an M/D/c queue needs c > 0, S > 0 and 0 < load < 1")
        var arrivals = PoissonArrivals(seed: seed)
        let rate = load * Double(workers) / serviceTime
        var free = [Double](repeating: 0, count: workers)
        var latencies: [Double] = []
        latencies.reserveCapacity(packets)
        for _ in 0..<packets {
            let t = arrivals.next(rate: rate)
            let server = free.indices.min { free[$0] < free[$1] }!
            let done = max(t, free[server]) + serviceTime
            free[server] = done
            latencies.append(done - t)
        }
        return Summary(latencies)
    }
}
