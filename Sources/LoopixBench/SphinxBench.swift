// Sphinx operations per second on one core, per packet suite and X25519 backend, each beside its
// cryptographic floor in the same interleaved rounds (the method of CSources/bench/bench_sphinx.c,
// over the Swift API the node calls).
import CBenchCrypto
internal import CLoopixSphinx
import Foundation
import LoopixSphinx

/// One measured operation: its median time over rounds.
public struct SphinxBenchItem: Codable, Sendable {
    public var name: String
    /// The packet suite, "v1" or "KEM" ("-" for the bare multiplications).
    public var suite: String
    public var backend: String
    public var microseconds: Double
    public var opsPerSecond: Double
    public var callsPerRound: Int
}

/// A ratio of two items, the median of its per-round ratios (both sides ran within the same round).
public struct SphinxBenchRatio: Codable, Sendable {
    public var name: String
    public var value: Double
    /// The target from the issues, if any ("<= 1.10").
    public var target: String?
    public var met: Bool?
}

public struct SphinxBenchReport: Codable, Sendable {
    public var coreVersion: String
    public var sodiumVersion: String
    public var libcryptoVersion: String
    /// Both suites' geometries.
    public var geometry: String
    public var rounds: Int
    public var secondsPerItem: Double
    public var items: [SphinxBenchItem]
    public var ratios: [SphinxBenchRatio]
}

/// Runs the items round by round so that noise on a shared machine hits all alike. An item's
/// time is the benchmark thread's CPU time (as in the C benchmark), so that what a loaded
/// machine gives to other processes between two calls is not counted against either side.
public final class SphinxBench {
    struct Item {
        var name: String
        var suite: String
        var backend: String
        var run: (Int) -> Void
        var maxCalls: Int
        var calls = 1
        var perCall: [Double] = []
    }

    public let rounds: Int
    public let secondsPerItem: Double
    private var items: [Item] = []
    /// Files and folders the items made, removed after the run.
    private var scratch: [String] = []
    /// The two suites at the standard hops and payload: what a network runs on either.
    private static let suites: [(label: String, geometry: Geometry)] = [
        ("v1", .standard),
        ("KEM", try! Geometry(hops: Geometry.standard.hops, payload: Geometry.standard.payload, suite: .kemX25519)),
    ]
    private static let stockSize = 2000

    /// The replay filter item's own filter (C memory, released with the benchmark).
    private var replayFilter: OpaquePointer?

    public init(rounds: Int = 9, secondsPerItem: Double = 0.08) {
        self.rounds = rounds
        self.secondsPerItem = secondsPerItem
    }

    deinit { lsx_replay_filter_destroy(replayFilter) }

    /// Builds the items (packets, keys, reply blocks), calibrates and runs them.
    public func run(progress: (String) -> Void) throws -> SphinxBenchReport {
        try Sphinx.initialize()
        for (label, geometry) in Self.suites {
            progress("making \(label) packets")
            let fixture = try Fixture(geometry: geometry)
            for backend in SphinxBackend.allCases {
                try addItems(suite: label, geometry: geometry, backend: backend, fixture: fixture)
            }
        }
        addMultiplications()
        try addReplayFilter()
        for i in items.indices { calibrate(&items[i]) }
        for round in 0..<rounds {
            progress("round \(round + 1)/\(rounds)")
            // The thread's CPU time, not the wall clock: on a shared machine time spent
            // descheduled would land on whichever item happened to run then.
            for i in items.indices {
                let start = ProcessProbe.threadCPUSeconds()
                items[i].run(items[i].calls)
                items[i].perCall.append((ProcessProbe.threadCPUSeconds() - start) / Double(items[i].calls))
            }
        }
        try Sphinx.setBackend(.sodium)
        for path in scratch { try? FileManager.default.removeItem(atPath: path) }
        return report()
    }

    private func calibrate(_ item: inout Item) {
        var n = 1
        var elapsed = 0.0
        while true {
            let start = benchNanoseconds()
            item.run(n)
            elapsed = Double(benchNanoseconds() - start) / 1e9
            if elapsed >= 0.02 || n >= item.maxCalls { break }
            n = min(n * 2, item.maxCalls)
        }
        item.calls = max(1, min(item.maxCalls, Int(secondsPerItem / (elapsed / Double(n))) + 1))
    }

    private func index(_ name: String, _ suite: String, _ backend: String) -> Int? {
        items.firstIndex { $0.name == name && $0.suite == suite && $0.backend == backend }
    }

    private func medianRatio(_ a: Int, _ b: [(Int, Double)]) -> Double {
        let perRound = (0..<rounds).map { r in items[a].perCall[r] / b.reduce(0) { $0 + items[$1.0].perCall[r] * $1.1 } }
        return Statistics.median(perRound)
    }

    private func report() -> SphinxBenchReport {
        let out = items.map { item -> SphinxBenchItem in
            let m = Statistics.median(item.perCall)
            return SphinxBenchItem(name: item.name, suite: item.suite, backend: item.backend, microseconds: m * 1e6,
                                   opsPerSecond: 1 / m, callsPerRound: item.calls)
        }
        var ratios: [SphinxBenchRatio] = []
        func add(_ name: String, _ a: Int?, _ b: [(Int?, Double)], target: Double? = nil) {
            guard let a, b.allSatisfy({ $0.0 != nil }) else { return }
            let v = medianRatio(a, b.map { ($0.0!, $0.1) })
            ratios.append(SphinxBenchRatio(name: name, value: v, target: target.map { String(format: "<= %.2f", $0) },
                                           met: target.map { v <= $0 }))
        }
        let backends = SphinxBackend.allCases.map(\.rawValue)
        // Each suite against its own floor: version 1 two multiplications, the KEM suite one.
        for (suite, limit) in [("v1", 1.10), ("KEM", 1.05)] {
            for backend in backends {
                add("process / floor (\(suite), \(backend))", index("process", suite, backend), [(index("floor", suite, backend), 1)],
                    target: limit)
            }
        }
        // What key epochs add to a packet: the worker's epoch path with a file-backed filter.
        for suite in ["v1", "KEM"] {
            for backend in backends {
                let e = index("process with epochs", suite, backend), p = index("process", suite, backend)
                guard let e, let p else { continue }
                let v = medianRatio(e, [(p, 1)]) - 1
                ratios.append(SphinxBenchRatio(name: "epoch machinery per packet / process (\(suite), \(backend))", value: v,
                                               target: "<= 0.02", met: v <= 0.02))
            }
        }
        // process does the replay filter's check and record beside the floor's work.
        let filter = index("replay filter check+record", "-", "-")
        for suite in ["v1", "KEM"] {
            add("  process / (floor + replay filter) (\(suite), sodium)", index("process", suite, "sodium"),
                [(index("floor", suite, "sodium"), 1), (filter, 1)])
        }
        for suite in ["v1", "KEM"] {
            add("process (\(suite), libcrypto) / process (\(suite), sodium)", index("process", suite, "libcrypto"),
                [(index("process", suite, "sodium"), 1)])
        }
        // The KEM suite against version 1, and the same ratio of the floors: the least the first can be.
        for backend in backends {
            add("process KEM / process v1 (\(backend))", index("process", "KEM", backend), [(index("process", "v1", backend), 1)],
                target: 0.60)
            add("  floor KEM / floor v1 (\(backend))", index("floor", "KEM", backend), [(index("floor", "v1", backend), 1)])
        }
        for hops in [1, 3, 6] {
            for backend in backends {
                let name = "create \(hops) hop\(hops == 1 ? "" : "s")"
                add("\(name) KEM / \(name) v1 (\(backend))", index(name, "KEM", backend), [(index(name, "v1", backend), 1)],
                    target: hops == 6 ? 0.60 : nil)
            }
        }
        add("SURB create KEM / SURB create v1 (sodium)", index("SURB create (6 hops)", "KEM", "sodium"),
            [(index("SURB create (6 hops)", "v1", "sodium"), 1)])
        // Creation against the multiplications it must do: version 1 1 base + n(n+1)/2 variable, KEM n of each.
        let base = index("X25519 base mult", "-", "sodium"), variable = index("X25519 variable mult", "-", "sodium")
        for hops in [1, 3, 6] {
            for (suite, b, v) in [("v1", 1, hops * (hops + 1) / 2), ("KEM", hops, hops)] {
                for backend in backends {
                    let judged = suite == "v1" && backend == "sodium"
                    add("create \(hops) (\(suite), \(backend)) / (\(b) base + \(v) var mults, sodium)",
                        index("create \(hops) hop\(hops == 1 ? "" : "s")", suite, backend),
                        [(base, Double(b)), (variable, Double(v))], target: judged ? 1.15 : nil)
                }
            }
        }
        return SphinxBenchReport(
            coreVersion: Sphinx.version, sodiumVersion: String(cString: sodium_version_string()),
            libcryptoVersion: String(cString: OpenSSL_version(Int32(OPENSSL_VERSION))),
            geometry: Self.suites.map { "\($0.label): \($0.geometry)" }.joined(separator: "; "),
            rounds: rounds, secondsPerItem: secondsPerItem, items: out, ratios: ratios)
    }

    // MARK: the items

    private func addItems(suite: String, geometry: Geometry, backend: SphinxBackend, fixture: Fixture) throws {
        let name = backend.rawValue
        try Sphinx.setBackend(backend)
        // The same probe the node benchmark judges a node's efficiency against, on this backend.
        let probe = try ProcessRateProbe(packets: Self.stockSize, geometry: geometry)
        let packetBytes = geometry.packetBytes
        func item(_ label: String, maxCalls: Int = .max, _ run: @escaping (Int) -> Void) -> Item {
            Item(name: label, suite: suite, backend: name, run: run, maxCalls: maxCalls)
        }
        items.append(item("process", maxCalls: Self.stockSize) { n in probe.processNext(n) })
        // What key epochs add to every packet: the epoch state read, and a filter in a mapped file.
        let (epochs, epochScratch) = try ProcessRateProbe.throughEpochMachinery(packets: Self.stockSize, geometry: geometry,
                                                                                label: "\(suite)-\(name)")
        scratch += epochScratch
        items.append(item("process with epochs", maxCalls: Self.stockSize) { n in epochs.processNext(n) })
        let floor = CryptoFloor(geometry: geometry, nodeKey: fixture.nodeKey, packet: fixture.sample, libcrypto: backend == .libcrypto)
        items.append(item("floor") { n in floor.run(n) })

        let message = [UInt8](repeating: 7, count: 1000)
        let createOut = UnsafeMutableRawBufferPointer.allocate(byteCount: packetBytes, alignment: 16)
        for hops in [1, 3, 6] {
            let route = Array(fixture.route.prefix(hops - 1)) + [fixture.finalHop(at: hops - 1)]
            items.append(item("create \(hops) hop\(hops == 1 ? "" : "s")") { n in
                try! Sphinx.setBackend(backend)
                for _ in 0..<n { try! Sphinx.createPacket(geometry: geometry, route: route, message: message, into: createOut) }
            })
        }
        let route6 = Array(fixture.route.prefix(5)) + [fixture.finalHop(at: 5)]
        items.append(item("SURB create (6 hops)") { n in
            try! Sphinx.setBackend(backend)
            for _ in 0..<n { _ = try! Sphinx.createReplyBlock(geometry: geometry, route: route6, firstHop: fixture.route[0].publicKeyAddress) }
        })
        let block = fixture.replyBlock, secret = fixture.replySecret, delivered = fixture.deliveredReply
        items.append(item("SURB use") { n in
            try! Sphinx.setBackend(backend)
            for _ in 0..<n { _ = try! block.makeReply(message: message) }
        })
        items.append(item("SURB open (6 hops)") { n in
            for _ in 0..<n { _ = try! secret.open(packet: delivered) }
        })
    }

    /// What `process` spends in the replay filter beside the floor: the check before the MAC and
    /// the record after it, for a fresh tag each time (bench_sphinx.c's item of the same name).
    private func addReplayFilter() throws {
        var made: OpaquePointer?
        guard lsx_replay_filter_create(&made, UInt64(4 * Self.stockSize), 1e-6, 0) == 0, let filter = made else {
            throw SphinxError.invalidGeometry
        }
        replayFilter = filter
        var tag = [UInt8](repeating: 0, count: lsx_tag_bytes())
        var counter: UInt64 = 0, epoch: UInt64 = 0
        items.append(Item(name: "replay filter check+record", suite: "-", backend: "-", run: { n in
            epoch += 1
            lsx_replay_filter_rotate(filter, epoch)  // as the process item does when it starts over
            for _ in 0..<n {
                counter += 1
                withUnsafeBytes(of: counter) { tag.replaceSubrange(0..<8, with: $0) }
                guard lsx_replay_filter_contains(filter, tag) == 0, lsx_replay_filter_insert(filter, tag) == 0 else {
                    preconditionFailure("a fresh tag was refused")
                }
            }
        }, maxCalls: Self.stockSize))
    }

    private func addMultiplications() {
        let keyBytes = lsx_key_bytes()
        var scalar = [UInt8](repeating: 0, count: keyBytes), point = [UInt8](repeating: 0, count: keyBytes)
        var out = [UInt8](repeating: 0, count: keyBytes)
        randombytes_buf(&scalar, keyBytes)
        crypto_scalarmult_base(&point, scalar)
        randombytes_buf(&scalar, keyBytes)
        items.append(Item(name: "X25519 base mult", suite: "-", backend: "sodium", run: { n in
            for _ in 0..<n {
                crypto_scalarmult_base(&out, scalar)
                scalar[0] ^= out[0]  // a new scalar each time, as a sender's fresh secret
            }
        }, maxCalls: .max))
        items.append(Item(name: "X25519 variable mult", suite: "-", backend: "sodium", run: { n in
            for _ in 0..<n {
                _ = crypto_scalarmult(&out, scalar, point)
                scalar[0] ^= out[0]
            }
        }, maxCalls: .max))
    }
}

/// Keys, routes, a packet for one node, and a reply that went through six hops, in one geometry.
private struct Fixture {
    let nodeKey: SecretKey
    let keys: [SecretKey]
    let route: [RouteHop]
    /// A six-hop packet whose first hop is `nodeKey`: the floor takes its group element or encapsulation.
    let sample: [UInt8]
    let replyBlock: ReplyBlock
    let replySecret: ReplyBlockSecret
    let deliveredReply: [UInt8]

    init(geometry: Geometry) throws {
        nodeKey = SecretKey.generate()
        keys = [nodeKey] + (1..<6).map { _ in SecretKey.generate() }
        route = keys.map { RouteHop(publicKey: $0.publicKey, command: .relay(next: .random(), delayMicroseconds: 1000)) }
        let full = Array(route.prefix(5)) + [RouteHop(publicKey: keys[5].publicKey, command: .final(messageID: .random()))]
        let message = [UInt8](repeating: 1, count: 1000)
        sample = try Sphinx.createPacket(geometry: geometry, route: full, message: message)
        let made = try Sphinx.createReplyBlock(geometry: geometry, route: full, firstHop: .random())
        replyBlock = made.block
        replySecret = made.secret
        var packet = try made.block.makeReply(message: message)
        for key in keys {
            packet = try PacketProcessor(geometry: geometry, secretKey: key, replayFilter: nil).process(packet).packet
        }
        deliveredReply = packet
    }

    func finalHop(at i: Int) -> RouteHop {
        RouteHop(publicKey: keys[i].publicKey, command: .final(messageID: .random()))
    }
}

private extension RouteHop {
    var publicKeyAddress: SphinxAddress { try! SphinxAddress(bytes: publicKey.bytes) }
}

/// The floor of one hop of a suite: the same primitives on the same sizes as lsx_process, with
/// nothing else. Version 1: X25519 with alpha, eight KDF outputs, the header MAC and stream,
/// LIONESS over the payload, X25519 to blind alpha. KEM suite: X25519 with the encapsulation,
/// the KEM hash, seven KDF outputs (no blinding), the MAC over a longer beta, a longer header
/// stream, LIONESS. The sizes come from the C core (`lsx_*_bytes()`, the geometry) and, for
/// what the core keeps inside (the LIONESS halves, its KDF and KEM personalisations), from the
/// primitives libsodium gives it, which the core checks its own sizes against when it is built.
final class CryptoFloor {
    /// The keys a version 1 hop derives from its shared secret (spec section 4): header stream,
    /// header MAC, LIONESS K1..K4, blinding factor, replay tag; the KEM suite all but the blinding.
    static let kdfCalls = 8
    private static let blindingKey = 6
    private static let keyBytes = lsx_key_bytes()
    /// BLAKE2b costs the same under any personalisation; the core's own are not part of its API.
    private static let kdfContext = [CChar](repeating: 0, count: Int(crypto_kdf_CONTEXTBYTES))
    private static let kemPersonal = [UInt8](repeating: 0, count: Int(crypto_generichash_blake2b_PERSONALBYTES))
    private let kem: Bool
    private var nodeSecret: [UInt8]
    /// KEM suite: what the KEM hash reads, the encapsulation and the node's public key.
    private let element: [UInt8], kemInput: [UInt8]
    private var dh = [UInt8](repeating: 0, count: keyBytes), shared = [UInt8](repeating: 0, count: keyBytes)
    private var blinded = [UInt8](repeating: 0, count: keyBytes)
    private var keys = [[UInt8]](repeating: [UInt8](repeating: 0, count: keyBytes), count: kdfCalls)
    private var macInput: [UInt8], mac = [UInt8](repeating: 0, count: lsx_gamma_bytes())
    private var routing: [UInt8]
    private var payloadBytes: [UInt8]
    /// L of LIONESS: a stream key's size, as is the H32 digest a round folds into it.
    private let lionessLeft = Int(crypto_stream_chacha20_KEYBYTES)
    private var digest: [UInt8]
    private let nonce = [UInt8](repeating: 0, count: Int(crypto_stream_chacha20_NONCEBYTES))
    private let libcrypto: Bool
    private let evpNode: OpaquePointer?

    /// The floor of `geometry`'s suite for a node with `nodeKey`, over the element that opens `packet`.
    init(geometry: Geometry, nodeKey: SecretKey, packet: [UInt8], libcrypto: Bool) {
        let suite = lsx_suite(rawValue: UInt32(geometry.suite.formatVersion))
        kem = geometry.suite != .v1
        nodeSecret = nodeKey.exportedBytes
        let start = lsx_format_version_bytes()
        element = Array(packet[start..<start + lsx_suite_element_bytes(suite)])
        kemInput = element + nodeKey.publicKey.bytes
        self.libcrypto = libcrypto
        // The MAC covers the version byte and beta; the header stream runs over beta and one slot more.
        let slot = lsx_suite_slot_bytes(suite)
        macInput = [UInt8](repeating: 0, count: lsx_format_version_bytes() + geometry.hops * slot)
        routing = [UInt8](repeating: 0, count: (geometry.hops + 1) * slot)
        payloadBytes = [UInt8](repeating: 0, count: geometry.payload)
        digest = [UInt8](repeating: 0, count: lionessLeft)
        randombytes_buf(&macInput, macInput.count)
        randombytes_buf(&routing, routing.count)
        randombytes_buf(&payloadBytes, payloadBytes.count)
        evpNode = libcrypto ? EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, nodeSecret, Self.keyBytes) : nil
    }

    deinit { EVP_PKEY_free(evpNode) }

    func run(_ n: Int) {
        for _ in 0..<n {
            if libcrypto {
                evpDerive(evpNode, &dh)
                symmetric()
                if kem { continue }
                let blinding = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, keys[Self.blindingKey], Self.keyBytes)
                evpDerive(blinding, &blinded)
                EVP_PKEY_free(blinding)
            } else {
                _ = crypto_scalarmult(&dh, nodeSecret, element)
                symmetric()
                if !kem { _ = crypto_scalarmult(&blinded, keys[Self.blindingKey], element) }
            }
        }
    }

    /// X25519 through OpenSSL's EVP interface, as the libcrypto backend must call it.
    private func evpDerive(_ key: OpaquePointer?, _ out: inout [UInt8]) {
        var length = Self.keyBytes
        let peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, element, Self.keyBytes)
        let ctx = EVP_PKEY_CTX_new(key, nil)
        let ok = EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1
            && EVP_PKEY_derive(ctx, &out, &length) == 1
        precondition(ok, "EVP X25519 failed")
        EVP_PKEY_CTX_free(ctx)
        EVP_PKEY_free(peer)
    }

    /// Everything of a hop after its X25519 result but the blinding.
    private func symmetric() {
        let keyBytes = Self.keyBytes
        if kem {
            // The KEM hash: BLAKE2b keyed by the X25519 result over the encapsulation and the node's public key.
            _ = crypto_generichash_blake2b_salt_personal(&shared, keyBytes, kemInput, UInt64(kemInput.count), dh, keyBytes,
                                                          nil, Self.kemPersonal)
        }
        let secret = kem ? shared : dh
        for k in 0..<Self.kdfCalls where !(kem && k == Self.blindingKey) {
            _ = crypto_kdf_derive_from_key(&keys[k], keyBytes, UInt64(k + 1), Self.kdfContext, secret)
        }
        _ = crypto_generichash(&mac, mac.count, macInput, UInt64(macInput.count), keys[1], keyBytes)
        _ = crypto_stream_chacha20_xor(&routing, routing, UInt64(routing.count), nonce, keys[0])
        // LIONESS: two keyed hashes and two stream passes over the payload's R part.
        let left = lionessLeft, r = payloadBytes.count - left
        payloadBytes.withUnsafeMutableBufferPointer { p in
            let body = p.baseAddress! + left
            for round in 0..<2 {
                _ = crypto_generichash(&digest, digest.count, body, UInt64(r), keys[4 + 2 * round], keyBytes)
                _ = crypto_stream_chacha20_xor(body, body, UInt64(r), nonce, keys[3 + 2 * round])
                p[0] ^= digest[0]
            }
        }
    }
}
