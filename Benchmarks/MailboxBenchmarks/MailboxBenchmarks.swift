// The provider's MailboxStore (hand-written SQLite binding) timed beside the same store over GRDB, on the
// provider's delivery and pull paths, with both durabilities, on temporary files.
import Benchmark
import Foundation
import LoopixProvider
import LoopixSphinx

/// One benchmark's store and where its work has got to; the file is made in setup and deleted in teardown.
final class StoreRun<Store: MailboxOperations>: @unchecked Sendable {
    // Touched only by one benchmark's setup, closure and teardown, which the runner calls one at a time.
    var workload: MailboxWorkload { MailboxWorkload.shared }
    var store: Store!
    private var folder: URL?
    var cursor = 0
    var batches: [[(mailbox: SphinxAddress, packet: [UInt8])]] = []
    private var batchCursor = 0

    func open(durability: MailboxStore.Durability, preload: Int) throws {
        (store, folder) = try workload.makeStore(Store.self, durability: durability, preload: preload)
        precondition(store.runsOnCallingThread(), "thread CPU time would miss the store's work")
        cursor = 0
        batchCursor = 0
    }

    /// The next delivery batch in turn.
    func nextBatch() -> [(mailbox: SphinxAddress, packet: [UInt8])] {
        defer { batchCursor += 1 }
        return batches[batchCursor % batches.count]
    }

    func close() {
        store = nil
        if let folder { try? FileManager.default.removeItem(at: folder) }
        folder = nil
    }

    /// The next mailbox in turn: pulls go round all clients.
    func nextMailbox() -> SphinxAddress {
        defer { cursor += 1 }
        return workload.mailboxes[cursor % workload.mailboxes.count]
    }
}

/// CPU time of the calling thread, which does all of a store's work (GRDB's `DatabaseQueue` runs its
/// closures on the caller's thread, checked in setup). Unlike wall time it leaves out waiting for the
/// disk and for other tenants' processes, so it shows what each binding costs on a shared machine.
let threadCPU = BenchmarkMetric.custom("Thread CPU (ns)")

@inline(__always)
func threadCPUNanoseconds() -> Int {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return t.tv_sec * 1_000_000_000 + t.tv_nsec
}

/// Fixed iteration counts (the time bound is only a safety net), so that both stores do exactly the same
/// work on files that grow the same way. Counts are printed unscaled, so that small differences show.
func configuration(warmup: Int, iterations: Int) -> Benchmark.Configuration {
    .init(metrics: [.wallClock, threadCPU, .mallocCountTotal], timeUnits: .microseconds,
          units: [.mallocCountTotal: .count, threadCPU: .count],
          warmupIterations: warmup, maxDuration: .seconds(600), maxIterations: iterations)
}

func registerBenchmarks<Store: MailboxOperations>(_: Store.Type, named implementation: String) {
    for durability in [MailboxStore.Durability.full, .normal] {
        // Delivery: one `store` of 256 packets (one transaction) to mailboxes drawn at random.
        let deliver = StoreRun<Store>()
        Benchmark("deliver-256 \(durability.rawValue) \(implementation)",
                  configuration: configuration(warmup: 5, iterations: 150)) { benchmark in
            let cpu = threadCPUNanoseconds()
            let outcomes = try! deliver.store.store(deliver.nextBatch())
            benchmark.measurement(threadCPU, threadCPUNanoseconds() - cpu)
            precondition(outcomes.allSatisfy { $0 == .stored })
        } setup: {
            try deliver.open(durability: durability, preload: 0)
            deliver.batches = deliver.workload.deliveryBatches(count: 32, size: 256, seed: 1)
        } teardown: {
            deliver.close()
        }

        // Pull: key, oldest K, removal of all K, for each client in turn; every mailbox holds K packets
        // and gets K new ones after its pull, outside the measurement.
        for k in [4, 16] {
            let pull = StoreRun<Store>()
            Benchmark("pull-k\(k) \(durability.rawValue) \(implementation)",
                      configuration: configuration(warmup: 20, iterations: 600)) { benchmark in
                let mailbox = pull.nextMailbox()
                let cpu = threadCPUNanoseconds()
                let removed = try! MailboxWorkload.pull(pull.store, mailbox: mailbox, limit: k)
                benchmark.measurement(threadCPU, threadCPUNanoseconds() - cpu)
                benchmark.stopMeasurement()
                precondition(removed == k)
                _ = try! pull.store.store(pull.workload.batch(for: mailbox, count: k, offset: pull.cursor))
            } setup: {
                try pull.open(durability: durability, preload: k)
            } teardown: {
                pull.close()
            }
        }

        // Steady state, one iteration = 100 ms of a provider with 1,000 clients that pull every 0.5 s
        // (K = 4) while 3,000 packets/s arrive: 10 times a batch of 30 deliveries, then 20 pulls.
        let mixed = StoreRun<Store>()
        Benchmark("mixed-100ms \(durability.rawValue) \(implementation)",
                  configuration: configuration(warmup: 5, iterations: 30)) { benchmark in
            let cpu = threadCPUNanoseconds()
            for _ in 0..<10 {
                let outcomes = try! mixed.store.store(mixed.nextBatch())
                precondition(outcomes.allSatisfy { $0 == .stored })
                for _ in 0..<20 {
                    blackHole(try! MailboxWorkload.pull(mixed.store, mailbox: mixed.nextMailbox(), limit: 4))
                }
            }
            benchmark.measurement(threadCPU, threadCPUNanoseconds() - cpu)
        } setup: {
            try mixed.open(durability: durability, preload: 2)
            mixed.batches = mixed.workload.deliveryBatches(count: 400, size: 30, seed: 2)
        } teardown: {
            mixed.close()
        }
    }

    // Reads alone (no commit, so durability plays no part): key and the 16 oldest, each client in turn.
    let read = StoreRun<Store>()
    Benchmark("read-k16 \(implementation)", configuration: configuration(warmup: 100, iterations: 5_000)) { benchmark in
        let mailbox = read.nextMailbox()
        let cpu = threadCPUNanoseconds()
        blackHole(try! read.store.verifyingKey(for: mailbox))
        blackHole(try! read.store.oldest(mailbox: mailbox, limit: 16))
        benchmark.measurement(threadCPU, threadCPUNanoseconds() - cpu)
    } setup: {
        try read.open(durability: .normal, preload: 16)
    } teardown: {
        read.close()
    }
}

let benchmarks: @Sendable () -> Void = {
    registerBenchmarks(MailboxStore.self, named: "handwritten")
    registerBenchmarks(GRDBMailboxStore.self, named: "grdb")
}
