// The relay floor as `loopix bench node` runs it: a child process in the node's place, driven by
// the same step runner, its packets matched by the sink as they pass through unchanged.
import Foundation
import Testing
@testable import LoopixBench

@Suite("Relay floor in the node benchmark")
struct RelayFloorTests {
    @Test("one short step through relay_floor with sealed links: every packet matched, CPU split by thread, no drops",
          .timeLimit(.minutes(1)))
    func oneStep() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-floor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let setup = try NodeBenchSetup(directory: directory, eventLoops: nil, eventLoopSliceUs: nil, poolPackets: 3000)
        let progress = BenchProgress("relay floor test")
        let rig = try setup.rig(step: 2.5, warmup: 0.5, progress: progress)
        defer { rig.sink.stop() }
        let rate = 3000.0
        let step = try await setup.withFloors([.sealed], workers: 2, packetBytes: rig.pool.frameBytes - 6,
                                              log: { directory.appendingPathComponent("floor-\($0.rawValue).log") }) { floors in
            try await rig.runner.run(node: floors[0], rate: rate, label: "floor-sealed", loadFraction: 0.5, progress: progress)
        }
        // Throughput counts only packets the sink matched to their send times.
        #expect(step.unknownPackets == 0)
        #expect(step.throughput > 0.8 * rate && step.throughput < 1.2 * rate, "relayed \(step.throughput)/s at \(rate)/s offered")
        #expect(step.latencyMs.count > Int(rate), "\(step.latencyMs.count) latencies")
        #expect(step.latencyMs.p50 > 0 && step.latencyMs.p50 < 50)
        #expect(step.drops.values.reduce(0, +) == 0, "drops \(step.drops)")
        // CPU from the floor's own threads: its loop (`floor-loop`) and workers (`floor-worker*`),
        // read in clock ticks (10 ms) from /proc, so their sum matches the process's only roughly.
        let loop = try #require(step.loopMicrosecondsPerPacket)
        #expect(loop > 0)
        #expect(step.workerMicrosecondsPerPacket > 0)
        #expect(step.microsecondsPerPacket > 0)
    }
}
