// The configuration file of a client, and the rates it asks for.
import LoopixClient
import LoopixNetwork
import LoopixSphinx

/// The configuration file of a client: a signed topology with the authority that signed it, or
/// a directory to follow.
public struct ClientConfigurationFile: Codable, Sendable {
    public var topology: String?
    /// The key (hex) that must have signed the topology; required with `topology`.
    public var authority: String?
    /// The directory authority to follow instead of a topology.
    public var directory: DirectoryAccess?
    /// The client's key file (from `loopix keygen`): its Sphinx key and its pull-signing key.
    public var key: String
    /// The client's mailbox id at its provider (hex).
    public var mailbox: String
    /// The node id of the client's provider (hex); with a directory, the provider's identity key.
    public var provider: String
    /// Overrides of the topology's client rates (per second) and pull interval (seconds).
    public var payloadRate: Double?
    public var loopRate: Double?
    public var dropRate: Double?
    public var pullInterval: Double?
    /// Messages the send buffer holds (default 1000).
    public var sendBuffer: Int?
    public var logLevel: String?

    /// A file naming the topology and its authority, the key, the mailbox and the provider; every other field unset.
    public init(topology: String, key: String, mailbox: String, provider: String, authority: String) {
        self.topology = topology
        self.key = key
        self.mailbox = mailbox
        self.provider = provider
        self.authority = authority
    }

    /// A file naming the directory to follow, the key, the mailbox and the provider's identity.
    public init(directory: DirectoryAccess, key: String, mailbox: String, provider: String) {
        self.directory = directory
        self.key = key
        self.mailbox = mailbox
        self.provider = provider
    }

    static let fields: Set<String> = [
        "topology", "authority", "directory", "key", "mailbox", "provider", "payloadRate", "loopRate", "dropRate",
        "pullInterval", "sendBuffer", "logLevel",
    ]

    public static func load(_ path: String) throws -> ClientConfigurationFile {
        var c = try readConfiguration(ClientConfigurationFile.self, from: path, knownFields: fields,
                                      nestedFields: ["directory": DirectoryAccess.fields])
        c.topology = c.topology.map { resolve($0, relativeTo: path) }
        c.key = resolve(c.key, relativeTo: path)
        func bad(_ field: String, _ problem: String) -> ConfigurationError { ConfigurationError(file: path, field: field, problem: problem) }
        switch (c.topology, c.directory) {
        case (nil, nil): throw bad("topology", "missing (give a signed \"topology\" with its \"authority\", or a \"directory\" to follow)")
        case (.some, .some): throw bad("directory", "give either a topology or a directory, not both")
        case (.some, nil):
            guard let a = c.authority else { throw bad("authority", "required with a topology: the key (hex) that must have signed it") }
            if (try? VerifyingKey(hex: a)) == nil { throw bad("authority", "must be 64 hex digits") }
        case (nil, .some(let directory)):
            try directory.validate(file: path)
            if c.authority != nil { throw bad("authority", "not used with a directory (pin its keys in directory.authorities)") }
        }
        if (try? SphinxAddress(hex: c.mailbox)) == nil { throw bad("mailbox", "must be 64 hex digits") }
        if (try? NodeID(hex: c.provider)) == nil { throw bad("provider", "must be 64 hex digits") }
        for (name, rate) in [("payloadRate", c.payloadRate), ("loopRate", c.loopRate), ("dropRate", c.dropRate)] {
            if let rate, !(rate >= 0) { throw bad(name, "must not be negative") }
        }
        if let p = c.pullInterval, !(p > 0) { throw bad("pullInterval", "must be positive") }
        if let s = c.sendBuffer, s < 1 { throw bad("sendBuffer", "must be at least 1") }
        if let l = c.logLevel, parseLogLevel(l) == nil { throw bad("logLevel", "unknown level \"\(l)\"") }
        return c
    }

    public func rates(_ parameters: NetworkParameters) -> ClientRates {
        ClientRates(payload: payloadRate ?? parameters.clientPayloadRate, loop: loopRate ?? parameters.clientLoopRate,
                    drop: dropRate ?? parameters.clientDropRate, pullInterval: pullInterval ?? parameters.pullInterval)
    }
}
