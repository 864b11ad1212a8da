// Configuration files of `loopix mix`, `provider` and `client`: JSON, strict, every error naming its field.
import Foundation
import LoopixClient
import LoopixNetwork
import LoopixNode
import LoopixProvider
import LoopixSphinx

/// A configuration file that could not be used; the message names the file and the field.
struct ConfigurationError: Error, CustomStringConvertible {
    let file: String
    let field: String
    let problem: String
    var description: String { "\(file): field \"\(field)\": \(problem)" }
}

/// Reads a JSON configuration: refuses unknown fields (a typo must not be silently ignored) and
/// turns decoding errors into messages that name the field.
func readConfiguration<T: Decodable>(_ type: T.Type, from path: String, knownFields: Set<String>) throws -> T {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw ConfigurationError(file: path, field: "-", problem: "cannot read the file: \(error.localizedDescription)")
    }
    guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
        throw ConfigurationError(file: path, field: "-", problem: "not a JSON object")
    }
    if let unknown = Set(object.keys).subtracting(knownFields).sorted().first {
        throw ConfigurationError(file: path, field: unknown, problem: "unknown field (known: \(knownFields.sorted().joined(separator: ", ")))")
    }
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let DecodingError.keyNotFound(key, context) {
        throw ConfigurationError(file: path, field: fieldPath(context.codingPath + [key]), problem: "missing")
    } catch let DecodingError.typeMismatch(type, context) {
        throw ConfigurationError(file: path, field: fieldPath(context.codingPath), problem: "expected \(type)")
    } catch let DecodingError.valueNotFound(type, context) {
        throw ConfigurationError(file: path, field: fieldPath(context.codingPath), problem: "expected \(type), found null")
    } catch let DecodingError.dataCorrupted(context) {
        throw ConfigurationError(file: path, field: fieldPath(context.codingPath), problem: context.debugDescription)
    }
}

private func fieldPath(_ path: [any CodingKey]) -> String {
    path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
}

/// A path in a configuration file, relative to the file's own folder.
func resolve(_ path: String, relativeTo file: String) -> String {
    path.hasPrefix("/") ? path : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).path
}

// MARK: nodes

/// The configuration file of a mix or a provider.
struct NodeConfigurationFile: Codable {
    /// The signed topology document.
    var topology: String
    /// The expected authority key (hex); when set, a topology signed by another key is refused.
    var authority: String?
    /// The node's key file (from `loopix keygen`).
    var key: String
    /// Listening address for packets; the port defaults to the topology's.
    var listenHost: String?
    var port: Int?
    /// The Prometheus endpoint (GET /metrics); off unless metricsPort is set.
    var metricsHost: String?
    var metricsPort: Int?
    /// Crypto workers (default: the core count) and I/O event loops (default: one per four cores).
    var workers: Int?
    var eventLoops: Int?
    /// Scheduling slice the event loops ask for, in microseconds (default 100; 0: the kernel's default).
    var eventLoopSliceUs: Int?
    /// Packet buffers: the node's whole packet memory (default 16384).
    var packetBuffers: Int?
    /// AQM target sojourn of the crypto queue in milliseconds (default 1) and hard queue limit (default 2048).
    var aqmTargetMs: Double?
    var aqmQueueLimit: Int?
    /// Replay filter capacity per key epoch (default 10,000,000 tags).
    var replayCapacity: UInt64?
    /// Mixes: whether to send loops at the topology's λM (default true).
    var sendLoops: Bool?
    /// trace, debug, info (default), notice, warning, error, critical.
    var logLevel: String?
    // Providers only.
    /// The SQLite file of the mailboxes (required for a provider).
    var mailboxes: String?
    var quotaPerMailbox: Int?
    /// "full" (default: fsync per commit) or "normal".
    var durability: String?
    /// Where clients pull; the port defaults to the topology's clientPort.
    var pullHost: String?
    var pullPort: Int?
    /// Clients registered at start: mailbox id and pull-signing key, both hex.
    var clients: [ClientRegistration]?

    struct ClientRegistration: Codable {
        var mailbox: String
        var signingKey: String
    }

    static let fields: Set<String> = [
        "topology", "authority", "key", "listenHost", "port", "metricsHost", "metricsPort", "workers", "eventLoops",
        "eventLoopSliceUs", "packetBuffers", "aqmTargetMs", "aqmQueueLimit", "replayCapacity", "sendLoops", "logLevel", "mailboxes",
        "quotaPerMailbox", "durability", "pullHost", "pullPort", "clients",
    ]

    static func load(_ path: String) throws -> NodeConfigurationFile {
        var c = try readConfiguration(NodeConfigurationFile.self, from: path, knownFields: fields)
        c.topology = resolve(c.topology, relativeTo: path)
        c.key = resolve(c.key, relativeTo: path)
        c.mailboxes = c.mailboxes.map { resolve($0, relativeTo: path) }
        try c.validate(file: path)
        return c
    }

    func validate(file: String) throws {
        func bad(_ field: String, _ problem: String) -> ConfigurationError { ConfigurationError(file: file, field: field, problem: problem) }
        for (name, port) in [("port", port), ("metricsPort", metricsPort), ("pullPort", pullPort)] {
            if let port, !(0...65535).contains(port) { throw bad(name, "\(port) is not a port (0...65535)") }
        }
        if let workers, workers < 1 { throw bad("workers", "must be at least 1") }
        if let eventLoops, eventLoops < 1 { throw bad("eventLoops", "must be at least 1") }
        if let eventLoopSliceUs, eventLoopSliceUs != 0 && !(100...100_000).contains(eventLoopSliceUs) {
            throw bad("eventLoopSliceUs", "must be 0 (the kernel's default) or 100...100000")
        }
        if let packetBuffers, packetBuffers < 64 { throw bad("packetBuffers", "must be at least 64") }
        if let aqmTargetMs, !(aqmTargetMs > 0) { throw bad("aqmTargetMs", "must be positive") }
        if let aqmQueueLimit, aqmQueueLimit < 1 { throw bad("aqmQueueLimit", "must be at least 1") }
        if let replayCapacity, replayCapacity < 1 { throw bad("replayCapacity", "must be at least 1") }
        if let quotaPerMailbox, quotaPerMailbox < 1 { throw bad("quotaPerMailbox", "must be at least 1") }
        if let durability, MailboxStore.Durability(rawValue: durability) == nil { throw bad("durability", "must be \"full\" or \"normal\"") }
        if let logLevel, parseLogLevel(logLevel) == nil { throw bad("logLevel", "unknown level \"\(logLevel)\"") }
        if let authority, (try? VerifyingKey(hex: authority)) == nil { throw bad("authority", "must be 64 hex digits") }
        for (i, client) in (clients ?? []).enumerated() {
            if (try? SphinxAddress(hex: client.mailbox)) == nil { throw bad("clients[\(i)].mailbox", "must be 64 hex digits") }
            if (try? VerifyingKey(hex: client.signingKey)) == nil { throw bad("clients[\(i)].signingKey", "must be 64 hex digits") }
        }
    }

    /// The node settings this file asks for, over the defaults; the port defaults to the topology entry's.
    func nodeConfiguration(entry: NodeDescriptor) -> NodeConfiguration {
        var c = NodeConfiguration()
        c.listenHost = listenHost ?? "0.0.0.0"
        c.listenPort = port ?? entry.port
        c.metricsHost = metricsHost ?? "127.0.0.1"
        c.metricsPort = metricsPort
        if let workers { c.workers = workers }
        if let eventLoops { c.eventLoops = eventLoops }
        if let eventLoopSliceUs { c.eventLoopSliceMicroseconds = eventLoopSliceUs == 0 ? nil : eventLoopSliceUs }
        if let packetBuffers { c.packetBuffers = packetBuffers }
        if let aqmTargetMs { c.aqm.targetDelay = aqmTargetMs / 1000 }
        if let aqmQueueLimit { c.aqm.queueLimit = aqmQueueLimit }
        if let replayCapacity { c.replayCapacity = replayCapacity }
        if let sendLoops { c.sendLoops = sendLoops }
        return c
    }
}

// MARK: clients

/// The configuration file of a client.
struct ClientConfigurationFile: Codable {
    var topology: String
    var authority: String?
    /// The client's key file (from `loopix keygen`): its Sphinx key and its pull-signing key.
    var key: String
    /// The client's mailbox id at its provider (hex).
    var mailbox: String
    /// The node id of the client's provider (hex).
    var provider: String
    /// Overrides of the topology's client rates (per second) and pull interval (seconds).
    var payloadRate: Double?
    var loopRate: Double?
    var dropRate: Double?
    var pullInterval: Double?
    /// Messages the send buffer holds (default 1000).
    var sendBuffer: Int?
    var logLevel: String?

    static let fields: Set<String> = [
        "topology", "authority", "key", "mailbox", "provider", "payloadRate", "loopRate", "dropRate", "pullInterval",
        "sendBuffer", "logLevel",
    ]

    static func load(_ path: String) throws -> ClientConfigurationFile {
        var c = try readConfiguration(ClientConfigurationFile.self, from: path, knownFields: fields)
        c.topology = resolve(c.topology, relativeTo: path)
        c.key = resolve(c.key, relativeTo: path)
        func bad(_ field: String, _ problem: String) -> ConfigurationError { ConfigurationError(file: path, field: field, problem: problem) }
        if (try? SphinxAddress(hex: c.mailbox)) == nil { throw bad("mailbox", "must be 64 hex digits") }
        if (try? NodeID(hex: c.provider)) == nil { throw bad("provider", "must be 64 hex digits") }
        for (name, rate) in [("payloadRate", c.payloadRate), ("loopRate", c.loopRate), ("dropRate", c.dropRate)] {
            if let rate, !(rate >= 0) { throw bad(name, "must not be negative") }
        }
        if let p = c.pullInterval, !(p > 0) { throw bad("pullInterval", "must be positive") }
        if let s = c.sendBuffer, s < 1 { throw bad("sendBuffer", "must be at least 1") }
        if let l = c.logLevel, parseLogLevel(l) == nil { throw bad("logLevel", "unknown level \"\(l)\"") }
        if let a = c.authority, (try? VerifyingKey(hex: a)) == nil { throw bad("authority", "must be 64 hex digits") }
        return c
    }

    func rates(_ parameters: NetworkParameters) -> ClientRates {
        ClientRates(payload: payloadRate ?? parameters.clientPayloadRate, loop: loopRate ?? parameters.clientLoopRate,
                    drop: dropRate ?? parameters.clientDropRate, pullInterval: pullInterval ?? parameters.pullInterval)
    }
}

import Logging

func parseLogLevel(_ text: String) -> Logger.Level? { Logger.Level(rawValue: text.lowercased()) }

/// Logs to standard error at `level`.
func bootstrapLogging(_ level: String?) {
    let parsed = parseLogLevel(level ?? "info") ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = parsed
        return handler
    }
}

/// Loads the signed topology a configuration names.
func loadTopology(_ path: String, authority: String?) throws -> Topology {
    try SignedTopology.load(path: path, expectedAuthority: try authority.map { try VerifyingKey(hex: $0) })
}
