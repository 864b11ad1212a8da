// The configuration file of a mix or a provider, and the node settings it asks for.
import LoopixNetwork
import LoopixNode
import LoopixProvider
import LoopixSphinx

/// The configuration file of a mix or a provider. The node learns the network one of two ways:
/// from a single signed topology file (`topology` and the `authority` key that must have signed
/// it), or by following a directory authority (`directory`), in key epochs, with its identity
/// the signing key of its key file and its epoch keys and replay filters under `state`.
public struct NodeConfigurationFile: Codable, Sendable {
    /// The signed topology document (single-topology mode).
    public var topology: String?
    /// The key (hex) that must have signed the topology; required with `topology`.
    public var authority: String?
    /// The directory authority to follow (directory mode).
    public var directory: DirectoryAccess?
    /// The node's key file (from `loopix keygen`).
    public var key: String
    /// Listening address for packets; the port defaults to the topology's (directory mode: required).
    public var listenHost: String?
    public var port: Int?
    // Directory mode only.
    /// The folder of the epoch keys (`keys/`) and replay filters (`replay/`), made with mode 0700.
    public var state: String?
    /// A folder on a memory filesystem (/dev/shm/…) for the replay filters' working copies.
    public var replayLiveDirectory: String?
    /// Packets per second the node is rated for; sizes each epoch's replay filter (default 10,000).
    public var ratedPacketsPerSecond: Double?
    /// Seconds the previous epoch's key is kept after a boundary (default: the network's, from µ and the layers).
    public var grace: Double?
    /// The address the node announces to the directory (defaults: listenHost and port).
    public var announceHost: String?
    public var announcePort: Int?
    /// The Prometheus endpoint (GET /metrics); off unless metricsPort is set.
    public var metricsHost: String?
    public var metricsPort: Int?
    /// Crypto workers (default: the core count) and I/O event loops (default: one per four cores).
    public var workers: Int?
    public var eventLoops: Int?
    /// Scheduling slice the event loops ask for, in microseconds (default 100; 0: the kernel's default).
    public var eventLoopSliceUs: Int?
    /// Packet buffers: the node's whole packet memory (default 16384).
    public var packetBuffers: Int?
    /// AQM target sojourn of the crypto queue in milliseconds (default: a twentieth of the
    /// network's mean per-hop delay, within 10...50) and hard queue limit (default 2048).
    public var aqmTargetMs: Double?
    public var aqmQueueLimit: Int?
    /// The crypto queue's limit in time, in milliseconds (default 1.5 × the target; 0: off). A
    /// positive value needs `aqmTargetMs`: without it the target, and so the limit, follow the network.
    public var aqmSojournLimitMs: Double?
    /// Replay filter capacity per key epoch (default 10,000,000 tags).
    public var replayCapacity: UInt64?
    /// Mixes: whether to send loops at the topology's λM (default true).
    public var sendLoops: Bool?
    /// trace, debug, info (default), notice, warning, error, critical.
    public var logLevel: String?
    /// Links one peer's key may hold open at once (default 4), unfinished handshakes one address
    /// may have (default 16), and seconds a handshake may take (default 5); the last two on a
    /// provider's pull port too.
    public var maxLinksPerPeer: Int?
    public var maxPendingHandshakes: Int?
    public var handshakeTimeout: Double?
    // Providers only.
    /// The SQLite file of the mailboxes (required for a provider).
    public var mailboxes: String?
    public var quotaPerMailbox: Int?
    /// Days a packet may wait unread in a mailbox before it is deleted (default 7).
    public var mailboxExpiryDays: Double?
    /// "full" (default: fsync per commit) or "normal".
    public var durability: String?
    /// Where clients pull; the port defaults to the topology's clientPort.
    public var pullHost: String?
    public var pullPort: Int?
    /// Clients registered at start: mailbox id and pull-signing key, both hex.
    public var clients: [ClientRegistration]?

    public struct ClientRegistration: Codable, Sendable {
        public var mailbox: String
        public var signingKey: String

        public init(mailbox: String, signingKey: String) {
            self.mailbox = mailbox
            self.signingKey = signingKey
        }
    }

    /// A file naming the topology, the key and the authority that signed the topology; every
    /// other field unset (the defaults).
    public init(topology: String, key: String, authority: String?) {
        self.topology = topology
        self.key = key
        self.authority = authority
    }

    /// A file for directory mode: the authority to follow, the key, the state folder and the port.
    public init(directory: DirectoryAccess, key: String, state: String, port: Int) {
        self.directory = directory
        self.key = key
        self.state = state
        self.port = port
    }

    static let fields: Set<String> = [
        "topology", "authority", "directory", "key", "listenHost", "port", "state", "replayLiveDirectory",
        "ratedPacketsPerSecond", "grace", "announceHost", "announcePort", "metricsHost", "metricsPort", "workers", "eventLoops",
        "eventLoopSliceUs", "packetBuffers", "aqmTargetMs", "aqmQueueLimit", "aqmSojournLimitMs", "replayCapacity", "sendLoops", "logLevel", "mailboxes",
        "maxLinksPerPeer", "maxPendingHandshakes", "handshakeTimeout", "mailboxExpiryDays", "quotaPerMailbox", "durability", "pullHost", "pullPort", "clients",
    ]

    public static func load(_ path: String) throws -> NodeConfigurationFile {
        var c = try readConfiguration(NodeConfigurationFile.self, from: path, knownFields: fields,
                                      nestedFields: ["directory": DirectoryAccess.fields])
        c.topology = c.topology.map { resolve($0, relativeTo: path) }
        c.key = resolve(c.key, relativeTo: path)
        c.mailboxes = c.mailboxes.map { resolve($0, relativeTo: path) }
        c.state = c.state.map { resolve($0, relativeTo: path) }
        c.replayLiveDirectory = c.replayLiveDirectory.map { resolve($0, relativeTo: path) }
        try c.validate(file: path)
        return c
    }

    /// The host the node announces in directory mode: `announceHost`, else the listening host
    /// unless that is a wildcard (nil then: the file must name one).
    public var announcedHost: String? {
        if let announceHost { return announceHost }
        guard let listenHost, !["0.0.0.0", "::", ""].contains(listenHost) else { return nil }
        return listenHost
    }

    func validate(file: String) throws {
        func bad(_ field: String, _ problem: String) -> ConfigurationError { ConfigurationError(file: file, field: field, problem: problem) }
        try validateSource(file: file)
        for (name, port) in [("port", port), ("metricsPort", metricsPort), ("pullPort", pullPort), ("announcePort", announcePort)] {
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
        if let aqmSojournLimitMs, !(aqmSojournLimitMs >= 0) { throw bad("aqmSojournLimitMs", "must be 0 (off) or positive") }
        if let aqmSojournLimitMs, aqmSojournLimitMs > 0, aqmTargetMs == nil {
            throw bad("aqmSojournLimitMs", "a positive limit needs aqmTargetMs too (by default both follow the network's delay)")
        }
        if let replayCapacity, replayCapacity < 1 { throw bad("replayCapacity", "must be at least 1") }
        if let quotaPerMailbox, quotaPerMailbox < 1 { throw bad("quotaPerMailbox", "must be at least 1") }
        if let maxLinksPerPeer, maxLinksPerPeer < 1 { throw bad("maxLinksPerPeer", "must be at least 1") }
        if let maxPendingHandshakes, maxPendingHandshakes < 1 { throw bad("maxPendingHandshakes", "must be at least 1") }
        if let handshakeTimeout, !(handshakeTimeout > 0) { throw bad("handshakeTimeout", "must be positive") }
        if let mailboxExpiryDays, !(mailboxExpiryDays > 0) { throw bad("mailboxExpiryDays", "must be positive") }
        if let durability, MailboxStore.Durability(rawValue: durability) == nil { throw bad("durability", "must be \"full\" or \"normal\"") }
        if let logLevel, parseLogLevel(logLevel) == nil { throw bad("logLevel", "unknown level \"\(logLevel)\"") }
        for (i, client) in (clients ?? []).enumerated() {
            if (try? SphinxAddress(hex: client.mailbox)) == nil { throw bad("clients[\(i)].mailbox", "must be 64 hex digits") }
            if (try? VerifyingKey(hex: client.signingKey)) == nil { throw bad("clients[\(i)].signingKey", "must be 64 hex digits") }
        }
    }

    /// Where the network comes from: a topology with the authority that signed it, or a directory
    /// with a state folder and a port and host to announce; the fields of one mode are refused in the other.
    private func validateSource(file: String) throws {
        func bad(_ field: String, _ problem: String) -> ConfigurationError { ConfigurationError(file: file, field: field, problem: problem) }
        let directoryOnly: [(String, Bool)] = [
            ("state", state != nil), ("replayLiveDirectory", replayLiveDirectory != nil),
            ("ratedPacketsPerSecond", ratedPacketsPerSecond != nil), ("grace", grace != nil),
            ("announceHost", announceHost != nil), ("announcePort", announcePort != nil),
        ]
        switch (topology, directory) {
        case (nil, nil):
            throw bad("topology", "missing (give a signed \"topology\" with its \"authority\", or a \"directory\" to follow)")
        case (.some, .some):
            throw bad("directory", "give either a topology or a directory, not both")
        case (.some, nil):
            guard let authority else {
                throw bad("authority", "required with a topology: the key (hex) that must have signed it")
            }
            if (try? VerifyingKey(hex: authority)) == nil { throw bad("authority", "must be 64 hex digits") }
            if let (name, _) = directoryOnly.first(where: { $0.1 }) { throw bad(name, "only used with a \"directory\"") }
        case (nil, .some(let directory)):
            try directory.validate(file: file)
            if authority != nil { throw bad("authority", "not used with a directory (pin its keys in directory.authorities)") }
            if replayCapacity != nil {
                throw bad("replayCapacity", "not used with a directory (each epoch's filter is sized from ratedPacketsPerSecond)")
            }
            if state == nil { throw bad("state", "required with a directory: the folder of the epoch keys and replay filters") }
            guard let port, port > 0 else { throw bad("port", "required with a directory (1...65535): the port announced and listened on") }
            if announcedHost == nil {
                throw bad("announceHost", "required when listenHost is unset or a wildcard: the address other nodes reach this one at")
            }
            if let rate = ratedPacketsPerSecond, !(rate > 0) { throw bad("ratedPacketsPerSecond", "must be positive") }
            if let grace, !(grace >= 0) { throw bad("grace", "must not be negative") }
        }
    }

    /// The node settings this file asks for, over the defaults; the port defaults to the topology entry's.
    public func nodeConfiguration(entry: NodeDescriptor) -> NodeConfiguration {
        var c = nodeConfiguration(port: port ?? entry.port)
        c.metricsPort = metricsPort
        return c
    }

    /// The node settings this file asks for, listening on `port`, without a metrics endpoint.
    func nodeConfiguration(port: Int) -> NodeConfiguration {
        var c = NodeConfiguration()
        c.listenHost = listenHost ?? "0.0.0.0"
        c.listenPort = port
        c.metricsHost = metricsHost ?? "127.0.0.1"
        if let workers { c.workers = workers }
        if let eventLoops { c.eventLoops = eventLoops }
        if let eventLoopSliceUs { c.eventLoopSliceMicroseconds = eventLoopSliceUs == 0 ? nil : eventLoopSliceUs }
        if let packetBuffers { c.packetBuffers = packetBuffers }
        if let aqmTargetMs {
            c.aqmTarget = aqmTargetMs / 1000
            c.aqm = c.aqm.scaled(toTarget: aqmTargetMs / 1000)
        }
        if let aqmQueueLimit { c.aqm.queueLimit = aqmQueueLimit }
        if let aqmSojournLimitMs { c.aqm.sojournLimit = aqmSojournLimitMs / 1000 }
        if let replayCapacity { c.replayCapacity = replayCapacity }
        if let sendLoops { c.sendLoops = sendLoops }
        if let maxLinksPerPeer { c.maxLinksPerPeer = maxLinksPerPeer }
        if let maxPendingHandshakes { c.maxPendingHandshakesPerAddress = maxPendingHandshakes }
        if let handshakeTimeout { c.links.handshakeTimeout = handshakeTimeout }
        return c
    }
}
