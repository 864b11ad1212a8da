// Round trips, tampering, replays and reply blocks through the Swift API.
import CLoopixSphinx
import Foundation
import LoopixSphinx
import Testing

/// A route of fresh nodes: RELAY between them, `last` at the end.
struct TestRoute {
    let keys: [SecretKey]
    let ids: [SphinxAddress]
    let hops: [RouteHop]
    let processors: [PacketProcessor]

    init(geometry: Geometry, length: Int, last: RoutingCommand, filters: Bool = false) throws {
        keys = (0..<length).map { _ in SecretKey.generate() }
        ids = (0..<length).map { _ in SphinxAddress.random() }
        var hops: [RouteHop] = []
        for i in 0..<length {
            let command: RoutingCommand =
                i == length - 1 ? last : .relay(next: ids[i + 1], delayMicroseconds: UInt32(i * 1000 + 1))
            hops.append(RouteHop(publicKey: keys[i].publicKey, command: command))
        }
        self.hops = hops
        processors = try keys.map {
            try PacketProcessor(geometry: geometry, secretKey: $0,
                                replayFilter: filters ? ReplayFilter(capacity: 1000) : nil)
        }
    }

    /// Runs the packet through every hop; returns the last output and what the last hop learned.
    func run(_ packet: [UInt8]) throws(SphinxError) -> ([UInt8], ProcessedPacket) {
        var current = packet
        var last: ProcessedPacket? = nil
        for (i, p) in processors.enumerated() {
            let (next, processed) = try p.process(current)
            precondition(processed.command == hops[i].command)
            current = next
            last = processed
        }
        return (current, last!)
    }
}

@Suite("Packets")
struct PacketTests {
    static let small = try! Geometry(hops: 2, payload: 64)
    static let kemStandard = try! Geometry(hops: 6, payload: 2048, suite: .kemX25519)
    static let kemSmall = try! Geometry(hops: 2, payload: 64, suite: .kemX25519)

    @Test("round trip at every hop count, both geometries of both suites, empty and maximum messages",
          arguments: [Geometry.standard, PacketTests.small, PacketTests.kemStandard, PacketTests.kemSmall])
    func roundTrips(geometry: Geometry) throws {
        for length in 1...geometry.hops {
            for size in [0, geometry.maxMessageBytes / 3, geometry.maxMessageBytes] {
                let message = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ length) }
                let id = SphinxAddress.random()
                let route = try TestRoute(geometry: geometry, length: length, last: .final(messageID: id))
                let packet = try Sphinx.createPacket(geometry: geometry, route: route.hops, message: message)
                #expect(packet.count == geometry.packetBytes && packet[0] == geometry.suite.formatVersion)
                let (out, last) = try route.run(packet)
                #expect(last.command == .final(messageID: id))
                let range = try #require(last.finalMessage)
                #expect(Array(out[range]) == message)
            }
        }
    }

    @Test("a message one byte too long is refused")
    func tooLong() throws {
        let route = try TestRoute(geometry: .standard, length: 1, last: .drop(delayMicroseconds: 0))
        #expect(throws: SphinxError.messageTooLong) {
            try Sphinx.createPacket(geometry: .standard, route: route.hops,
                                    message: [UInt8](repeating: 1, count: Geometry.standard.maxMessageBytes + 1))
        }
        #expect(throws: SphinxError.invalidRoute) {
            try Sphinx.createPacket(geometry: .standard, route: [], message: [1])
        }
    }

    /// Offsets at H = 6 (specs' section 3 / KEM section 5): beta at 33, 64-byte slots in v1, 96-byte slots
    /// (command, next gamma, next encapsulation) in the KEM suite.
    @Test("a flipped bit: MAC failure in the header, payload check failure at the destination",
          arguments: [(PacketSuite.v1, "beta", 33 + 50, SphinxError?.some(.badMAC)),
                      (.v1, "gamma", 33 + 384 + 2, .some(.badMAC)), (.v1, "payload", 433 + 700, nil),
                      (.kemX25519, "the next encapsulation in the first slot", 33 + 64 + 3, .some(.badMAC)),
                      (.kemX25519, "beta", 33 + 300, .some(.badMAC)), (.kemX25519, "gamma", 33 + 576 + 2, .some(.badMAC)),
                      (.kemX25519, "payload", 625 + 700, nil)])
    func tampering(suite: PacketSuite, region: String, offset: Int, expected: SphinxError?) throws {
        let geometry = try Geometry(hops: 6, payload: 2048, suite: suite)
        let route = try TestRoute(geometry: geometry, length: 3, last: .final(messageID: .random()))
        var packet = try Sphinx.createPacket(geometry: geometry, route: route.hops, message: Array("hi".utf8))
        packet[offset] ^= 0x10
        if let expected {
            #expect(throws: expected) { try route.run(packet) }
        } else {
            let (_, last) = try route.run(packet)
            #expect(last.finalMessage == nil, "tampered payload must fail the destination's check")
        }
    }

    @Test("a flipped bit in alpha (or the encapsulation) is refused at the first hop",
          arguments: [Geometry.standard, PacketTests.kemStandard])
    func tamperedAlpha(geometry: Geometry) throws {
        let route = try TestRoute(geometry: geometry, length: 2, last: .drop(delayMicroseconds: 0))
        var packet = try Sphinx.createPacket(geometry: geometry, route: route.hops, message: [])
        packet[7] ^= 0x01
        #expect(performing: { try route.processors[0].process(packet) },
                throws: { ($0 as? SphinxError) == .badMAC || ($0 as? SphinxError) == .lowOrderPoint })
    }

    @Test("version, top bit of alpha, length")
    func headerChecks() throws {
        let route = try TestRoute(geometry: .standard, length: 1, last: .drop(delayMicroseconds: 0))
        let packet = try Sphinx.createPacket(geometry: .standard, route: route.hops, message: [])
        var wrongVersion = packet
        wrongVersion[0] = 2
        #expect(throws: SphinxError.badVersion) { try route.processors[0].process(wrongVersion) }
        var topBit = packet
        topBit[32] |= 0x80
        #expect(throws: SphinxError.noncanonicalAlpha) { try route.processors[0].process(topBit) }
        #expect(throws: SphinxError.wrongLength) { try route.processors[0].process(Array(packet.dropLast())) }
        #expect(throws: SphinxError.wrongLength) { try route.processors[0].process([]) }
    }

    @Test("replays are refused; a bad MAC does not poison the filter",
          arguments: [Geometry.standard, PacketTests.kemStandard])
    func replays(geometry: Geometry) throws {
        let route = try TestRoute(geometry: geometry, length: 2, last: .drop(delayMicroseconds: 0), filters: true)
        let packet = try Sphinx.createPacket(geometry: geometry, route: route.hops, message: [])
        var forged = packet
        forged[100] ^= 1
        #expect(throws: SphinxError.badMAC) { try route.processors[0].process(forged) }
        #expect(route.processors[0].replayFilter!.count == 0)
        _ = try route.processors[0].process(packet)
        #expect(throws: SphinxError.replay) { try route.processors[0].process(packet) }
    }

    @Test("processing in place into a preallocated buffer")
    func inPlace() throws {
        let route = try TestRoute(geometry: .standard, length: 1, last: .final(messageID: .random()))
        var buffer = try Sphinx.createPacket(geometry: .standard, route: route.hops, message: Array("in place".utf8))
        let processed = try buffer.withUnsafeMutableBytes { (b) throws(SphinxError) in
            try route.processors[0].process(UnsafeRawBufferPointer(b), into: b)
        }
        let range = try #require(processed.finalMessage)
        #expect(String(decoding: buffer[range], as: UTF8.self) == "in place")
    }

    @Test("dummies have the packet size, the version and a canonical element, and fail the MAC",
          arguments: [Geometry.standard, PacketTests.kemStandard])
    func dummies(geometry: Geometry) throws {
        let route = try TestRoute(geometry: geometry, length: 1, last: .drop(delayMicroseconds: 0))
        for _ in 0..<32 {
            let d = Sphinx.createDummy(geometry: geometry)
            #expect(d.count == geometry.packetBytes && d[0] == geometry.suite.formatVersion && d[32] & 0x80 == 0)
            #expect(throws: SphinxError.badMAC) { try route.processors[0].process(d) }
        }
    }

    @Test("geometry ranges")
    func geometry() throws {
        #expect(Geometry.standard.packetBytes == 2481 && Geometry.standard.headerBytes == 433)
        #expect(throws: SphinxError.invalidGeometry) { try Geometry(hops: 0, payload: 2048) }
        #expect(throws: SphinxError.invalidGeometry) { try Geometry(hops: 17, payload: 2048) }
        #expect(throws: SphinxError.invalidGeometry) { try Geometry(hops: 6, payload: 63) }
        #expect(throws: SphinxError.invalidGeometry) { try Geometry(hops: 6, payload: 65537) }
        #expect(throws: SphinxError.invalidGeometry) { try Geometry(hops: -1, payload: 2048) }
    }

    @Test("a geometry's sizes are the spec's, from the C core, and survive encoding its two parameters")
    func geometrySizes() throws {
        let g = Geometry.standard
        #expect(g.hops == 6 && g.payload == 2048)
        #expect(g.maxMessageBytes == 2030 && g.replyBlockBytes == 32 + 433 + 128)
        let json = try JSONEncoder().encode(try Geometry(hops: 2, payload: 64))
        #expect(String(decoding: json, as: UTF8.self).contains("headerBytes") == false)
        let decoded = try JSONDecoder().decode(Geometry.self, from: json)
        #expect(decoded == (try Geometry(hops: 2, payload: 64)) && decoded.packetBytes == 1 + 32 + 2 * 64 + 16 + 64)
    }
}

@Suite("Reply blocks")
struct ReplyBlockTests {
    @Test("a reply travels back and opens; a second use is a replay",
          arguments: [Geometry.standard, PacketTests.kemStandard])
    func roundTripAndReuse(geometry: Geometry) throws {
        let replyID = SphinxAddress.random()
        let route = try TestRoute(geometry: geometry, length: 4, last: .final(messageID: replyID), filters: true)
        let (block, secret) = try Sphinx.createReplyBlock(geometry: geometry, route: route.hops, firstHop: route.ids[0])
        #expect(block.bytes.count == geometry.replyBlockBytes)
        #expect(block.firstHop == route.ids[0] && secret.replyID == replyID)
        let reply = try block.makeReply(message: Array("pong".utf8))
        let (out, last) = try route.run(reply)
        #expect(last.command == .final(messageID: replyID))
        #expect(last.finalMessage == nil, "a reply is not readable as a forward message")
        #expect(try secret.open(packet: out) == Array("pong".utf8))
        let again = try block.makeReply(message: Array("again".utf8))
        #expect(throws: SphinxError.replay) { try route.processors[0].process(again) }
    }

    @Test("a route that does not end in FINAL cannot make a reply block")
    func needsFinal() throws {
        let route = try TestRoute(geometry: .standard, length: 2, last: .drop(delayMicroseconds: 0))
        #expect(throws: SphinxError.invalidRoute) {
            try Sphinx.createReplyBlock(geometry: .standard, route: route.hops, firstHop: route.ids[0])
        }
        #expect(throws: SphinxError.wrongLength) { try ReplyBlock(geometry: .standard, bytes: [1, 2, 3]) }
    }
}

/// Serialized: these tests switch the process-wide backend, and must not switch it under each other.
@Suite("Backends and keys", .serialized)
struct BackendTests {
    @Test("libsodium and libcrypto give identical bytes", arguments: PacketSuite.allCases)
    func backendsAgree(suite: PacketSuite) throws {
        let saved = Sphinx.backend
        defer { try? Sphinx.setBackend(saved) }
        let geometry = try Geometry(hops: 6, payload: 2048, suite: suite)
        let keys = (0..<6).map { _ in SecretKey.generate() }
        let hops = keys.enumerated().map { i, k in
            RouteHop(publicKey: k.publicKey,
                     command: i == 5 ? .final(messageID: .zero) : .relay(next: .zero, delayMicroseconds: 5))
        }
        let secret = (0..<geometry.ephemeralBytes(forHops: 6)).map { UInt8(truncatingIfNeeded: $0) }
        var outputs: [SphinxBackend: [[UInt8]]] = [:]
        for backend in SphinxBackend.allCases {
            try Sphinx.setBackend(backend)
            var packet = [UInt8](repeating: 0, count: geometry.packetBytes)
            try packet.withUnsafeMutableBytes {
                try Sphinx.createPacket(geometry: geometry, route: hops, message: [9, 9], ephemeralSecret: secret, into: $0)
            }
            var trace = [packet]
            for k in keys {
                let p = try PacketProcessor(geometry: geometry, secretKey: k, replayFilter: nil)
                #expect(p.backend == backend)
                packet = try p.process(packet).packet
                trace.append(packet)
            }
            outputs[backend] = trace
        }
        #expect(outputs[.sodium] == outputs[.libcrypto])
    }

    /// The KEM suite's vector file's own KEM entries. The KEM has no Swift API (packets never need it alone), so
    /// they go to the C core's functions; here because they switch the backend.
    @Test("the KEM's own entries: encapsulation and decapsulation, with each backend")
    func kemEntries() throws {
        let file = try Vectors.load("sphinx-kem-v1.json", as: VectorFile.self)
        let entries = try #require(file.kem)
        #expect(entries.count >= 2)
        let saved = Sphinx.backend
        defer { try? Sphinx.setBackend(saved) }
        let geometry = lsx_geometry(hops: 1, payload: 64, suite: LSX_SUITE_KEM_X25519)
        for backend in SphinxBackend.allCases {
            try Sphinx.setBackend(backend)
            for entry in entries {
                let key = try SecretKey(bytes: hex(entry.private_key))
                #expect(key.publicKey.bytes == hex(entry.public_key), "\(entry.description)")
                var ciphertext = [UInt8](repeating: 0, count: Int(lsx_kem_x25519_ciphertext_bytes()))
                var shared = [UInt8](repeating: 0, count: Int(lsx_kem_shared_secret_bytes()))
                let seed = hex(entry.ephemeral_secret), publicKey = hex(entry.public_key)
                #expect(lsx_kem_encapsulate(&ciphertext, ciphertext.count, &shared, LSX_SUITE_KEM_X25519, publicKey,
                                            seed, seed.count) == 0)
                #expect(ciphertext == hex(entry.ciphertext) && shared == hex(entry.shared_secret), "\(entry.description)")
                var node: OpaquePointer? = nil
                var g = geometry
                #expect(key.withUnsafeBytes { lsx_node_create(&node, &g, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) } == 0)
                defer { lsx_node_destroy(node) }
                var decapsulated = [UInt8](repeating: 0, count: shared.count)
                #expect(lsx_kem_decapsulate(&decapsulated, node, ciphertext, ciphertext.count) == 0)
                #expect(decapsulated == hex(entry.shared_secret), "\(entry.description)")
            }
        }
    }

    @Test("a secret key round-trips through its bytes; wrong lengths are refused")
    func keys() throws {
        let k = SecretKey.generate()
        let again = try SecretKey(bytes: k.exportedBytes)
        #expect(again.publicKey == k.publicKey)
        #expect(throws: SphinxError.wrongLength) { try SecretKey(bytes: [1, 2, 3]) }
        #expect(throws: SphinxError.wrongLength) { try PublicKey(bytes: [UInt8](repeating: 0, count: 31)) }
    }

    @Test("replay filter: capacity, saturation, rotation")
    func replayFilter() throws {
        let f = try ReplayFilter(capacity: 3, falsePositiveRate: 1e-6, epoch: 1)
        #expect(f.falsePositiveRate <= 1e-6 && f.memoryBytes > 0)
        let route = try TestRoute(geometry: .standard, length: 1, last: .drop(delayMicroseconds: 0))
        let p = try PacketProcessor(geometry: .standard, secretKey: route.keys[0], replayFilter: f)
        for _ in 0..<3 { _ = try p.process(try Sphinx.createPacket(geometry: .standard, route: route.hops, message: [])) }
        let fourth = try Sphinx.createPacket(geometry: .standard, route: route.hops, message: [])
        #expect(throws: SphinxError.replayFilterFull) { try p.process(fourth) }
        f.rotate(toEpoch: 2)
        #expect(f.count == 0 && f.epoch == 2)
        _ = try p.process(fourth)
        #expect(ReplayFilter.capacity(packetsPerSecond: 100, epochSeconds: 3600) == 450_000)
    }
}

@Suite struct SphinxErrorTests {
    /// Every code the C core names maps to a case and back, and the name is the core's own.
    @Test func everyCodeRoundTrips() {
        var named = 0
        for code in Int32(-64)..<0 {
            let error = SphinxError(code: code)
            #expect(error.code == code)
            #expect(error.name == String(cString: lsx_error_name(code)))
            if case .unknown = error {} else { named += 1 }
        }
        #expect(SphinxError.badMAC.name == "bad_mac" && SphinxError.replayFilterFull.name == "replay_filter_saturated")
        #expect(named == 20)
    }
}
