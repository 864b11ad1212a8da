// Configuration files read strictly: every refusal names the file and the field, and relative
// paths are taken from the file's own folder.
import Foundation
@testable import LoopixConfiguration
import LoopixNetwork
import LoopixNode
import LoopixProvider
import LoopixTestSupport
import Testing

/// A pinned authority key, and the same as a JSON member; a `directory` member pinning it.
private let authority = String(repeating: "ab", count: 32)
private let pinned = #""authority": "\#(authority)","#
private let parameters = #"{"geometry": {"hops": 6, "payload": 2048}, "layers": 3, "mixDelayRate": 50, "mixLoopRate": 1, "loopReturnThreshold": 0.8}"#
private let directory = #""directory": {"host": "127.0.0.1", "port": 4000, "authorities": ["\#(authority)"]}"#

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
        let path = try write(#"{"topology": "net/topology.json", "authority": "\#(authority)", "key": "/keys/node.key", "mailboxes": "data/m.sqlite"}"#)
        let file = try NodeConfigurationFile.load(path)
        #expect(file.topology == dir.appendingPathComponent("net/topology.json").path)
        #expect(file.key == "/keys/node.key")
        #expect(file.mailboxes == dir.appendingPathComponent("data/m.sqlite").path)
    }

    @Test("a provider's handshake settings reach its pull port as well as its packet port")
    func pullPortHandshakes() throws {
        let path = try write(#"{"topology": "t", \#(pinned) "key": "k", "mailboxes": "m.sqlite", "maxPendingHandshakes": 40, "handshakeTimeout": 2.5}"#)
        let file = try NodeConfigurationFile.load(path)
        let provider = file.providerConfiguration(store: "m.sqlite", pullPort: 4001, pullSize: 8)
        #expect(provider.pullLimits.maxPendingHandshakesPerAddress == 40)
        #expect(provider.pullLimits.links.handshakeTimeout == 2.5)
        #expect(file.nodeConfiguration(port: 4000).maxPendingHandshakesPerAddress == 40)
        let defaults = try NodeConfigurationFile.load(try write(#"{"topology": "t", \#(pinned) "key": "k", "mailboxes": "m.sqlite"}"#))
            .providerConfiguration(store: "m.sqlite", pullPort: 4001, pullSize: 8)
        #expect(defaults.pullLimits == PullLimits())
    }

    @Test("an unknown field, a missing field and a wrong type each name the field and the file",
          arguments: [
              (#"{"topology": "t", \#(pinned) "key": "k", "prot": 1}"#, "prot", "unknown field"),
              (#"{"key": "k"}"#, "topology", "missing"),
              (#"{"topology": "t", "key": "k"}"#, "authority", "required with a topology"),
              (#"{"topology": "t", \#(pinned) "key": "k", "packetBuffers": "many"}"#, "packetBuffers", "expected"),
              (#"{"topology": "t", \#(pinned) "key": "k", "port": 70000}"#, "port", "not a port"),
              (#"{"topology": "t", \#(pinned) "key": "k", "eventLoopSliceUs": 50}"#, "eventLoopSliceUs", "100...100000"),
              (#"{"topology": "t", \#(pinned) "key": "k", "aqmSojournLimitMs": -1}"#, "aqmSojournLimitMs", "0 (off)"),
              (#"{"topology": "t", \#(pinned) "key": "k", "clients": [{"mailbox": "zz", "signingKey": "00"}]}"#, "clients[0].mailbox", "64 hex"),
              (#"{"topology": "t", \#(pinned) "key": "k", "state": "s"}"#, "state", "only used with a \"directory\""),
              (#"{"topology": "t", \#(pinned) "key": "k", \#(directory) }"#, "directory", "not both"),
              (#"{\#(directory), "key": "k", "port": 4000, "listenHost": "127.0.0.1"}"#, "state", "required with a directory"),
              (#"{\#(directory), "key": "k", "state": "s", "listenHost": "127.0.0.1"}"#, "port", "required with a directory"),
              (#"{\#(directory), "key": "k", "state": "s", "port": 4000}"#, "announceHost", "wildcard"),
              (#"{\#(directory), "key": "k", "state": "s", "port": 4000, "listenHost": "0.0.0.0"}"#, "announceHost", "wildcard"),
              (#"{\#(directory), "key": "k", "state": "s", "port": 4000, "announceHost": "h", "replayCapacity": 5}"#,
               "replayCapacity", "ratedPacketsPerSecond"),
              (#"{"directory": {"host": "h", "port": 1, "authorities": ["zz"]}, "key": "k", "state": "s", "port": 4000}"#,
               "directory.authorities[0]", "64 hex"),
              (#"{"directory": {"host": "h", "port": 1, "authorities": []}, "key": "k", "state": "s", "port": 4000}"#,
               "directory.authorities", "at least one"),
              (#"{"directory": {"host": "h", "port": 1, "authorities": ["\#(authority)"], "threshold": 2}, "key": "k"}"#,
               "directory.threshold", "1...1"),
              (#"{"directory": {"hots": "h", "port": 1, "authorities": []}, "key": "k"}"#, "directory.hots", "unknown field"),
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
        let negative = try write(#"{"topology": "t", \#(pinned) "key": "k", "mailbox": "\#(hex)", "provider": "\#(hex)", "loopRate": -1}"#, "c.json")
        #expect(refusal { _ = try ClientConfigurationFile.load(negative) }?.field == "loopRate")
        let badMailbox = try write(#"{"topology": "t", \#(pinned) "key": "k", "mailbox": "x", "provider": "\#(hex)"}"#, "d.json")
        #expect(refusal { _ = try ClientConfigurationFile.load(badMailbox) }?.field == "mailbox")
        let unpinned = try write(#"{"topology": "t", "key": "k", "mailbox": "\#(hex)", "provider": "\#(hex)"}"#, "e.json")
        #expect(refusal { _ = try ClientConfigurationFile.load(unpinned) }?.field == "authority")
        let both = try write(#"{"topology": "t", \#(directory), "key": "k", "mailbox": "\#(hex)", "provider": "\#(hex)"}"#, "f.json")
        #expect(refusal { _ = try ClientConfigurationFile.load(both) }?.field == "directory")
        let directed = try write(#"{\#(directory), "key": "k", "mailbox": "\#(hex)", "provider": "\#(hex)"}"#, "g.json")
        #expect(try ClientConfigurationFile.load(directed).directory?.trust.authorities.count == 1)
    }

    @Test("a directory-mode node file resolves its state folder and announces its listening host")
    func directoryMode() throws {
        let path = try write(#"{\#(directory), "key": "k", "state": "state/mix", "port": 4000, "listenHost": "10.0.0.6"}"#)
        let file = try NodeConfigurationFile.load(path)
        #expect(file.state == dir.appendingPathComponent("state/mix").path)
        #expect(file.announcedHost == "10.0.0.6")
        #expect(file.directory?.trust.threshold == 1)
        // By default the AQM follows the network: 10 ms at µ = 1000 /s, 50 ms at µ = 1 /s.
        let following = file.nodeConfiguration(port: 4000)
        #expect(following.aqmTarget == nil)
        #expect(following.resolvedAQM(mixDelayRate: 1000).targetDelay == 0.010)
        #expect(abs(following.resolvedAQM(mixDelayRate: 1000).sojournLimit - 0.015) < 1e-12)
        #expect(following.resolvedAQM(mixDelayRate: 1).targetDelay == 0.05)
        let queueing = try NodeConfigurationFile.load(try write(
            #"{\#(directory), "key": "k", "state": "s", "port": 4000, "listenHost": "10.0.0.6", "aqmTargetMs": 1000, "aqmSojournLimitMs": 0}"#))
        #expect(queueing.nodeConfiguration(port: 4000).resolvedAQM(mixDelayRate: 1000).sojournLimit == 0)
        #expect(queueing.nodeConfiguration(port: 4000).resolvedAQM(mixDelayRate: 1000).targetDelay == 1)
        let fixed = try NodeConfigurationFile.load(try write(
            #"{\#(directory), "key": "k", "state": "s", "port": 4000, "listenHost": "10.0.0.6", "aqmTargetMs": 2, "aqmSojournLimitMs": 3}"#))
        #expect(abs(fixed.nodeConfiguration(port: 4000).resolvedAQM(mixDelayRate: 1).sojournLimit - 0.003) < 1e-12)
        #expect(throws: ConfigurationError.self) {
            try NodeConfigurationFile.load(try write(#"{\#(directory), "key": "k", "state": "s", "port": 4000, "listenHost": "10.0.0.6", "aqmSojournLimitMs": 3}"#))
        }
    }

    @Test("an authority file names its bad fields, inside the parameters too",
          arguments: [
              (#""port": 4000, "parameters": \#(parameters), "prot": 1"#, "prot", "unknown field"),
              (#""port": 4000"#, "parameters", "missing"),
              (#""port": 4000, "parameters": {"layers": 3}"#, "parameters.geometry", "missing"),
              (#""port": 4000, "parameters": \#(parameters.replacingOccurrences(of: "\"layers\": 3", with: "\"layerz\": 3"))"#,
               "parameters.layerz", "unknown field"),
              (#""port": 4000, "parameters": \#(parameters.replacingOccurrences(of: "\"mixDelayRate\": 50", with: "\"mixDelayRate\": 0"))"#,
               "parameters", "rates must be positive"),
              (#""port": 4000, "parameters": \#(parameters.replacingOccurrences(of: "\"layers\": 3", with: "\"layers\": 4"))"#,
               "parameters", "7 hops"),
              (#""port": 4000, "parameters": \#(parameters), "epochLength": 0"#, "epochLength", "at least 1"),
              (#""port": 70000, "parameters": \#(parameters)"#, "port", "not a port"),
          ])
    func authorityRefusals(fields: String, field: String, problem: String) throws {
        let path = try write(#"{"key": "a.key", "state": "s", "registry": "r.json", \#(fields)}"#, "authority.json")
        let error = refusal { _ = try AuthorityConfigurationFile.load(path) }
        #expect(error?.field == field, "\(String(describing: error))")
        #expect(error?.description.contains(problem) == true, "\(String(describing: error))")
    }

    @Test("an authority file takes the topology's parameters and defaults to one-hour epochs from 0")
    func authorityFile() throws {
        let path = try write(#"{"key": "a.key", "state": "s", "registry": "r.json", "port": 4000, "parameters": \#(parameters)}"#,
                             "authority.json")
        let file = try AuthorityConfigurationFile.load(path)
        #expect(file.schedule == EpochSchedule(genesis: 0, length: 3600))
        #expect(file.parameters.layers == 3 && file.parameters.mixDelayRate == 50)
        #expect(file.registry == dir.appendingPathComponent("r.json").path)
    }

    @Test("a written configuration reads back the same, with unset fields left out")
    func roundTrip() throws {
        var file = NodeConfigurationFile(topology: "topology.json", key: "node.key", authority: authority)
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
