// Configuration files: each bad value is refused at start with an error that names its field.
import ChildProcesses
import Foundation
import LoopixTestSupport
import Testing

@Suite("Configuration validation")
struct ConfigurationTests {
    /// Built once for the suite, off the cooperative pool.
    static let net = Task { try await ProcessNetwork.make(layers: 1, providers: 1) }

    @Test("each bad value names its field",
          arguments: [
              ("port", "70000"), ("workers", "0"), ("logLevel", "\"loud\""), ("durability", "\"sometimes\""),
              ("aqmTargetMs", "-1"), ("prot", "1"), ("packetBuffers", "\"many\""), ("authority", "\"xyz\""),
              ("quotaPerMailbox", "0"), ("eventLoopSliceUs", "50"),
          ])
    func badNodeValues(field: String, json: String) async throws {
        let named = field
        let value = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
        let net = try await Self.net.value
        var config = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: try net.providerConfig(0)))) as! [String: Any]
        config[field] = value
        let name = "bad-\(field).json"
        try net.writeJSON(config, name)
        let r = try await loopix(["provider", "--config", net.dir.appendingPathComponent(name).path], timeout: 20)
        #expect(r.status != 0)
        #expect(r.stderr.contains("\"\(named)\""), "error must name \(named): \(r.stderr)")
    }

    @Test("a missing required field and a bad client mailbox are named")
    func missingAndNested() async throws {
        let net = try await Self.net.value
        try net.writeJSON(["key": "provider-0.key"], "no-topology.json")
        let r = try await loopix(["mix", "--config", net.dir.appendingPathComponent("no-topology.json").path])
        #expect(r.status != 0 && r.stderr.contains("\"topology\""), "\(r.stderr)")
        var config = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: try net.providerConfig(0)))) as! [String: Any]
        config["clients"] = [["mailbox": "00", "signingKey": String(repeating: "0", count: 64)]]
        try net.writeJSON(config, "bad-client.json")
        let r2 = try await loopix(["provider", "--config", net.dir.appendingPathComponent("bad-client.json").path])
        #expect(r2.status != 0 && r2.stderr.contains("clients[0].mailbox"), "\(r2.stderr)")
    }

    @Test("a key file others can read is refused")
    func worldReadableKey() async throws {
        let net = try await Self.net.value
        let key = net.dir.appendingPathComponent("mix-1.key").path
        chmod(key, 0o644)
        defer { chmod(key, 0o600) }
        let r = try await loopix(["mix", "--config", net.dir.appendingPathComponent("mix-1.json").path])
        #expect(r.status != 0 && r.stderr.contains("readable by others"), "\(r.stderr)")
    }

    @Test("a topology signed by another authority is refused when the authority is pinned")
    func pinnedAuthority() async throws {
        let net = try await Self.net.value
        var config = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: net.dir.appendingPathComponent("mix-1.json").path))) as! [String: Any]
        config["authority"] = String(repeating: "ab", count: 32)
        try net.writeJSON(config, "pinned.json")
        let r = try await loopix(["mix", "--config", net.dir.appendingPathComponent("pinned.json").path])
        #expect(r.status != 0 && r.stderr.contains("expected authority"), "\(r.stderr)")
    }
}

@Suite("Interactive client")
struct InteractiveClientTests {
    @Test("the interactive client answers address and stats, explains bad commands, and quits")
    func scripted() async throws {
        let net = try await ProcessNetwork.make(layers: 1, providers: 1)
        let client = try await net.addClient("carol", provider: 0)
        let r = try await ChildProcess.run(loopixBinary, ["client", "--config", client.config],
                                           input: "address\nsend nowhere hi\nstats\nquit\n", timeout: 60)
        #expect(r.status == 0)
        let text = r.standardOutput
        #expect(text.contains(client.address))
        #expect(text.contains("usage: send ADDRESS TEXT"))
        #expect(text.contains("sent real"))
    }
}
