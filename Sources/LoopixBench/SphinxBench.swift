// Sphinx operations per second on one core, per X25519 backend, each beside its cryptographic
// floor in the same interleaved rounds (the method of CSources/bench/bench_sphinx.c, over the
// Swift API the node calls).
import CBenchCrypto
internal import CLoopixSphinx
import Foundation
import LoopixSphinx

/// One measured operation: its median time over rounds.
public struct SphinxBenchItem: Codable, Sendable {
    public var name: String
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
    public var geometry: String
    public var rounds: Int
    public var secondsPerItem: Double
    public var items: [SphinxBenchItem]
    public var ratios: [SphinxBenchRatio]
}

/// Runs the items round by round so that noise on a shared machine hits all alike.
public final class SphinxBench {
    struct Item {
        var name: String
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
    private let geometry = Geometry.standard
    private static let stockSize = 2000

    public init(rounds: Int = 9, secondsPerItem: Double = 0.08) {
        self.rounds = rounds
        self.secondsPerItem = secondsPerItem
    }

    /// Builds the items (packets, keys, reply blocks), calibrates and runs them.
    public func run(progress: (String) -> Void) throws -> SphinxBenchReport {
        try Sphinx.initialize()
        progress("making \(Self.stockSize) packets")
        let fixture = try Fixture(geometry: geometry, stock: Self.stockSize)
        for backend in SphinxBackend.allCases {
            try addItems(backend: backend, fixture: fixture)
        }
        addMultiplications()
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

    private func index(_ name: String, _ backend: String) -> Int? {
        items.firstIndex { $0.name == name && $0.backend == backend }
    }

    private func medianRatio(_ a: Int, _ b: [(Int, Double)]) -> Double {
        let perRound = (0..<rounds).map { r in items[a].perCall[r] / b.reduce(0) { $0 + items[$1.0].perCall[r] * $1.1 } }
        return Statistics.median(perRound)
    }

    private func report() -> SphinxBenchReport {
        let out = items.map { item -> SphinxBenchItem in
            let m = Statistics.median(item.perCall)
            return SphinxBenchItem(name: item.name, backend: item.backend, microseconds: m * 1e6, opsPerSecond: 1 / m,
                                   callsPerRound: item.calls)
        }
        var ratios: [SphinxBenchRatio] = []
        for backend in SphinxBackend.allCases.map(\.rawValue) {
            if let p = index("process", backend), let f = index("floor", backend) {
                let v = medianRatio(p, [(f, 1)])
                ratios.append(SphinxBenchRatio(name: "process / floor (\(backend))", value: v, target: "<= 1.10", met: v <= 1.10))
            }
        }
        for backend in SphinxBackend.allCases.map(\.rawValue) {
            if let p = index("process", backend), let e = index("process with epochs", backend) {
                let v = medianRatio(e, [(p, 1)]) - 1
                ratios.append(SphinxBenchRatio(name: "epoch machinery per packet / process (\(backend))", value: v,
                                               target: "<= 0.02", met: v <= 0.02))
            }
        }
        if let ps = index("process", "sodium"), let pl = index("process", "libcrypto") {
            ratios.append(SphinxBenchRatio(name: "process (libcrypto) / process (sodium)", value: medianRatio(pl, [(ps, 1)])))
        }
        if let base = index("X25519 base mult", "sodium"), let variable = index("X25519 variable mult", "sodium") {
            for hops in [1, 3, 6] {
                let mults = Double(hops * (hops + 1) / 2)
                for backend in SphinxBackend.allCases.map(\.rawValue) {
                    guard let c = index("create \(hops) hop\(hops == 1 ? "" : "s")", backend) else { continue }
                    let v = medianRatio(c, [(base, 1), (variable, mults)])
                    ratios.append(SphinxBenchRatio(
                        name: "create \(hops) (\(backend)) / (1 base + \(Int(mults)) var mults, sodium)", value: v,
                        target: backend == "sodium" ? "<= 1.15" : nil, met: backend == "sodium" ? v <= 1.15 : nil))
                }
            }
        }
        return SphinxBenchReport(
            coreVersion: Sphinx.version, sodiumVersion: String(cString: sodium_version_string()),
            libcryptoVersion: String(cString: OpenSSL_version(Int32(OPENSSL_VERSION))), geometry: geometry.description,
            rounds: rounds, secondsPerItem: secondsPerItem, items: out, ratios: ratios)
    }

    // MARK: the items

    private func addItems(backend: SphinxBackend, fixture: Fixture) throws {
        let name = backend.rawValue
        try Sphinx.setBackend(backend)
        // The same probe the node benchmark judges a node's efficiency against, on this backend.
        let probe = try ProcessRateProbe(packets: Self.stockSize)
        let packetBytes = geometry.packetBytes
        let stock = fixture.stock
        items.append(Item(name: "process", backend: name, run: { n in probe.processNext(n) }, maxCalls: Self.stockSize))
        // What key epochs add to every packet: the epoch state read, and a filter in a mapped file.
        let (epochs, epochScratch) = try ProcessRateProbe.throughEpochMachinery(packets: Self.stockSize, label: name)
        scratch += epochScratch
        items.append(Item(name: "process with epochs", backend: name, run: { n in epochs.processNext(n) },
                          maxCalls: Self.stockSize))
        let alphaStart = lsx_format_version_bytes()
        let floor = CryptoFloor(geometry: geometry, nodeSecret: fixture.nodeKey.exportedBytes,
                                alpha: Array(stock[alphaStart..<alphaStart + lsx_alpha_bytes()]), libcrypto: backend == .libcrypto)
        items.append(Item(name: "floor", backend: name, run: { n in floor.run(n) }, maxCalls: .max))

        let message = [UInt8](repeating: 7, count: 1000)
        let createOut = UnsafeMutableRawBufferPointer.allocate(byteCount: packetBytes, alignment: 16)
        for hops in [1, 3, 6] {
            let route = Array(fixture.route.prefix(hops - 1)) + [fixture.finalHop(at: hops - 1)]
            items.append(Item(name: "create \(hops) hop\(hops == 1 ? "" : "s")", backend: name, run: { [geometry] n in
                try! Sphinx.setBackend(backend)
                for _ in 0..<n { try! Sphinx.createPacket(geometry: geometry, route: route, message: message, into: createOut) }
            }, maxCalls: .max))
        }
        let route6 = Array(fixture.route.prefix(5)) + [fixture.finalHop(at: 5)]
        items.append(Item(name: "SURB create (6 hops)", backend: name, run: { [geometry] n in
            try! Sphinx.setBackend(backend)
            for _ in 0..<n { _ = try! Sphinx.createReplyBlock(geometry: geometry, route: route6, firstHop: fixture.route[0].publicKeyAddress) }
        }, maxCalls: .max))
        let block = fixture.replyBlock, secret = fixture.replySecret, delivered = fixture.deliveredReply
        items.append(Item(name: "SURB use", backend: name, run: { n in
            try! Sphinx.setBackend(backend)
            for _ in 0..<n { _ = try! block.makeReply(message: message) }
        }, maxCalls: .max))
        items.append(Item(name: "SURB open (6 hops)", backend: name, run: { n in
            for _ in 0..<n { _ = try! secret.open(packet: delivered) }
        }, maxCalls: .max))
    }

    private func addMultiplications() {
        let keyBytes = lsx_key_bytes()
        var scalar = [UInt8](repeating: 0, count: keyBytes), point = [UInt8](repeating: 0, count: keyBytes)
        var out = [UInt8](repeating: 0, count: keyBytes)
        randombytes_buf(&scalar, keyBytes)
        crypto_scalarmult_base(&point, scalar)
        randombytes_buf(&scalar, keyBytes)
        items.append(Item(name: "X25519 base mult", backend: "sodium", run: { n in
            for _ in 0..<n {
                crypto_scalarmult_base(&out, scalar)
                scalar[0] ^= out[0]  // a new scalar each time, as a sender's fresh secret
            }
        }, maxCalls: .max))
        items.append(Item(name: "X25519 variable mult", backend: "sodium", run: { n in
            for _ in 0..<n {
                _ = crypto_scalarmult(&out, scalar, point)
                scalar[0] ^= out[0]
            }
        }, maxCalls: .max))
    }
}

/// Keys, routes, a stock of packets for one node, and a reply that went through six hops.
private struct Fixture {
    let nodeKey: SecretKey
    let keys: [SecretKey]
    let route: [RouteHop]
    let stock: UnsafeMutableRawBufferPointer
    let replyBlock: ReplyBlock
    let replySecret: ReplyBlockSecret
    let deliveredReply: [UInt8]

    init(geometry: Geometry, stock count: Int) throws {
        nodeKey = SecretKey.generate()
        keys = [nodeKey] + (1..<6).map { _ in SecretKey.generate() }
        route = keys.map { RouteHop(publicKey: $0.publicKey, command: .relay(next: .random(), delayMicroseconds: 1000)) }
        let full = Array(route.prefix(5)) + [RouteHop(publicKey: keys[5].publicKey, command: .final(messageID: .random()))]
        stock = UnsafeMutableRawBufferPointer.allocate(byteCount: count * geometry.packetBytes, alignment: 16)
        let message = [UInt8](repeating: 1, count: 1000)
        for i in 0..<count {
            try Sphinx.createPacket(geometry: geometry, route: full, message: message,
                                    into: UnsafeMutableRawBufferPointer(rebasing: stock[i * geometry.packetBytes..<(i + 1) * geometry.packetBytes]))
        }
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

/// The floor of one hop: two X25519 multiplications and the same symmetric work on the same
/// sizes as lsx_process (key derivation, header MAC and stream, LIONESS over the payload). The
/// sizes come from the C core (`lsx_*_bytes()`, the geometry) and, for what the core keeps
/// inside (the LIONESS halves, its KDF personalisation), from the primitives libsodium gives it,
/// which the core checks its own sizes against when it is built.
final class CryptoFloor {
    /// The keys one hop derives from its shared secret (spec section 4): header stream, header
    /// MAC, LIONESS K1..K4, blinding factor, replay tag.
    static let kdfCalls = 8
    private static let keyBytes = lsx_key_bytes()
    /// BLAKE2b costs the same under any personalisation; the core's own is not part of its API.
    private static let kdfContext = [CChar](repeating: 0, count: Int(crypto_kdf_CONTEXTBYTES))
    private var nodeSecret: [UInt8]
    private let alpha: [UInt8]
    private var shared = [UInt8](repeating: 0, count: keyBytes), blinded = [UInt8](repeating: 0, count: keyBytes)
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

    init(geometry: Geometry, nodeSecret: [UInt8], alpha: [UInt8], libcrypto: Bool) {
        self.nodeSecret = nodeSecret
        self.alpha = alpha
        self.libcrypto = libcrypto
        // The MAC covers the version byte and beta; the header stream runs over beta and one slot more.
        macInput = [UInt8](repeating: 0, count: lsx_format_version_bytes() + geometry.hops * lsx_slot_bytes())
        routing = [UInt8](repeating: 0, count: (geometry.hops + 1) * lsx_slot_bytes())
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
                evpDerive(evpNode, &shared)
                symmetric()
                let blinding = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, keys[6], Self.keyBytes)
                evpDerive(blinding, &blinded)
                EVP_PKEY_free(blinding)
            } else {
                _ = crypto_scalarmult(&shared, nodeSecret, alpha)
                symmetric()
                _ = crypto_scalarmult(&blinded, keys[6], alpha)
            }
        }
    }

    /// X25519 through OpenSSL's EVP interface, as the libcrypto backend must call it.
    private func evpDerive(_ key: OpaquePointer?, _ out: inout [UInt8]) {
        var length = Self.keyBytes
        let peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, alpha, Self.keyBytes)
        let ctx = EVP_PKEY_CTX_new(key, nil)
        let ok = EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1
            && EVP_PKEY_derive(ctx, &out, &length) == 1
        precondition(ok, "EVP X25519 failed")
        EVP_PKEY_CTX_free(ctx)
        EVP_PKEY_free(peer)
    }

    private func symmetric() {
        let keyBytes = Self.keyBytes
        for k in 0..<Self.kdfCalls {
            _ = crypto_kdf_derive_from_key(&keys[k], keyBytes, UInt64(k + 1), Self.kdfContext, shared)
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
