// The configuration file of a client, and the rates it asks for.
import LoopixClient
import LoopixNetwork
import LoopixSphinx

/// The configuration file of a client.
public struct ClientConfigurationFile: Codable, Sendable {
    public var topology: String
    public var authority: String?
    /// The client's key file (from `loopix keygen`): its Sphinx key and its pull-signing key.
    public var key: String
    /// The client's mailbox id at its provider (hex).
    public var mailbox: String
    /// The node id of the client's provider (hex).
    public var provider: String
    /// Overrides of the topology's client rates (per second) and pull interval (seconds).
    public var payloadRate: Double?
    public var loopRate: Double?
    public var dropRate: Double?
    public var pullInterval: Double?
    /// Messages the send buffer holds (default 1000).
    public var sendBuffer: Int?
    public var logLevel: String?

    /// A file naming the topology, the key, the mailbox and the provider; every other field unset.
    public init(topology: String, key: String, mailbox: String, provider: String, authority: String? = nil) {
        self.topology = topology
        self.key = key
        self.mailbox = mailbox
        self.provider = provider
        self.authority = authority
    }

    static let fields: Set<String> = [
        "topology", "authority", "key", "mailbox", "provider", "payloadRate", "loopRate", "dropRate", "pullInterval",
        "sendBuffer", "logLevel",
    ]

    public static func load(_ path: String) throws -> ClientConfigurationFile {
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

    public func rates(_ parameters: NetworkParameters) -> ClientRates {
        ClientRates(payload: payloadRate ?? parameters.clientPayloadRate, loop: loopRate ?? parameters.clientLoopRate,
                    drop: dropRate ?? parameters.clientDropRate, pullInterval: pullInterval ?? parameters.pullInterval)
    }
}
