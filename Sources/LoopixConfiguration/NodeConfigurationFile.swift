// The configuration file of a mix or a provider, and the node settings it asks for.
import LoopixNetwork
import LoopixNode
import LoopixProvider
import LoopixSphinx

/// The configuration file of a mix or a provider.
public struct NodeConfigurationFile: Codable, Sendable {
    /// The signed topology document.
    public var topology: String
    /// The expected authority key (hex); when set, a topology signed by another key is refused.
    public var authority: String?
    /// The node's key file (from `loopix keygen`).
    public var key: String
    /// Listening address for packets; the port defaults to the topology's.
    public var listenHost: String?
    public var port: Int?
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
    /// AQM target sojourn of the crypto queue in milliseconds (default 1) and hard queue limit (default 2048).
    public var aqmTargetMs: Double?
    public var aqmQueueLimit: Int?
    /// Replay filter capacity per key epoch (default 10,000,000 tags).
    public var replayCapacity: UInt64?
    /// Mixes: whether to send loops at the topology's λM (default true).
    public var sendLoops: Bool?
    /// trace, debug, info (default), notice, warning, error, critical.
    public var logLevel: String?
    /// Links one peer's key may hold open at once (default 4), unfinished handshakes one address
    /// may have (default 16), and seconds a handshake may take (default 5).
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

    /// A file naming the topology and the key; every other field unset (the defaults).
    public init(topology: String, key: String, authority: String? = nil) {
        self.topology = topology
        self.key = key
        self.authority = authority
    }

    static let fields: Set<String> = [
        "topology", "authority", "key", "listenHost", "port", "metricsHost", "metricsPort", "workers", "eventLoops",
        "eventLoopSliceUs", "packetBuffers", "aqmTargetMs", "aqmQueueLimit", "replayCapacity", "sendLoops", "logLevel", "mailboxes",
        "maxLinksPerPeer", "maxPendingHandshakes", "handshakeTimeout", "mailboxExpiryDays", "quotaPerMailbox", "durability", "pullHost", "pullPort", "clients",
    ]

    public static func load(_ path: String) throws -> NodeConfigurationFile {
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
        if let maxLinksPerPeer, maxLinksPerPeer < 1 { throw bad("maxLinksPerPeer", "must be at least 1") }
        if let maxPendingHandshakes, maxPendingHandshakes < 1 { throw bad("maxPendingHandshakes", "must be at least 1") }
        if let handshakeTimeout, !(handshakeTimeout > 0) { throw bad("handshakeTimeout", "must be positive") }
        if let mailboxExpiryDays, !(mailboxExpiryDays > 0) { throw bad("mailboxExpiryDays", "must be positive") }
        if let durability, MailboxStore.Durability(rawValue: durability) == nil { throw bad("durability", "must be \"full\" or \"normal\"") }
        if let logLevel, parseLogLevel(logLevel) == nil { throw bad("logLevel", "unknown level \"\(logLevel)\"") }
        if let authority, (try? VerifyingKey(hex: authority)) == nil { throw bad("authority", "must be 64 hex digits") }
        for (i, client) in (clients ?? []).enumerated() {
            if (try? SphinxAddress(hex: client.mailbox)) == nil { throw bad("clients[\(i)].mailbox", "must be 64 hex digits") }
            if (try? VerifyingKey(hex: client.signingKey)) == nil { throw bad("clients[\(i)].signingKey", "must be 64 hex digits") }
        }
    }

    /// The node settings this file asks for, over the defaults; the port defaults to the topology entry's.
    public func nodeConfiguration(entry: NodeDescriptor) -> NodeConfiguration {
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
        if let maxLinksPerPeer { c.maxLinksPerPeer = maxLinksPerPeer }
        if let maxPendingHandshakes { c.maxPendingHandshakesPerAddress = maxPendingHandshakes }
        if let handshakeTimeout { c.links.handshakeTimeout = handshakeTimeout }
        return c
    }
}
