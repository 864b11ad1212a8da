// The points of `simulate entropy` and `simulate unlinkability`: every combination of the
// values asked for, in the order the tables list them.

extension MixEntropyConfig {
    /// For each µ, each loop rate, each λ (the innermost).
    public static func grid(lambdas: [Double], mus: [Double], loopRates: [Double], warmupDelays: Double,
                            measureDelays: Double) -> [MixEntropyConfig] {
        mus.flatMap { m in
            loopRates.flatMap { lm in
                lambdas.map { MixEntropyConfig(lambda: $0, mu: m, loopRate: lm, warmupDelays: warmupDelays, measureDelays: measureDelays) }
            }
        }
    }
}

extension UnlinkabilityConfig {
    /// `base` with each rate, µ, number of layers and corrupt fraction (the innermost).
    public static func grid(_ base: UnlinkabilityConfig, rates: [Double], mus: [Double], layers: [Int],
                            corrupt: [Double]) -> [UnlinkabilityConfig] {
        rates.flatMap { r in
            mus.flatMap { m in
                layers.flatMap { l in
                    corrupt.map { f in
                        var c = base
                        c.rate = r; c.mu = m; c.layers = l; c.corruptFraction = f
                        return c
                    }
                }
            }
        }
    }
}

extension PoolCalibration {
    /// The calibration as a CSV table: per band of true weights, observed and predicted hits.
    public var table: CSVTable {
        var t = CSVTable(header: ["band_low", "band_high", "observed_hits", "predicted_hits", "sd"])
        for b in 0..<observed.count {
            t.append([fmt(bandEdges[b]), fmt(min(bandEdges[b + 1], 1)), fmt(observed[b]), fmt(predicted[b], 7),
                      fmt(variance[b].squareRoot(), 4)])
        }
        return t
    }
}
