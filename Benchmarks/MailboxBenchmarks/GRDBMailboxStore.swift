// LoopixProvider's MailboxStore written over GRDB instead of the hand-written binding, for timing the two.
import Foundation
import GRDB
import LoopixProvider
import LoopixSphinx

/// The same file, schema, pragmas, statements and transactions as `MailboxStore`, through GRDB's
/// `DatabaseQueue` and its cached statements: what a port of the store would be, written for speed
/// (reads of one statement use `unsafeRead`, which skips the read-only transaction GRDB's `read`
/// wraps around them; a single SELECT is consistent on its own).
final class GRDBMailboxStore: Sendable {
    struct GeometryMismatch: Error, CustomStringConvertible {
        let recorded: String
        let wanted: String
        var description: String { "the mailbox store was made for geometry \(recorded), not \(wanted)" }
    }

    let configuration: MailboxStore.Configuration
    let geometry: Geometry
    private let queue: DatabaseQueue

    init(configuration: MailboxStore.Configuration, geometry: Geometry) throws {
        precondition(configuration.quotaPerMailbox > 0, "quotaPerMailbox must be positive")
        self.configuration = configuration
        self.geometry = geometry
        var config = Configuration()
        // MailboxStore's sqlite3_busy_timeout(5000). Foreign keys are on by GRDB's default.
        config.busyMode = .timeout(5)
        let synchronous = configuration.durability == .full ? "FULL" : "NORMAL"
        config.prepareDatabase { db in
            // Set here rather than with `journalMode = .wal`, which would force synchronous NORMAL.
            try db.execute(sql: "PRAGMA journal_mode=WAL")
            try db.execute(sql: "PRAGMA synchronous=\(synchronous)")
        }
        queue = try DatabaseQueue(path: configuration.path, configuration: config)
        let geometryText = "\(geometry.hops)/\(geometry.payload)"
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: MailboxStore.schema)
            if let recorded = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'geometry'"),
               recorded != geometryText {
                throw GeometryMismatch(recorded: recorded, wanted: geometryText)
            }
            try db.execute(sql: "INSERT OR IGNORE INTO meta (key, value) VALUES ('geometry', ?)",
                           arguments: [geometryText])
        }
    }

    func register(mailbox: SphinxAddress, verifyingKey: VerifyingKey) throws {
        try queue.writeWithoutTransaction { db in
            try db.cachedStatement(sql: """
                INSERT INTO mailboxes (id, verifying_key) VALUES (?, ?)
                ON CONFLICT(id) DO UPDATE SET verifying_key = excluded.verifying_key
                """).execute(arguments: [Data(mailbox.bytes), Data(verifyingKey.bytes)])
        }
    }

    func verifyingKey(for mailbox: SphinxAddress) throws -> VerifyingKey? {
        try queue.unsafeRead { db in
            let statement = try db.cachedStatement(sql: "SELECT verifying_key FROM mailboxes WHERE id = ?")
            guard let row = try Row.fetchOne(statement, arguments: [Data(mailbox.bytes)]) else { return nil }
            return try row.withUnsafeData(atIndex: 0) { try VerifyingKey(bytes: $0 ?? Data()) }
        }
    }

    func store(_ items: [(mailbox: SphinxAddress, packet: [UInt8])]) throws -> [StoreOutcome] {
        try queue.write { db in
            let claimSlot = try db.cachedStatement(
                sql: "UPDATE mailboxes SET stored = stored + 1 WHERE id = ? AND stored < ?")
            let insertPacket = try db.cachedStatement(sql: "INSERT INTO packets (mailbox, packet) VALUES (?, ?)")
            let mailboxExists = try db.cachedStatement(sql: "SELECT 1 FROM mailboxes WHERE id = ?")
            var outcomes: [StoreOutcome] = []
            outcomes.reserveCapacity(items.count)
            for item in items {
                precondition(item.packet.count == geometry.packetBytes, "the node hands over whole packets only")
                let id = Data(item.mailbox.bytes)
                try claimSlot.execute(arguments: [id, configuration.quotaPerMailbox])
                if db.changesCount == 1 {
                    try insertPacket.execute(arguments: [id, Data(item.packet)])
                    outcomes.append(.stored)
                } else {
                    let exists = try Row.fetchOne(mailboxExists, arguments: [id]) != nil
                    outcomes.append(exists ? .mailboxFull : .unknownMailbox)
                }
            }
            return outcomes
        }
    }

    func oldest(mailbox: SphinxAddress, limit: Int) throws -> [GRDBStoredPacket] {
        try queue.unsafeRead { db in
            let statement = try db.cachedStatement(
                sql: "SELECT seq, packet FROM packets WHERE mailbox = ? ORDER BY seq LIMIT ?")
            var out: [GRDBStoredPacket] = []
            let rows = try Row.fetchCursor(statement, arguments: [Data(mailbox.bytes), limit])
            while let row = try rows.next() {
                // SQLite's buffer, lent without a copy, copied once into the array.
                let packet = try row.withUnsafeData(atIndex: 1) { [UInt8]($0 ?? Data()) }
                out.append(GRDBStoredPacket(sequence: row[0], packet: packet))
            }
            return out
        }
    }

    @discardableResult
    func remove(mailbox: SphinxAddress, sequences: [Int64]) throws -> Int {
        try queue.write { db in
            let deletePacket = try db.cachedStatement(sql: "DELETE FROM packets WHERE mailbox = ? AND seq = ?")
            var removed = 0
            let id = Data(mailbox.bytes)
            for seq in sequences {
                try deletePacket.execute(arguments: [id, seq])
                removed += db.changesCount
            }
            if removed > 0 {
                try db.cachedStatement(sql: "UPDATE mailboxes SET stored = stored - ? WHERE id = ?")
                    .execute(arguments: [removed, id])
            }
            return removed
        }
    }

    /// Whether `DatabaseQueue` runs a closure on the caller's thread (libdispatch's `sync` does when it can).
    func runsOnCallingThread() -> Bool {
        let caller = pthread_self()
        return queue.writeWithoutTransaction { _ in pthread_equal(pthread_self(), caller) != 0 }
    }

    func count(mailbox: SphinxAddress) throws -> Int {
        try queue.unsafeRead { db in
            let statement = try db.cachedStatement(sql: "SELECT stored FROM mailboxes WHERE id = ?")
            return try Int.fetchOne(statement, arguments: [Data(mailbox.bytes)]) ?? 0
        }
    }
}

/// `StoredPacket` with a memberwise initialiser this package can call (the provider's is internal).
struct GRDBStoredPacket: Sendable, Hashable {
    let sequence: Int64
    let packet: [UInt8]
}
