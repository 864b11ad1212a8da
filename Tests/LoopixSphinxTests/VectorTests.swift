// The Swift wrapper reproduces the published vectors of every suite byte for byte.
import LoopixSphinx
import Testing

@Suite("Test vectors")
struct VectorTests {
    @Test("every valid case: create, each hop, reply block", arguments: SuiteVectors.all)
    func validCases(_ files: SuiteVectors) throws {
        let file = try Vectors.load("\(files.stem).json", as: VectorFile.self)
        #expect(file.version == 1)
        #expect(file.suite == (files.suite == .v1 ? nil : files.suite.name))
        #expect(file.cases.count >= 8)
        for c in file.cases {
            let geometry = try c.geometry.geometry(files.suite)
            let keys = try c.route.map { try SecretKey(bytes: hex($0.private_key)) }
            for (key, entry) in zip(keys, c.route) { #expect(key.publicKey.bytes == hex(entry.public_key)) }
            let route = try zip(keys, c.route).map {
                RouteHop(publicKey: $0.publicKey, command: try command(fromWire: hex($1.command)))
            }
            #expect(c.ephemeral.count == geometry.ephemeralBytes(forHops: route.count))
            var packet = [UInt8](repeating: 0, count: geometry.packetBytes)
            try packet.withUnsafeMutableBytes { out in
                try Sphinx.createPacket(geometry: geometry, route: route, message: hex(c.message),
                                        ephemeralSecret: c.ephemeral, into: out)
            }
            #expect(packet == hex(c.packet), "\(c.description)")
            let processors = try keys.map { try PacketProcessor(geometry: geometry, secretKey: $0, replayFilter: nil) }
            for (i, hop) in c.hops.enumerated() {
                let (next, processed) = try processors[i].process(packet)
                #expect(processed.tag.bytes == hex(hop.tag))
                #expect(processed.command == route[i].command)
                #expect(next == hex(hop.packet_out), "\(c.description) hop \(i)")
                packet = next
                if i == c.hops.count - 1, case .final = processed.command {
                    let range = try #require(processed.finalMessage)
                    #expect(Array(packet[range]) == hex(c.message))
                }
            }
            if let s = c.surb {
                let (block, secret) = try Sphinx.createReplyBlock(
                    geometry: geometry, route: route, firstHop: try SphinxAddress(bytes: hex(s.first_hop_id)),
                    ephemeralSecret: s.ephemeral, replyKey: hex(s.reply_key))
                #expect(block.bytes == hex(s.surb))
                var reply = try block.makeReply(message: hex(s.reply_message))
                #expect(reply == hex(s.reply_packet))
                for (i, hop) in s.hops.enumerated() {
                    let (next, processed) = try processors[i].process(reply)
                    #expect(processed.tag.bytes == hex(hop.tag))
                    #expect(next == hex(hop.packet_out))
                    reply = next
                }
                #expect(try secret.open(packet: reply) == hex(s.reply_message))
            }
        }
    }

    @Test("every invalid case is refused with its named error", arguments: SuiteVectors.all)
    func invalidCases(_ files: SuiteVectors) throws {
        let file = try Vectors.load("\(files.stem)-invalid.json", as: InvalidVectorFile.self)
        #expect(file.suite == (files.suite == .v1 ? nil : files.suite.name))
        #expect(file.cases.count >= 20)
        for c in file.cases {
            let processor = try PacketProcessor(
                geometry: try c.geometry.geometry(files.suite), secretKey: try SecretKey(bytes: hex(c.private_key)),
                replayFilter: nil)
            var outcome = "ok"
            do {
                let (_, processed) = try processor.process(hex(c.packet))
                if case .final = processed.command, processed.finalMessage == nil { outcome = "payload_integrity" }
            } catch {
                outcome = error.name
            }
            #expect(outcome == c.error, "\(c.description)")
        }
    }
}
