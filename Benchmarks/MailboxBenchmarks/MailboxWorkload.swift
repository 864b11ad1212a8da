// The provider's mailbox work, made once from fixed seeds, so that both stores are given the same data.
import Foundation
import LoopixProvider
import LoopixSphinx

/// What the benchmarks call on a store; `MailboxStore` and `GRDBMailboxStore` both provide it.
protocol MailboxOperations: Sendable {
    associatedtype Stored: StoredPacketFields
    init(configuration: MailboxStore.Configuration, geometry: Geometry) throws
    func register(mailbox: SphinxAddress, verifyingKey: VerifyingKey) throws
    func verifyingKey(for mailbox: SphinxAddress) throws -> VerifyingKey?
    func store(_ items: [(mailbox: SphinxAddress, packet: [UInt8])]) throws -> [StoreOutcome]
    func oldest(mailbox: SphinxAddress, limit: Int) throws -> [Stored]
    func remove(mailbox: SphinxAddress, sequences: [Int64]) throws -> Int
    /// Whether calls do their work on the caller's thread (what the thread CPU metric assumes).
    func runsOnCallingThread() -> Bool
}

protocol StoredPacketFields {
    var sequence: Int64 { get }
    var packet: [UInt8] { get }
}

extension StoredPacket: StoredPacketFields {}
extension GRDBStoredPacket: StoredPacketFields {}
extension MailboxStore: MailboxOperations {
    // Its calls take a lock and run in place.
    func runsOnCallingThread() -> Bool { true }
}
extension GRDBMailboxStore: MailboxOperations {}

/// SplitMix64: a small generator with a fixed seed, so that every run delivers the same packets to the
/// same mailboxes in the same order.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Registered mailboxes, a pool of whole packets, and the order in which deliveries reach mailboxes.
struct MailboxWorkload: Sendable {
    static let mailboxCount = 1_000
    static let packetPoolSize = 64
    /// Made on first use (a global's initialiser runs once, lazily): only in the benchmark that runs.
    static let shared = MailboxWorkload()

    let geometry = Geometry.standard
    let mailboxes: [SphinxAddress]
    let keys: [VerifyingKey]
    let packets: [[UInt8]]

    init() {
        var rng = SeededGenerator(seed: 0x6c6f_6f70_6978)
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        mailboxes = (0..<Self.mailboxCount).map { _ in try! SphinxAddress(bytes: bytes(32)) }
        keys = (0..<Self.mailboxCount).map { _ in try! VerifyingKey(bytes: bytes(32)) }
        packets = (0..<Self.packetPoolSize).map { _ in bytes(Geometry.standard.packetBytes) }
    }

    /// `count` batches of `size` deliveries, each to a mailbox drawn uniformly (seeded by `seed`).
    func deliveryBatches(count: Int, size: Int, seed: UInt64) -> [[(mailbox: SphinxAddress, packet: [UInt8])]] {
        var rng = SeededGenerator(seed: seed)
        var next = 0
        return (0..<count).map { _ in
            (0..<size).map { _ in
                next += 1
                return (mailboxes[Int.random(in: 0..<mailboxes.count, using: &rng)], packets[next % packets.count])
            }
        }
    }

    /// `n` packets for one mailbox, as one batch.
    func batch(for mailbox: SphinxAddress, count n: Int, offset: Int) -> [(mailbox: SphinxAddress, packet: [UInt8])] {
        (0..<n).map { (mailbox, packets[(offset + $0) % packets.count]) }
    }

    /// A fresh store file in its own temporary folder, every mailbox registered and holding `preload`
    /// packets. It is filled with synchronous NORMAL (quicker) and reopened with `durability`.
    func makeStore<Store: MailboxOperations>(_: Store.Type, durability: MailboxStore.Durability,
                                              preload: Int) throws -> (store: Store, folder: URL) {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("loopix-mailbox-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("mailboxes.sqlite").path
        do {
            let filling = try Store(configuration: .init(path: path, durability: .normal), geometry: geometry)
            for (mailbox, key) in zip(mailboxes, keys) { try filling.register(mailbox: mailbox, verifyingKey: key) }
            if preload > 0 {
                let all = mailboxes.flatMap { batch(for: $0, count: preload, offset: 0) }
                for start in stride(from: 0, to: all.count, by: 256) {
                    _ = try filling.store(Array(all[start..<min(start + 256, all.count)]))
                }
            }
        }
        let store = try Store(configuration: .init(path: path, durability: durability), geometry: geometry)
        return (store, folder)
    }

    /// One pull as `PullService` makes it: the key, the K oldest packets, then the removal of those
    /// acknowledged (here all of them). Returns how many were removed.
    @inline(__always)
    static func pull<Store: MailboxOperations>(_ store: Store, mailbox: SphinxAddress, limit: Int) throws -> Int {
        guard try store.verifyingKey(for: mailbox) != nil else { fatalError("every mailbox is registered") }
        let stored = try store.oldest(mailbox: mailbox, limit: limit)
        return try store.remove(mailbox: mailbox, sequences: stored.map(\.sequence))
    }
}
