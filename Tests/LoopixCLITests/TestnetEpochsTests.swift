// `loopix testnet` over many key epochs: separate processes, 10-second epochs, 95 seconds of
// clients sending; every message sent long enough before the stop arrives exactly once, and the
// nodes process the packets built just before each boundary under the previous key.
import Foundation
import LoopixTestSupport
import Testing

@Suite("loopix testnet across key epochs", .serialized)
struct TestnetEpochsTests {
    /// Longer than any message's way through a testnet of 5 ms hops and 0.2 s pulls, with room
    /// for a loaded machine.
    static let maximumLatency = 10.0

    @Test("messages arrive exactly once across eight or more epoch boundaries; the previous key serves in grace")
    func acrossEpochs() async throws {
        let dir = makeTemporaryDirectory("loopix-testnet-epochs")
        let result = try await loopix([
            "testnet", "--dir", dir.path, "--duration", "95", "--epoch-seconds", "10", "--json", "--clients", "3",
            "--mixes-per-layer", "1", "--mean-delay-ms", "5", "--payload-rate", "10", "--loop-rate", "4", "--drop-rate", "2",
            "--demo-interval", "0.5", "--pull-interval", "0.2",
        ], timeout: 240)
        #expect(result.status == 0, "stderr: \(result.stderr.suffix(3000))")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                                   "stdout: \(result.stdout.suffix(2000))")
        let crossed = summary["epochsCrossed"] as? Int ?? 0
        #expect(crossed >= 8, "only \(crossed) epoch boundaries crossed")
        let previousKey = summary["previousKeyPackets"] as? [String: Int] ?? [:]
        #expect(previousKey.count == 5 && previousKey.values.allSatisfy { $0 > 0 }, "previous-key packets per node: \(previousKey)")
        // What someone watching saw: with --json and no terminal, a progress line every 5 s on
        // stderr, each naming the epoch; it climbs through the run.
        let shown = result.stderr.split(separator: "\n").compactMap { line -> UInt64? in
            guard line.hasPrefix("["), let range = line.range(of: "] epoch ") else { return nil }
            return UInt64(line[range.upperBound...].prefix { $0.isNumber })
        }
        #expect(Set(shown).count >= 6 && shown == shown.sorted(), "epochs in the progress lines: \(shown)")
        #expect(summary["processesLeft"] as? Int == 0)
        #expect(processes(mentioning: dir.path).isEmpty, "no process may outlive the testnet")

        // Every client's journal: what it sent, what it received, when it began to stop.
        var sent: [String: Double] = [:]
        var received: [String: Int] = [:]
        var stops: [Double] = []
        let status = dir.appendingPathComponent("status")
        for file in try FileManager.default.contentsOfDirectory(atPath: status.path) where file.hasSuffix(".journal") {
            for line in try String(contentsOf: status.appendingPathComponent(file), encoding: .utf8).split(separator: "\n") {
                let fields = line.split(separator: " ").map(String.init)
                guard let time = fields.last.flatMap(Double.init) else { continue }
                switch fields.first {
                case "sent": sent[fields[1]] = time
                case "received": received[fields[1], default: 0] += 1
                case "stopping": stops.append(time)
                default: break
                }
            }
        }
        let stop = try #require(stops.min(), "no client journal recorded its stop")
        let due = sent.filter { $0.value < stop - Self.maximumLatency }.map(\.key)
        #expect(due.count >= 300, "only \(due.count) messages were sent early enough to judge")
        let missing = due.filter { received[$0] == nil }.sorted()
        let duplicated = received.filter { $0.value > 1 }.map(\.key).sorted()
        // The figures, for whoever reads the log of a run.
        print("testnet across epochs: \(crossed) boundaries crossed; \(sent.count) messages sent, \(received.count) distinct received, "
              + "\(due.count) due, \(missing.count) missing, \(duplicated.count) duplicated; previous-key packets \(previousKey); drops \(summary["dropsByCause"] ?? "?")")
        #expect(missing.isEmpty, "\(missing.count) of \(due.count) messages never arrived: \(missing.prefix(20)); drops: \(summary["dropsByCause"] ?? "?")")
        #expect(duplicated.isEmpty, "messages that arrived more than once: \(duplicated.prefix(20))")
    }
}
