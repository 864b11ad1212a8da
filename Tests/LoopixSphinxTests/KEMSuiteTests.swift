// What only the KEM suite has, through the Swift API (PacketTests runs what both suites share on both).
import Foundation
import LoopixSphinx
import Testing

@Suite("KEM suite")
struct KEMSuiteTests {
    static let standard = try! Geometry(hops: 6, payload: 2048, suite: .kemX25519)
    static let small = try! Geometry(hops: 2, payload: 64, suite: .kemX25519)

    @Test("sizes: 96-byte slots, 32 more bytes per hop than v1, one seed per hop")
    func sizes() throws {
        let g = Self.standard
        #expect(g.suite == .kemX25519 && g.suite.name == "kem-x25519" && g.suite.formatVersion == 2)
        #expect(PacketSuite.v1.formatVersion == 1 && PacketSuite(name: "sphinx-v1") == .v1)
        #expect(g.headerBytes == 625 && g.packetBytes == 2673 && g.replyBlockBytes == 785 && g.maxMessageBytes == 2030)
        #expect(Self.small.packetBytes == 305)
        #expect(g.ephemeralBytes(forHops: 6) == 6 * 32 && g.ephemeralBytes(forHops: 1) == 32)
        #expect(g.ephemeralBytes(forHops: 7) == 0 && Geometry.standard.ephemeralBytes(forHops: 6) == 32)
        #expect(g != Geometry.standard && g.description.hasPrefix("kem-x25519 "))
    }

    @Test("an encoded geometry names its suite unless it is version 1's; no suite reads as version 1")
    func encoding() throws {
        let kem = try JSONEncoder().encode(Self.standard)
        #expect(String(decoding: kem, as: UTF8.self).contains("\"suite\":\"kem-x25519\""))
        #expect(try JSONDecoder().decode(Geometry.self, from: kem) == Self.standard)
        let v1 = try JSONEncoder().encode(Geometry.standard)
        #expect(!String(decoding: v1, as: UTF8.self).contains("suite"), "a version 1 geometry encodes as before the suite existed")
        let decoded = try JSONDecoder().decode(Geometry.self, from: Data(#"{"hops": 6, "payload": 2048}"#.utf8))
        #expect(decoded == .standard && decoded.suite == .v1)
        let named = try JSONDecoder().decode(Geometry.self, from: Data(#"{"hops": 6, "payload": 2048, "suite": "sphinx-v1"}"#.utf8))
        #expect(named == .standard)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Geometry.self, from: Data(#"{"hops": 6, "payload": 2048, "suite": "kem-mlkem768"}"#.utf8))
        }
    }

    @Test("what creating refuses: a long message first, a route that does not fit, wrong randomness")
    func creationRefusals() throws {
        let g = Self.standard
        let route = try TestRoute(geometry: g, length: 2, last: .drop(delayMicroseconds: 0))
        let tooLong = [UInt8](repeating: 1, count: g.maxMessageBytes + 1)
        #expect(throws: SphinxError.messageTooLong) { try Sphinx.createPacket(geometry: g, route: route.hops, message: tooLong) }
        #expect(throws: SphinxError.messageTooLong) { try Sphinx.createPacket(geometry: g, route: [], message: tooLong) }
        #expect(throws: SphinxError.invalidRoute) { try Sphinx.createPacket(geometry: g, route: [], message: [1]) }
        var packet = [UInt8](repeating: 0, count: g.packetBytes)
        #expect(throws: SphinxError.wrongLength) {
            try packet.withUnsafeMutableBytes {
                try Sphinx.createPacket(geometry: g, route: route.hops, message: [], ephemeralSecret: [UInt8](repeating: 7, count: 32),
                                        into: $0)
            }
        }
    }

    @Test("version, canonical encapsulation, small order, length, another suite's packet")
    func headerChecks() throws {
        let route = try TestRoute(geometry: Self.small, length: 1, last: .drop(delayMicroseconds: 0))
        let node = route.processors[0]
        let packet = try Sphinx.createPacket(geometry: Self.small, route: route.hops, message: [])
        func with(_ change: (inout [UInt8]) -> Void) -> [UInt8] {
            var p = packet
            change(&p)
            return p
        }
        func encapsulation(_ bytes: [UInt8]) -> [UInt8] { with { $0.replaceSubrange(1..<33, with: bytes) } }
        #expect(throws: SphinxError.badVersion) { try node.process(with { $0[0] = 1 }) }
        #expect(throws: SphinxError.badVersion) { try node.process(with { $0[0] = 3 }) }
        #expect(throws: SphinxError.noncanonicalAlpha) { try node.process(with { $0[32] |= 0x80 }) }
        #expect(throws: SphinxError.wrongLength) { try node.process(Array(packet.dropLast())) }
        #expect(throws: SphinxError.wrongLength) { try node.process([]) }
        // Below 2^255 but not below p = 2^255 - 19: p itself, p + 1, p + 9 and 2^255 - 1.
        for low: UInt8 in [0xed, 0xee, 0xf6, 0xff] {
            let unreduced = [low] + [UInt8](repeating: 0xff, count: 30) + [0x7f]
            #expect(throws: SphinxError.noncanonicalAlpha) { try node.process(encapsulation(unreduced)) }
        }
        // Canonical points of small order: 0, 1 and p - 1.
        for u: [UInt8] in [[UInt8](repeating: 0, count: 32), [1] + [UInt8](repeating: 0, count: 31),
                           [0xec] + [UInt8](repeating: 0xff, count: 30) + [0x7f]] {
            #expect(throws: SphinxError.lowOrderPoint) { try node.process(encapsulation(u)) }
        }
        // A v1 packet of the same geometry is 64 bytes shorter; where the lengths meet, the version byte refuses it.
        let v1Route = try TestRoute(geometry: try Geometry(hops: 3, payload: 96), length: 1, last: .drop(delayMicroseconds: 0))
        let v1Packet = try Sphinx.createPacket(geometry: try Geometry(hops: 3, payload: 96), route: v1Route.hops, message: [])
        let kemNode = try PacketProcessor(geometry: try Geometry(hops: 2, payload: 96, suite: .kemX25519),
                                          secretKey: v1Route.keys[0], replayFilter: nil)
        #expect(v1Packet.count == kemNode.geometry.packetBytes)
        #expect(throws: SphinxError.badVersion) { try kemNode.process(v1Packet) }
    }

    @Test("the last hop's output carries a zero encapsulation and is no packet")
    func lastHopOutput() throws {
        let route = try TestRoute(geometry: Self.small, length: 2, last: .final(messageID: .random()))
        let (out, _) = try route.run(try Sphinx.createPacket(geometry: Self.small, route: route.hops, message: [5]))
        #expect(out[1..<33].allSatisfy { $0 == 0 })
        #expect(throws: SphinxError.lowOrderPoint) { try route.processors[1].process(out) }
    }
}
