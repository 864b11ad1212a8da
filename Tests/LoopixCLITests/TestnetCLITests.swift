// `loopix testnet` as a user runs it: messages are delivered, loops return, nothing is left running.
import Foundation
import LoopixTestSupport
import Testing

@Suite("loopix testnet", .serialized)
struct TestnetCLITests {
    @Test("a short testnet delivers messages and returns loops, and leaves no process behind", arguments: ["v1", "kem"])
    func shortTestnet(suite: String) async throws {
        let dir = makeTemporaryDirectory("loopix-testnet")
        let result = try await loopix([
            "testnet", "--dir", dir.path, "--duration", "20", "--json", "--quiet", "--clients", "3", "--suite", suite,
            "--mixes-per-layer", "1", "--mean-delay-ms", "5", "--payload-rate", "10", "--loop-rate", "4",
            "--drop-rate", "2", "--demo-interval", "0.5", "--pull-interval", "0.2",
        ], timeout: 90)
        #expect(result.status == 0, "stderr: \(result.stderr.suffix(2000))")
        let summary = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let delivered = summary?["messagesDelivered"] as? Int ?? 0
        let sent = summary?["messagesSent"] as? Int ?? 0
        #expect(sent > 0 && delivered > 0, "summary: \(result.stdout)")
        #expect(Double(delivered) >= 0.5 * Double(sent), "most messages arrive within the run")
        #expect((summary?["loopsReturned"] as? Int ?? 0) > 0)
        #expect((summary?["repliesReceived"] as? Int ?? 0) >= 0)
        #expect(summary?["processesLeft"] as? Int == 0)
        #expect(processes(mentioning: dir.path).isEmpty, "no node or client may outlive the testnet")
        // The authority publishes the parameters of its configuration in every document.
        let parameters = try String(contentsOf: dir.appendingPathComponent("config/authority.json"), encoding: .utf8)
        #expect(parameters.contains("kem-x25519") == (suite == "kem"), "the authority's parameters name the suite the network ran")
    }

    @Test("testnet options are validated with a clear error")
    func badOptions() async throws {
        let r = try await loopix(["testnet", "--layers", "0", "--dir", makeTemporaryDirectory().path])
        #expect(r.status != 0 && r.stderr.contains("--layers"))
        let r2 = try await loopix(["testnet", "--mean-delay-ms", "-1", "--dir", makeTemporaryDirectory().path])
        #expect(r2.status != 0 && r2.stderr.contains("--mean-delay-ms"))
        let r3 = try await loopix(["testnet", "--suite", "v3", "--dir", makeTemporaryDirectory().path])
        #expect(r3.status != 0 && r3.stderr.contains("--suite"))
    }
}
