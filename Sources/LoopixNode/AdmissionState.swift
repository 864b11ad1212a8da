// What admission control knows and decides, shared lock-free between the three parties that
// meet at the crypto queue: workers report what they see, the controller decides, and the
// event loops apply the decision to each arriving packet.
import Atomics

/// The AQM's shared state. Workers write the sojourn and service-time samples and the completion
/// count; `QueueController` reads them once per update and publishes the drop probability and the
/// packet limit; event loops read those two for every arrival. Everything is an atomic with
/// relaxed ordering: each value stands alone, and a decision one update old is still right.
final class AdmissionState: Sendable {
    /// The limit admission applies now (the queue's hard limit or less, from the sojourn limit).
    private let admitLimitValue: ManagedAtomic<Int>
    /// The effective drop probability, as the bit pattern of a Double.
    private let dropProbabilityBits = ManagedAtomic<UInt64>(0)
    /// The longest sojourn a worker saw since the controller last looked, in nanoseconds.
    private let intervalMaxSojourn = ManagedAtomic<UInt64>(0)
    /// A moving average of one packet's processing time on one worker, in nanoseconds.
    private let serviceNanosValue = ManagedAtomic<UInt64>(0)
    /// Packets the workers have finished, ever (the controller derives the drain rate from it).
    private let completedValue = ManagedAtomic<Int>(0)

    init(initialLimit: Int) {
        admitLimitValue = ManagedAtomic(initialLimit)
    }

    // MARK: read by the event loops, written by the controller

    var admitLimit: Int {
        get { admitLimitValue.load(ordering: .relaxed) }
        set { admitLimitValue.store(newValue, ordering: .relaxed) }
    }

    var dropProbability: Double {
        get { Double(bitPattern: dropProbabilityBits.load(ordering: .relaxed)) }
        set { dropProbabilityBits.store(newValue.bitPattern, ordering: .relaxed) }
    }

    // MARK: written by the workers, read by the controller

    /// Records one packet's time in the queue and its processing time (wall clock, so time the
    /// worker spent descheduled counts; folded into the average with weight 1/16).
    @inline(__always)
    func noteWorkerSample(sojournNanos: UInt64, serviceNanos: UInt64) {
        var current = intervalMaxSojourn.load(ordering: .relaxed)
        while sojournNanos > current {
            let (exchanged, original) = intervalMaxSojourn.compareExchange(
                expected: current, desired: sojournNanos, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
        let old = serviceNanosValue.load(ordering: .relaxed)
        serviceNanosValue.store(old == 0 ? serviceNanos : old - old / 16 + serviceNanos / 16, ordering: .relaxed)
        completedValue.wrappingIncrement(ordering: .relaxed)
    }

    /// The longest sojourn since the last call, in nanoseconds; starts a new interval.
    func takeIntervalMaxSojourn() -> UInt64 {
        intervalMaxSojourn.exchange(0, ordering: .relaxed)
    }

    var serviceNanos: UInt64 { serviceNanosValue.load(ordering: .relaxed) }
    var completed: Int { completedValue.load(ordering: .relaxed) }
}
