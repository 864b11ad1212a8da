// The mailbox store on a real SQLite file: durability, order, quotas, isolation, reopening.
import Foundation
import LoopixNetwork
@testable import LoopixProvider
import LoopixSphinx
import Testing

func temporaryPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loopix-tests-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

@Suite("Mailbox store")
struct MailboxStoreTests {
    let geometry = Geometry.standard

    func packet(_ marker: UInt8) -> [UInt8] {
        var p = Sphinx.createDummy(geometry: geometry)
        p[100] = marker
        return p
    }

    @Test("stored packets come back oldest first and leave only when removed")
    func orderAndRemoval() throws {
        let store = try MailboxStore(configuration: .init(path: temporaryPath("m.sqlite")), geometry: geometry)
        let alice = SphinxAddress.random()
        try store.register(mailbox: alice, verifyingKey: SigningKey().verifyingKey)
        for i in 0..<5 { #expect(try store.store(mailbox: alice, packet: packet(UInt8(i))) == .stored) }
        let first = try store.oldest(mailbox: alice, limit: 3)
        #expect(first.map { $0.packet[100] } == [0, 1, 2])
        #expect(try store.oldest(mailbox: alice, limit: 3).map(\.sequence) == first.map(\.sequence), "reading does not remove")
        #expect(try store.remove(mailbox: alice, sequences: first.map(\.sequence)) == 3)
        #expect(try store.remove(mailbox: alice, sequences: first.map(\.sequence)) == 0, "removing twice is harmless")
        #expect(try store.oldest(mailbox: alice, limit: 10).map { $0.packet[100] } == [3, 4])
        #expect(try store.count(mailbox: alice) == 2)
    }

    @Test("unknown mailboxes and full mailboxes are refused; what is stored stays")
    func quotas() throws {
        let store = try MailboxStore(configuration: .init(path: temporaryPath("q.sqlite"), quotaPerMailbox: 3),
                                     geometry: geometry)
        let bob = SphinxAddress.random()
        #expect(try store.store(mailbox: bob, packet: packet(0)) == .unknownMailbox)
        try store.register(mailbox: bob, verifyingKey: SigningKey().verifyingKey)
        let outcomes = try store.store((0..<5).map { (bob, packet(UInt8($0))) })
        #expect(outcomes == [.stored, .stored, .stored, .mailboxFull, .mailboxFull])
        #expect(try store.oldest(mailbox: bob, limit: 10).map { $0.packet[100] } == [0, 1, 2])
        try store.remove(mailbox: bob, sequences: [try store.oldest(mailbox: bob, limit: 1)[0].sequence])
        #expect(try store.store(mailbox: bob, packet: packet(9)) == .stored, "removal frees quota")
    }

    @Test("one client cannot remove another's packets")
    func isolation() throws {
        let store = try MailboxStore(configuration: .init(path: temporaryPath("i.sqlite")), geometry: geometry)
        let a = SphinxAddress.random(), b = SphinxAddress.random()
        try store.register(mailbox: a, verifyingKey: SigningKey().verifyingKey)
        try store.register(mailbox: b, verifyingKey: SigningKey().verifyingKey)
        _ = try store.store(mailbox: a, packet: packet(1))
        let seq = try store.oldest(mailbox: a, limit: 1)[0].sequence
        #expect(try store.remove(mailbox: b, sequences: [seq]) == 0)
        #expect(try store.oldest(mailbox: b, limit: 5).isEmpty)
        #expect(try store.count(mailbox: a) == 1)
    }

    @Test("everything survives closing and reopening; another geometry is refused")
    func reopen() throws {
        let path = temporaryPath("r.sqlite")
        let carol = SphinxAddress.random()
        let key = SigningKey().verifyingKey
        let kept = packet(7)
        do {
            let store = try MailboxStore(configuration: .init(path: path), geometry: geometry)
            try store.register(mailbox: carol, verifyingKey: key)
            _ = try store.store(mailbox: carol, packet: kept)
        }
        let again = try MailboxStore(configuration: .init(path: path), geometry: geometry)
        #expect(try again.verifyingKey(for: carol) == key)
        #expect(try again.oldest(mailbox: carol, limit: 1).first?.packet == kept)
        #expect(throws: SQLiteError.self) {
            try MailboxStore(configuration: .init(path: path), geometry: try Geometry(hops: 2, payload: 64))
        }
    }

    @Test("a mailbox flooded to its quota takes mail again once its packets expire, unread")
    func expiry() throws {
        let store = try MailboxStore(configuration: .init(path: temporaryPath("e.sqlite"), quotaPerMailbox: 3, expiry: 60),
                                     geometry: geometry)
        let victim = SphinxAddress.random()
        try store.register(mailbox: victim, verifyingKey: SigningKey().verifyingKey)
        let t0 = 1_000_000.0
        for i in 0..<5 { _ = try store.store(mailbox: victim, packet: packet(UInt8(i)), now: t0) }
        #expect(try store.store(mailbox: victim, packet: packet(9), now: t0 + 30) == .mailboxFull)
        #expect(try store.purgeExpired(now: t0 + 59) == 0, "nothing expires early")
        #expect(try store.store(mailbox: victim, packet: packet(9), now: t0 + 59) == .mailboxFull)
        #expect(try store.purgeExpired(now: t0 + 61) == 3)
        #expect(try store.count(mailbox: victim) == 0)
        #expect(try store.store(mailbox: victim, packet: packet(10), now: t0 + 62) == .stored)
        #expect(try store.oldest(mailbox: victim, limit: 5).map { $0.packet[100] } == [10])
    }

    @Test("expired packets are purged every tenth of the expiry, but at most every ten minutes and at least a second apart")
    func purgePeriod() {
        #expect(ProviderNode.purgePeriod(expiry: MailboxStore.defaultExpiry) == 600)
        #expect(ProviderNode.purgePeriod(expiry: 100) == 10)
        #expect(ProviderNode.purgePeriod(expiry: 2) == 1)
        #expect(ProviderNode.purgePeriod(expiry: 0.001) == 1, "a tiny expiry must not purge back to back")
    }

    @Test("a file of the earlier layout opens: its packets get a time (now), its clients their link keys")
    func migration() throws {
        let path = temporaryPath("old.sqlite")
        let key = SigningKey()
        let mailbox = SphinxAddress.random()
        let kept = packet(5)
        do {
            // The layout before packets had a time and mailboxes a link key.
            let db = try SQLiteDatabase(path: path)
            try db.execute("""
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE mailboxes (id BLOB PRIMARY KEY, verifying_key BLOB NOT NULL, stored INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
                CREATE TABLE packets (seq INTEGER PRIMARY KEY AUTOINCREMENT, mailbox BLOB NOT NULL REFERENCES mailboxes(id), packet BLOB NOT NULL);
                CREATE INDEX packets_by_mailbox ON packets(mailbox, seq);
                INSERT INTO meta VALUES ('geometry', '\(geometry.hops)/\(geometry.payload)');
                """)
            try db.prepare("INSERT INTO mailboxes (id, verifying_key, stored) VALUES (?, ?, 1)").bind([mailbox.bytes, key.verifyingKey.bytes]).run()
            try db.prepare("INSERT INTO packets (mailbox, packet) VALUES (?, ?)").bind([mailbox.bytes, kept]).run()
        }
        let store = try MailboxStore(configuration: .init(path: path, expiry: 3600), geometry: geometry)
        #expect(try store.oldest(mailbox: mailbox, limit: 5).map(\.packet) == [kept])
        #expect(try store.linkKey(for: mailbox) == key.linkKey().publicKey)
        #expect(try store.isRegistered(linkKey: key.linkKey().publicKey))
        let now = Date().timeIntervalSince1970
        #expect(try store.purgeExpired(now: now) == 0, "an old packet counts from the migration")
        #expect(try store.purgeExpired(now: now + 3700) == 1)
        #expect(try store.count(mailbox: mailbox) == 0)
        // Opening it again does not migrate twice.
        _ = try MailboxStore(configuration: .init(path: path), geometry: geometry)
    }
}
