// Configuration files read strictly: every refusal names the file and the field, and relative
// paths are taken from the file's own folder.
import Foundation
import LoopixConfiguration
import LoopixTestSupport
import Testing

@Suite("Configuration files")
struct ConfigurationFileTests {
    let dir = makeTemporaryDirectory("loopix-config")

    func write(_ json: String, _ name: String = "node.json") throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(json.utf8).write(to: url)
        return url.path
    }

    func refusal(_ body: () throws -> Void) -> ConfigurationError? {
        do { try body() } catch let error as ConfigurationError { return error } catch { return nil }
        return nil
    }

    @Test("relative paths are resolved against the file's folder; absolute ones are kept")
    func relativePaths() throws {
        let path = try write(#"{"topology": "net/topology.json", "key": "/keys/node.key", "mailboxes": "data/m.sqlite"}"#)
        let file = try NodeConfigurationFile.load(path)
        #expect(file.topology == dir.appendingPathComponent("net/topology.json").path)
        #expect(file.key == "/keys/node.key")
        #expect(file.mailboxes == dir.appendingPathComponent("data/m.sqlite").path)
    }

    @Test("an unknown field, a missing field and a wrong type each name the field and the file",
          arguments: [
              (#"{"topology": "t", "key": "k", "prot": 1}"#, "prot", "unknown field"),
              (#"{"key": "k"}"#, "topology", "missing"),
              (#"{"topology": "t", "key": "k", "packetBuffers": "many"}"#, "packetBuffers", "expected"),
              (#"{"topology": "t", "key": "k", "port": 70000}"#, "port", "not a port"),
              (#"{"topology": "t", "key": "k", "eventLoopSliceUs": 50}"#, "eventLoopSliceUs", "100...100000"),
              (#"{"topology": "t", "key": "k", "clients": [{"mailbox": "zz", "signingKey": "00"}]}"#, "clients[0].mailbox", "64 hex"),
          ])
    func refusals(json: String, field: String, problem: String) throws {
        let path = try write(json)
        let error = refusal { _ = try NodeConfigurationFile.load(path) }
        #expect(error?.field == field)
        #expect(error?.description.contains(problem) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix(path) == true)
    }

    @Test("a client file's rates must not be negative and its mailbox must be hex")
    func clientRefusals() throws {
        let hex = String(repeating: "ab", count: 32)
        let negative = try write(#"{"topology": "t", "key": "k", "mailbox": "\#(hex)", "provider": "\#(hex)", "loopRate": -1}"#, "c.json")
        #expect(refusal { _ = try ClientConfigurationFile.load(negative) }?.field == "loopRate")
        let badMailbox = try write(#"{"topology": "t", "key": "k", "mailbox": "x", "provider": "\#(hex)"}"#, "d.json")
        #expect(refusal { _ = try ClientConfigurationFile.load(badMailbox) }?.field == "mailbox")
    }

    @Test("a written configuration reads back the same, with unset fields left out")
    func roundTrip() throws {
        var file = NodeConfigurationFile(topology: "topology.json", key: "node.key")
        file.workers = 2
        file.sendLoops = false
        let url = dir.appendingPathComponent("written.json")
        try writeConfiguration(file, to: url)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(!text.contains("metricsPort"))
        let read = try NodeConfigurationFile.load(url.path)
        #expect(read.workers == 2 && read.sendLoops == false && read.topology == dir.appendingPathComponent("topology.json").path)
    }
}
