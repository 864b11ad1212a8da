// A discrete-time model of the crypto queue (Poisson arrivals, c workers with a fixed service
// time) under the PIE controller, so that the controller can be judged on synthetic traces.
import LoopixNode

struct QueueSimulation {
    struct Phase {
        var load: Double  // offered load as a multiple of capacity
        var seconds: Double
    }

    struct Result {
        var offered = 0
        var served = 0
        var aqmDrops = 0
        var limitDrops = 0
        var sojourns: [Double] = []
        var seconds = 0.0
        var probabilityTrace: [(time: Double, probability: Double)] = []
        var capacityPerSecond = 0.0

        var goodputFraction: Double { Double(served) / (capacityPerSecond * seconds) }
        func sojournQuantile(_ q: Double) -> Double {
            guard !sojourns.isEmpty else { return 0 }
            let sorted = sojourns.sorted()
            return sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]
        }
        var meanSojourn: Double { sojourns.isEmpty ? 0 : sojourns.reduce(0, +) / Double(sojourns.count) }
    }

    var configuration = AQMConfiguration()
    var workers = 2
    var serviceTime = 100e-6
    var step = 5e-6
    var seed: UInt64 = 1

    /// Runs the phases in order; statistics are collected from `measureFrom` seconds on.
    func run(_ phases: [Phase], measureFrom: Double = 0) -> Result {
        var rng = SplitMix64(seed: seed)
        var controller = PIEController(configuration: configuration)
        var queue: [Double] = []
        var head = 0
        var busyUntil = [Double](repeating: 0, count: workers)
        var result = Result()
        result.capacityPerSecond = Double(workers) / serviceTime
        var now = 0.0
        var nextUpdate = configuration.updateInterval
        var effective = 0.0
        var intervalMax = 0.0
        var decider = DropDecider(seed: seed)
        for phase in phases {
            let end = now + phase.seconds
            let ratePerStep = phase.load * result.capacityPerSecond * step
            while now < end {
                let measuring = now >= measureFrom
                // Poisson arrivals within this step (the rate per step is well below one).
                var arrivals = 0
                var u = rng.unit()
                var p = exp(-ratePerStep)
                var cumulative = p
                while u > cumulative {
                    arrivals += 1
                    p *= ratePerStep / Double(arrivals)
                    cumulative += p
                    if arrivals > 20 { break }
                }
                for _ in 0..<arrivals {
                    if measuring { result.offered += 1 }
                    let length = queue.count - head
                    let limit = configuration.admissionLimit(
                        servicePerPacket: serviceTime, workers: workers, burstAllowance: controller.burstAllowance)
                    if length >= limit {
                        if measuring { result.limitDrops += 1 }
                        continue
                    }
                    if length >= 2 && decider.shouldDrop(probability: effective) {
                        if measuring { result.aqmDrops += 1 }
                        continue
                    }
                    queue.append(now)
                }
                for w in 0..<workers where busyUntil[w] <= now && head < queue.count {
                    let arrival = queue[head]
                    head += 1
                    busyUntil[w] = now + serviceTime
                    intervalMax = max(intervalMax, now - arrival)
                    if measuring {
                        result.served += 1
                        result.sojourns.append(now - arrival)
                    }
                }
                if head > 4096 {
                    queue.removeFirst(head)
                    head = 0
                }
                if now >= nextUpdate {
                    var delay = head < queue.count ? now - queue[head] : 0
                    delay = max(delay, intervalMax)
                    intervalMax = 0
                    effective = controller.update(queueDelay: delay)
                    nextUpdate += configuration.updateInterval
                    result.probabilityTrace.append((now, controller.probability))
                }
                now += step
                _ = u
                u = 0
            }
        }
        result.seconds = now - measureFrom
        return result
    }
}

import Foundation
