// The provider's mailboxes: registered clients and their stored packets, in one SQLite file.
import Foundation
import LoopixNetwork
import LoopixNoise
import LoopixSphinx
import NIOConcurrencyHelpers

/// A packet waiting in a mailbox; `sequence` orders a mailbox oldest first and names it for removal.
public struct StoredPacket: Sendable, Hashable {
    public let sequence: Int64
    public let packet: [UInt8]
}

/// What happened to a packet handed to the store.
public enum StoreOutcome: String, Sendable, Hashable {
    /// Committed to disk.
    case stored
    /// The mailbox holds its quota already; the new packet is refused and what is stored stays.
    case mailboxFull = "mailbox_full"
    /// No client is registered under this mailbox id.
    case unknownMailbox = "unknown_mailbox"
}

/// Registered clients and their mailboxes in SQLite (WAL). A packet counts as stored only once
/// its transaction has committed, and it leaves only when `remove` is called for it (or, unread,
/// once it is older than the expiry), so a crash between a pull and its acknowledgement loses
/// nothing. Thread-safe; calls block on disk I/O, so keep them off event loops.
public final class MailboxStore: @unchecked Sendable {
    /// The store's tables (the GRDB comparison in Benchmarks/ creates the same ones).
    public static let schema = """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS mailboxes (
            id BLOB PRIMARY KEY, verifying_key BLOB NOT NULL, stored INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS packets (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            mailbox BLOB NOT NULL REFERENCES mailboxes(id),
            packet BLOB NOT NULL
        );
        CREATE INDEX IF NOT EXISTS packets_by_mailbox ON packets(mailbox, seq);
        """

    /// How hard a commit waits for the disk.
    public enum Durability: String, Sendable, Codable {
        /// fsync on every commit: a committed packet survives a power loss.
        case full
        /// fsync at WAL checkpoints only: survives a crash of the process, not of the machine.
        case normal
    }

    public struct Configuration: Sendable {
        public var path: String
        public var quotaPerMailbox: Int
        public var durability: Durability
        /// Seconds a packet may wait unread before `purgeExpired` deletes it, so that a mailbox
        /// flooded to its quota takes mail again.
        public var expiry: Double

        public init(path: String, quotaPerMailbox: Int = 10_000, durability: Durability = .full,
                    expiry: Double = MailboxStore.defaultExpiry) {
            self.path = path
            self.quotaPerMailbox = quotaPerMailbox
            self.durability = durability
            self.expiry = expiry
        }
    }

    /// Seven days.
    public static let defaultExpiry: Double = 7 * 24 * 3600
    /// The version of the file's layout (`PRAGMA user_version`): 0 before packets had a time and
    /// mailboxes a link key, 2 since.
    static let schemaVersion = 2

    public let configuration: Configuration
    public let geometry: Geometry
    // Safe to share: every use of the connection and statements happens under `lock`.
    private let lock = NSLock()
    private let db: SQLiteDatabase
    private let insertPacket: Statement
    private let claimSlot: Statement
    private let mailboxExists: Statement
    private let selectOldest: Statement
    private let deletePacket: Statement
    private let releaseSlots: Statement
    private let countPackets: Statement
    private let selectKey: Statement
    private let selectLinkKey: Statement
    private let clientByLinkKey: Statement
    private let upsertClient: Statement
    private let expiredByMailbox: Statement
    private let deleteExpired: Statement
    /// The link keys of the clients registered when the store opened or through it since, with
    /// their mailbox counts: answered without the disk, and without waiting behind a commit.
    private let knownLinkKeys = NIOLockedValueBox<[NoisePublicKey: Int]>([:])

    /// Opens (creating if needed) the store at `configuration.path` for packets of `geometry`;
    /// refuses a file made for another geometry.
    public init(configuration: Configuration, geometry: Geometry) throws {
        guard configuration.quotaPerMailbox > 0 else {
            throw SQLiteError(code: -1, message: "quotaPerMailbox must be positive")
        }
        guard configuration.expiry > 0 else { throw SQLiteError(code: -1, message: "expiry must be positive") }
        self.configuration = configuration
        self.geometry = geometry
        db = try SQLiteDatabase(path: configuration.path)
        try db.execute("PRAGMA journal_mode=WAL")
        try db.execute("PRAGMA synchronous=\(configuration.durability == .full ? "FULL" : "NORMAL")")
        try db.execute("PRAGMA foreign_keys=ON")
        try db.execute(Self.schema)
        let geometryText = "\(geometry.hops)/\(geometry.payload)"
        var recorded: String? = nil
        try db.prepare("SELECT value FROM meta WHERE key = 'geometry'").forEachRow { recorded = $0.text(0) }
        if let recorded, recorded != geometryText {
            throw SQLiteError(code: -1, message: "the mailbox store was made for geometry \(recorded), not \(geometryText)")
        }
        try db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('geometry', ?)").bind([geometryText]).run()
        try Self.migrate(db)

        insertPacket = try db.prepare("INSERT INTO packets (mailbox, packet, stored_at) VALUES (?, ?, ?)")
        claimSlot = try db.prepare("UPDATE mailboxes SET stored = stored + 1 WHERE id = ? AND stored < ?")
        mailboxExists = try db.prepare("SELECT 1 FROM mailboxes WHERE id = ?")
        selectOldest = try db.prepare("SELECT seq, packet FROM packets WHERE mailbox = ? ORDER BY seq LIMIT ?")
        deletePacket = try db.prepare("DELETE FROM packets WHERE mailbox = ? AND seq = ?")
        releaseSlots = try db.prepare("UPDATE mailboxes SET stored = stored - ? WHERE id = ?")
        countPackets = try db.prepare("SELECT stored FROM mailboxes WHERE id = ?")
        selectKey = try db.prepare("SELECT verifying_key FROM mailboxes WHERE id = ?")
        selectLinkKey = try db.prepare("SELECT link_key FROM mailboxes WHERE id = ?")
        clientByLinkKey = try db.prepare("SELECT 1 FROM mailboxes WHERE link_key = ? LIMIT 1")
        upsertClient = try db.prepare("""
            INSERT INTO mailboxes (id, verifying_key, link_key) VALUES (?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET verifying_key = excluded.verifying_key, link_key = excluded.link_key
            """)
        expiredByMailbox = try db.prepare("SELECT mailbox, count(*) FROM packets WHERE stored_at < ? GROUP BY mailbox")
        deleteExpired = try db.prepare("DELETE FROM packets WHERE stored_at < ?")
        var known: [NoisePublicKey: Int] = [:]
        try db.prepare("SELECT link_key FROM mailboxes WHERE link_key IS NOT NULL").forEachRow { row in
            if let key = try? NoisePublicKey(bytes: row.blob(0)) { known[key, default: 0] += 1 }
        }
        knownLinkKeys.withLockedValue { $0 = known }
    }

    /// Brings a file of an earlier layout up to `schemaVersion`, in one transaction: packets get
    /// their time of storage (those already there count from now), mailboxes their clients'
    /// link keys (the X25519 form of the registered key), each with its index.
    private static func migrate(_ db: SQLiteDatabase) throws {
        var version = 0
        try db.prepare("PRAGMA user_version").forEachRow { version = Int($0.int64(0)) }
        guard version < schemaVersion else { return }
        func columns(_ table: String) throws -> Set<String> {
            var names = Set<String>()
            try db.prepare("PRAGMA table_info(\(table))").forEachRow { names.insert($0.text(1)) }
            return names
        }
        try db.transaction {
            if try !columns("packets").contains("stored_at") {
                try db.execute("ALTER TABLE packets ADD COLUMN stored_at INTEGER NOT NULL DEFAULT 0")
                try db.prepare("UPDATE packets SET stored_at = ?").bind([Int64(Date().timeIntervalSince1970)]).run()
            }
            if try !columns("mailboxes").contains("link_key") {
                try db.execute("ALTER TABLE mailboxes ADD COLUMN link_key BLOB")
                var rows: [([UInt8], [UInt8])] = []
                try db.prepare("SELECT id, verifying_key FROM mailboxes").forEachRow { rows.append(($0.blob(0), $0.blob(1))) }
                let update = try db.prepare("UPDATE mailboxes SET link_key = ? WHERE id = ?")
                for (id, key) in rows {
                    // A registered key no link can use stays without one: its client cannot connect.
                    guard let link = (try? VerifyingKey(bytes: key))?.linkKey else { continue }
                    try update.bind([link.bytes, id]).run()
                }
            }
            try db.execute("""
                CREATE INDEX IF NOT EXISTS packets_by_age ON packets(stored_at);
                CREATE INDEX IF NOT EXISTS mailboxes_by_link_key ON mailboxes(link_key);
                PRAGMA user_version = \(schemaVersion);
                """)
        }
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: clients

    /// Registers (or re-keys) the client owning `mailbox`; its links authenticate with the X25519
    /// form of `verifyingKey`, and only a link of that key pulls the mailbox.
    public func register(mailbox: SphinxAddress, verifyingKey: VerifyingKey) throws {
        guard let link = verifyingKey.linkKey else {
            throw SQLiteError(code: -1, message: "the key \(verifyingKey) is no point of the curve's prime-order group")
        }
        try locked {
            var previous: NoisePublicKey? = nil
            try selectLinkKey.bind([mailbox.bytes]).forEachRow { previous = try? NoisePublicKey(bytes: $0.blob(0)) }
            try upsertClient.bind([mailbox.bytes, verifyingKey.bytes, link.bytes]).run()
            knownLinkKeys.withLockedValue { known in
                if let previous, let n = known[previous] { known[previous] = n > 1 ? n - 1 : nil }
                known[link, default: 0] += 1
            }
        }
    }

    /// Whether a client with this link key was registered when the store opened or through this
    /// store since; answered from memory (an event loop may ask). A client registered by another
    /// process since (`loopix provider register`) is found by `isRegistered(linkKey:)`.
    public func isKnownClient(linkKey: NoisePublicKey) -> Bool {
        knownLinkKeys.withLockedValue { $0[linkKey] != nil }
    }

    /// The link key of the client registered for `mailbox`, or nil if there is none.
    public func linkKey(for mailbox: SphinxAddress) throws -> NoisePublicKey? {
        try locked {
            var key: NoisePublicKey? = nil
            try selectLinkKey.bind([mailbox.bytes]).forEachRow { row in
                let bytes = row.blob(0)
                if !bytes.isEmpty { key = try NoisePublicKey(bytes: bytes) }
            }
            return key
        }
    }

    /// Whether some client is registered with this link key.
    public func isRegistered(linkKey: NoisePublicKey) throws -> Bool {
        try locked {
            var found = false
            try clientByLinkKey.bind([linkKey.bytes]).forEachRow { _ in found = true }
            return found
        }
    }

    /// The key that signs pulls for `mailbox`, or nil if no such client is registered.
    public func verifyingKey(for mailbox: SphinxAddress) throws -> VerifyingKey? {
        try locked {
            var key: VerifyingKey? = nil
            try selectKey.bind([mailbox.bytes]).forEachRow { key = try VerifyingKey(bytes: $0.blob(0)) }
            return key
        }
    }

    // MARK: packets

    /// Stores packets in one transaction (one disk flush for the batch); each outcome matches its item.
    /// `now`: Unix seconds, the packets' time of storage.
    public func store(_ items: [(mailbox: SphinxAddress, packet: [UInt8])],
                      now: Double = Date().timeIntervalSince1970) throws -> [StoreOutcome] {
        let storedAt = Int64(now)
        return try locked {
            try db.transaction {
                var outcomes: [StoreOutcome] = []
                outcomes.reserveCapacity(items.count)
                for item in items {
                    precondition(item.packet.count == geometry.packetBytes, "the node hands over whole packets only")
                    let id = item.mailbox.bytes
                    try claimSlot.bind([id, configuration.quotaPerMailbox]).run()
                    if db.changes == 1 {
                        try insertPacket.bind([id, item.packet, storedAt]).run()
                        outcomes.append(.stored)
                    } else {
                        var exists = false
                        try mailboxExists.bind([id]).forEachRow { _ in exists = true }
                        outcomes.append(exists ? .mailboxFull : .unknownMailbox)
                    }
                }
                return outcomes
            }
        }
    }

    /// Stores one packet (its own transaction).
    public func store(mailbox: SphinxAddress, packet: [UInt8], now: Double = Date().timeIntervalSince1970) throws -> StoreOutcome {
        try store([(mailbox, packet)], now: now)[0]
    }

    /// Deletes every packet stored more than `configuration.expiry` seconds before `now` (Unix
    /// seconds), unread, and frees its place in its mailbox's quota; returns how many.
    @discardableResult
    public func purgeExpired(now: Double = Date().timeIntervalSince1970) throws -> Int {
        let cutoff = Int64((now - configuration.expiry).rounded(.down))
        return try locked {
            try db.transaction {
                var byMailbox: [([UInt8], Int)] = []
                try expiredByMailbox.bind([cutoff]).forEachRow { byMailbox.append(($0.blob(0), Int($0.int64(1)))) }
                guard !byMailbox.isEmpty else { return 0 }
                for (mailbox, count) in byMailbox { try releaseSlots.bind([count, mailbox]).run() }
                try deleteExpired.bind([cutoff]).run()
                return byMailbox.reduce(0) { $0 + $1.1 }
            }
        }
    }

    /// Up to `limit` packets of `mailbox`, oldest first. They stay until removed.
    public func oldest(mailbox: SphinxAddress, limit: Int) throws -> [StoredPacket] {
        try locked {
            var out: [StoredPacket] = []
            try selectOldest.bind([mailbox.bytes, limit]).forEachRow {
                out.append(StoredPacket(sequence: $0.int64(0), packet: $0.blob(1)))
            }
            return out
        }
    }

    /// Removes the packets of `mailbox` with these sequence numbers (others' packets are never touched);
    /// returns how many were there.
    @discardableResult
    public func remove(mailbox: SphinxAddress, sequences: [Int64]) throws -> Int {
        try locked {
            try db.transaction {
                var removed = 0
                let id = mailbox.bytes
                for seq in sequences {
                    try deletePacket.bind([id, seq]).run()
                    removed += db.changes
                }
                if removed > 0 { try releaseSlots.bind([removed, id]).run() }
                return removed
            }
        }
    }

    /// Packets waiting in `mailbox`.
    public func count(mailbox: SphinxAddress) throws -> Int {
        try locked {
            var n = 0
            try countPackets.bind([mailbox.bytes]).forEachRow { n = Int($0.int64(0)) }
            return n
        }
    }
}
