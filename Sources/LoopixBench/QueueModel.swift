// A model of a node's crypto queue, driven by the real controllers, for RFC 7928-style
// comparisons of queue management policies on identical arrival traces.
import LoopixMetrics
import LoopixNode
import LoopixRandom

/// How a queue decides what to refuse.
public enum QueuePolicy: String, CaseIterable, Codable, Sendable {
    /// The node's own: `PIEController` and `DropDecider` at admission, behind the sojourn limit in
    /// packets (extended while the burst allowance lasts) and the hard queue limit, by the same
    /// rule as `InboundPacketHandler` and `QueueController`.
    case pie
    /// Only the hard queue limit (`queueLimit` packets).
    case tailDrop = "tail-drop"
    /// The original Loopix mix: an unbounded queue; after each packet is taken, a PID on the
    /// smoothed sojourn (target 0.5 s, Kp 3, Ki 0, Kd 15) grows a drop level, and a
    /// Poisson-distributed number of packets with that mean is removed from the head.
    case loopixOriginal = "loopix-original"
}

/// One stretch of a scenario: offered load (a multiple of the nominal capacity) and the
/// workers and per-packet service time in force.
public struct QueuePhase: Codable, Sendable {
    public var load: Double
    public var seconds: Double
    /// Workers during this phase; nil keeps the scenario's.
    public var workers: Int?
    /// Service time multiplier (CPU contention: 2 = each packet takes twice as long).
    public var serviceScale: Double

    public init(load: Double, seconds: Double, workers: Int? = nil, serviceScale: Double = 1) {
        self.load = load
        self.seconds = seconds
        self.workers = workers
        self.serviceScale = serviceScale
    }
}

/// A named sequence of phases; load is relative to `workers / serviceTime`.
public struct QueueScenario: Codable, Sendable {
    public var name: String
    public var phases: [QueuePhase]
    /// Statistics start here (seconds), after the start-up transient.
    public var measureFrom: Double

    public init(name: String, phases: [QueuePhase], measureFrom: Double = 0) {
        self.name = name
        self.phases = phases
        self.measureFrom = measureFrom
    }

    public var seconds: Double { phases.reduce(0) { $0 + $1.seconds } }

    /// When each phase after the first begins.
    public var changeTimes: [Double] {
        var t = 0.0, out: [Double] = []
        for phase in phases.dropLast() { t += phase.seconds; out.append(t) }
        return out
    }
}

/// What one policy did on one scenario.
public struct QueueRunResult: Sendable {
    public var policy: QueuePolicy
    public var offered = 0
    public var served = 0
    /// Refused at admission by the controller (PIE) or removed from the head (original Loopix).
    public var controllerDrops = 0
    /// Refused by a hard limit (packets or sojourn).
    public var limitDrops = 0
    /// Sojourn of every packet served in the measured part.
    public var sojourns = LatencyHistogram()
    /// The packets the workers could have served in the measured part (capacity × time).
    public var capacityPackets = 0.0
    /// Per time bin: mean and max sojourn of packets taken, drops, offered.
    public var bins: [QueueBin] = []
    /// The controller's drop probability after each of its updates (PIE only).
    public var probabilities: [(time: Double, probability: Double)] = []
}

/// One bin of a run's time series.
public struct QueueBin: Codable, Sendable {
    public var start: Double
    public var offered = 0
    public var served = 0
    public var dropped = 0
    public var sojournSum = 0.0
    public var sojournMax = 0.0
    public var probability = 0.0

    public var meanSojourn: Double { served > 0 ? sojournSum / Double(served) : 0 }
}

/// The queue and its workers, stepped event by event: arrivals from a shared trace, workers
/// taking the head whenever they are free, and the controller's update timer.
public struct QueueModel: Sendable {
    public var configuration = AQMConfiguration()
    public var workers = 2
    /// Seconds of one packet on one worker (the measured lsx_process time is a good choice).
    public var serviceTime = 100e-6
    public var binSeconds = 0.010
    /// Workers taken off their core now and then, as on a host they share (nil: never): pauses
    /// start at `perSecond` per worker (a Poisson process) and last Exp(1 / `meanSeconds`); a
    /// pause that starts while a worker processes a packet holds that packet and the queue
    /// behind it. Pauses that fall in idle time are not charged.
    public var pauses: (perSecond: Double, meanSeconds: Double)?
    /// The original Loopix controller's parameters.
    public var loopixTarget = 0.5
    public var loopixGains = (kp: 3.0, ki: 0.0, kd: 15.0)

    public init() {}

    /// The nominal capacity, packets per second, with the scenario's base workers.
    public var capacity: Double { Double(workers) / serviceTime }

    /// Poisson arrival times for a scenario (the same trace serves every policy).
    public func arrivals(for scenario: QueueScenario, seed: UInt64) -> [Double] {
        var times: [Double] = []
        var start = 0.0
        // Poisson arrivals are memoryless, so each phase may start its own stream at its start.
        for (i, phase) in scenario.phases.enumerated() {
            let end = start + phase.seconds
            if phase.load > 0 {
                var source = PoissonArrivals(seed: seed &+ UInt64(i) &* 0x9E37_79B9, start: start)
                while true {
                    let t = source.next(rate: phase.load * capacity)
                    if t >= end { break }
                    times.append(t)
                }
            }
            start = end
        }
        return times
    }

    /// Runs `policy` over the arrival trace.
    public func run(_ scenario: QueueScenario, arrivals: [Double], policy: QueuePolicy, seed: UInt64 = 1) -> QueueRunResult {
        var state = RunState(model: self, scenario: scenario, policy: policy, seed: seed)
        for a in arrivals { state.arrive(at: a) }
        state.advance(to: scenario.seconds)
        return state.finish()
    }
}

/// The mutable state of one run.
private struct RunState {
    let model: QueueModel
    let scenario: QueueScenario
    let policy: QueuePolicy
    var result: QueueRunResult
    var queue: [Double] = []  // arrival times; head at `head`
    var head = 0
    var busyUntil: [Double]
    /// When each worker is next taken off its core (with `model.pauses`).
    var nextPause: [Double]
    var controller: PIEController
    var decider: DropDecider
    var random: SplitMix64
    var nextUpdate: Double
    var intervalMax = 0.0
    var effective = 0.0
    // The original Loopix controller's state.
    var smoothed = 0.0, sumError = 0.0, dropLevel = 0.0
    // Phase boundaries, for the workers and the service time in force.
    let phaseEnds: [Double]

    init(model: QueueModel, scenario: QueueScenario, policy: QueuePolicy, seed: UInt64) {
        self.model = model
        self.scenario = scenario
        self.policy = policy
        result = QueueRunResult(policy: policy)
        let maxWorkers = max(model.workers, scenario.phases.compactMap(\.workers).max() ?? 0)
        busyUntil = [Double](repeating: 0, count: maxWorkers)
        controller = PIEController(configuration: model.configuration)
        decider = DropDecider(seed: seed)
        var random = SplitMix64(seed: seed ^ 0x5EED)
        nextPause = (0..<maxWorkers).map { _ in model.pauses.map { random.exponential(rate: $0.perSecond) } ?? .infinity }
        self.random = random
        nextUpdate = model.configuration.updateInterval
        var t = 0.0
        phaseEnds = scenario.phases.map { t += $0.seconds; return t }
        let bins = Int((scenario.seconds / model.binSeconds).rounded(.up))
        result.bins = (0..<bins).map { QueueBin(start: Double($0) * model.binSeconds) }
    }

    func phase(at t: Double) -> QueuePhase {
        let i = phaseEnds.firstIndex { t < $0 } ?? (scenario.phases.count - 1)
        return scenario.phases[i]
    }

    func bin(_ t: Double) -> Int { min(result.bins.count - 1, max(0, Int(t / model.binSeconds))) }

    var length: Int { queue.count - head }

    mutating func arrive(at t: Double) {
        advance(to: t)
        let measuring = t >= scenario.measureFrom
        if measuring { result.offered += 1 }
        result.bins[bin(t)].offered += 1
        let p = phase(at: t)
        let workers = p.workers ?? model.workers
        let service = model.serviceTime * p.serviceScale
        let c = model.configuration
        var refusedByLimit = false, refusedByController = false
        switch policy {
        case .pie:
            let limit = c.admissionLimit(servicePerPacket: service, workers: workers, burstAllowance: controller.burstAllowance)
            if length >= limit {
                refusedByLimit = true
            } else if length >= 2 && decider.shouldDrop(probability: effective) {
                refusedByController = true
            }
        case .tailDrop:
            refusedByLimit = length >= c.queueLimit
        case .loopixOriginal:
            break
        }
        if refusedByLimit || refusedByController {
            if measuring {
                if refusedByLimit { result.limitDrops += 1 } else { result.controllerDrops += 1 }
            }
            result.bins[bin(t)].dropped += 1
            return
        }
        queue.append(t)
    }

    /// Runs the workers and the controller timer up to time `t`.
    mutating func advance(to t: Double) {
        while true {
            // The worker that frees first, among those in force when it would take.
            var takeTime = Double.infinity, worker = -1
            if length > 0 {
                for w in busyUntil.indices {
                    let at = max(busyUntil[w], queue[head])
                    let p = phase(at: at)
                    guard w < (p.workers ?? model.workers) else { continue }
                    if at < takeTime { takeTime = at; worker = w }
                }
            }
            let updateDue = policy == .pie && nextUpdate <= t
            if updateDue && nextUpdate <= takeTime {
                update(at: nextUpdate)
                nextUpdate += model.configuration.updateInterval
                continue
            }
            guard worker >= 0, takeTime <= t else { break }
            take(worker: worker, at: takeTime)
        }
        if policy == .pie {
            // Timer ticks with nothing to take in between.
            while nextUpdate <= t {
                update(at: nextUpdate)
                nextUpdate += model.configuration.updateInterval
            }
        }
    }

    mutating func take(worker: Int, at time: Double) {
        let arrival = queue[head]
        head += 1
        let p = phase(at: time)
        busyUntil[worker] = time + model.serviceTime * p.serviceScale
        if let pauses = model.pauses {
            while nextPause[worker] < time { nextPause[worker] += random.exponential(rate: pauses.perSecond) }
            while nextPause[worker] < busyUntil[worker] {
                busyUntil[worker] += random.exponential(rate: 1 / pauses.meanSeconds)
                nextPause[worker] += random.exponential(rate: pauses.perSecond)
            }
        }
        let sojourn = time - arrival
        intervalMax = max(intervalMax, sojourn)
        if time >= scenario.measureFrom {
            result.served += 1
            result.sojourns.record(seconds: sojourn)
        }
        let b = bin(time)
        result.bins[b].served += 1
        result.bins[b].sojournSum += sojourn
        result.bins[b].sojournMax = max(result.bins[b].sojournMax, sojourn)
        if policy == .loopixOriginal { loopixStep(sojourn: sojourn, at: time) }
        if head > 65536 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
    }

    /// PIE's timer: the head's age or the interval's longest sojourn, as QueueController reads them.
    mutating func update(at time: Double) {
        let age = length > 0 ? time - queue[head] : 0
        effective = controller.update(queueDelay: max(age, intervalMax))
        intervalMax = 0
        result.probabilities.append((time, controller.probability))
        result.bins[bin(time)].probability = max(result.bins[bin(time)].probability, controller.probability)
    }

    /// The original controller, after each packet taken: smoothed sojourn, PID, head drops.
    mutating func loopixStep(sojourn: Double, at time: Double) {
        smoothed = 0.5 * smoothed + 0.5 * sojourn
        let error = smoothed - model.loopixTarget
        let integral = 0.8 * sumError + 0.2 * error
        let derivative = error - integral
        sumError = integral
        dropLevel = max(0, dropLevel + model.loopixGains.kp * error + model.loopixGains.ki * integral + model.loopixGains.kd * derivative)
        let n = random.poisson(mean: dropLevel, atMost: length)
        guard n > 0 else { return }
        head += n
        if time >= scenario.measureFrom { result.controllerDrops += n }
        result.bins[bin(time)].dropped += n
    }

    mutating func finish() -> QueueRunResult {
        // Capacity over the measured part, phase by phase.
        var start = 0.0, capacity = 0.0
        for p in scenario.phases {
            let end = start + p.seconds
            let measured = max(0, end - max(start, scenario.measureFrom))
            capacity += measured * Double(p.workers ?? model.workers) / (model.serviceTime * p.serviceScale)
            start = end
        }
        result.capacityPackets = capacity
        return result
    }
}
