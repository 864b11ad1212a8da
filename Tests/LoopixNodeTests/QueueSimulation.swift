// The PIE controller's tests read the crypto-queue model of the benchmarks (LoopixBench's
// QueueModel, which drives the node's own PIEController and DropDecider) through this view.
import LoopixBench
import LoopixNode

struct QueueSimulation {
    struct Phase {
        var load: Double  // offered load as a multiple of capacity
        var seconds: Double
    }

    struct Result {
        let run: QueueRunResult
        var offered: Int { run.offered }
        var served: Int { run.served }
        var aqmDrops: Int { run.controllerDrops }
        var limitDrops: Int { run.limitDrops }
        var probabilityTrace: [(time: Double, probability: Double)] { run.probabilities }
        var goodputFraction: Double { Double(run.served) / run.capacityPackets }
        var meanSojourn: Double { run.sojourns.mean }
        func sojournQuantile(_ q: Double) -> Double { run.sojourns.quantile(q) ?? 0 }
    }

    var configuration = AQMConfiguration()
    var workers = 2
    var serviceTime = 100e-6
    var seed: UInt64 = 1
    var pauses: (perSecond: Double, meanSeconds: Double)?

    /// Runs the phases in order; statistics are collected from `measureFrom` seconds on.
    func run(_ phases: [Phase], measureFrom: Double = 0) -> Result {
        var model = QueueModel()
        model.configuration = configuration
        model.workers = workers
        model.serviceTime = serviceTime
        model.pauses = pauses
        let scenario = QueueScenario(name: "test", phases: phases.map { QueuePhase(load: $0.load, seconds: $0.seconds) },
                                     measureFrom: measureFrom)
        return Result(run: model.run(scenario, arrivals: model.arrivals(for: scenario, seed: seed), policy: .pie, seed: seed))
    }
}
