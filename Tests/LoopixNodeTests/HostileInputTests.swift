// A running node under hostile input while good traffic flows, over encrypted links: garbage
// before and after the handshake, truncated, slow and replayed handshakes, strangers by the
// thousand, broken frames inside a good link, replays and tampered packets. Each is counted by
// cause, the good packets still arrive, and memory stays bounded.
import LoopixNetwork
import LoopixNode
import LoopixNoise
import LoopixSphinx
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
import LoopixTestSupport

@Suite("Hostile input against a running node")
struct HostileInputTests {
    @Test("every bad input is counted by cause, good traffic still arrives, memory stays bounded")
    func hostileInput() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let pair = try MixAndSink()
        let (mix, sink, parameters) = (pair.mix, pair.sink, pair.parameters)
        // A second provider: the attacker that floods through a link it may hold.
        let other = try Member(role: .provider, layer: 0)
        // A third provider for the flood: `other`'s links, cut one after another above, may not all
        // be released on the node yet, and a key holds at most four.
        let flooder = try Member(role: .provider, layer: 0)
        let topology = Topology(parameters: parameters, nodes: pair.topology.nodes + [other.descriptor, flooder.descriptor])
        let geometry = parameters.geometry
        var configuration = testConfiguration(port: mix.port)
        // Long enough that a test process starved by its neighbours for a few seconds does not
        // lose its good link to the frame deadline; the handshake deadline is what is tested here.
        configuration.frameTimeout = 5
        configuration.links.handshakeTimeout = 1
        configuration.packetBuffers = 512
        let node = try MixNode(id: mix.id, secretKey: mix.secret, topology: topology, links: mix.links,
                               configuration: configuration, eventLoopGroup: group)
        let frames = FrameSink()
        try await frames.start(as: sink, packetBytes: geometry.packetBytes, group: group)
        try await node.start()
        func refused(_ cause: String) -> Int {
            Int(MetricSamples(text: node.metrics.render())["loopix_links_refused_total{cause=\"\(cause)\"}"])
        }

        func goodPacket() throws -> [UInt8] {
            try Sphinx.createPacket(geometry: geometry, route: [
                RouteHop(publicKey: mix.secret.publicKey, command: .relay(next: sink.id, delayMicroseconds: 1000)),
                RouteHop(publicKey: sink.secret.publicKey, command: .final(messageID: .random())),
            ], message: Array("good".utf8))
        }

        // Good traffic: one packet every 5 ms on the provider's link for the whole test.
        let good = try await connect(to: mix, as: sink, group: group)
        let goodSender = Task {
            var sent = 0
            while !Task.isCancelled, good.isActive {
                try await good.writeAndFlush(packetFrame(try goodPacket()))
                sent += 1
                try? await Task.sleep(for: .milliseconds(5))
            }
            return sent
        }

        /// Sends bytes on a fresh raw connection and waits for the node to close it.
        func expectRawClosed(after bytes: [UInt8], cause: String) async throws {
            let before = refused(cause)
            let peer = try await RawPeer(port: mix.port, group: group)
            // The node may close before the whole of it left: what counts is that it did, and why.
            try? await peer.send(bytes)
            #expect(await closes(peer.channel, within: 3), "the node kept a connection open after \(cause)")
            #expect(await eventually { refused(cause) == before + 1 }, "cause \(cause) not counted once")
            await peer.close()
        }

        // Garbage before the handshake: its first two bytes are no first message's length.
        try await expectRawClosed(after: (0..<4096).map { _ in UInt8.random(in: 0...255) } + [0], cause: "handshake_failure")
        // A plaintext frame, as a node of the old protocol would send it.
        try await expectRawClosed(after: Array(packetFrame(try goodPacket()).readableBytesView), cause: "handshake_failure")

        // A truncated handshake: half a first message, then the sender hangs up.
        do {
            let before = refused("handshake_closed")
            let peer = try await RawPeer(port: mix.port, group: group)
            try await peer.send([0, 48] + [UInt8](repeating: 7, count: 20))
            await peer.close()
            #expect(await eventually { refused("handshake_closed") == before + 1 })
        }

        // A slow handshake: a first message's length, then a byte every 100 ms, never complete
        // within the deadline.
        do {
            let before = refused("handshake_timeout")
            let peer = try await RawPeer(port: mix.port, group: group)
            try await peer.send([0, 48])
            let dribble = Task {
                while !Task.isCancelled {
                    try? await peer.send([0])
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(await closes(peer.channel, within: 3), "a slow handshake was not cut off")
            dribble.cancel()
            #expect(await eventually { refused("handshake_timeout") == before + 1 })
        }

        // Replayed handshake messages: a recorded first and third message of the provider's own
        // handshake. The first is taken again (it carries no freshness), the third is refused.
        do {
            let recorder = try await RawPeer(port: mix.port, group: group)
            let (messages, _) = try await recorder.handshake(as: sink.linkKey, to: mix.linkPublicKey)
            let before = refused("handshake_failure")
            let replay = try await RawPeer(port: mix.port, group: group)
            try await replay.sendMessage(messages[0])
            #expect(await replay.nextMessage() != nil, "the node answers a replayed first message")
            try await replay.sendMessage(messages[1])
            #expect(await closes(replay.channel, within: 3))
            #expect(await eventually { refused("handshake_failure") == before + 1 })
            await recorder.close()
        }

        /// Whether the node has let go of every connection but the good link: `other` holds at
        /// most four links, and the node releases a cut one only once it has seen it close.
        func settled() async -> Bool {
            await eventually { MetricSamples(text: node.metrics.render())["loopix_inbound_connections"] <= 1 }
        }

        // Garbage after the handshake, and a sealed frame with one bit changed: the link ends.
        for tamper in [false, true] {
            #expect(await settled())
            let before = refused("decryption_failure")
            let peer = try await RawPeer(port: mix.port, group: group)
            let (_, transport) = try await peer.handshake(as: other.linkKey, to: mix.linkPublicKey)
            var message = Array(packetFrame(try goodPacket()).readableBytesView)
            if tamper {
                try transport.sending.encrypt(&message)
                message[100] ^= 0x01
            } else {
                message = (0..<(message.count + 16)).map { _ in UInt8.random(in: 0...255) }
            }
            try await peer.sendMessage(message)
            #expect(await closes(peer.channel, within: 3))
            #expect(await eventually { refused("decryption_failure") == before + 1 })
        }

        // A stranger with a key of its own completes the handshake and is refused before anything else.
        let stranger = try NoiseSecretKey.generate()
        await #expect(throws: (any Error).self) {
            let link = try await openLink(to: mix.port, responderKey: mix.linkPublicKey, localKey: stranger, group: group)
            _ = await closes(link, within: 3)
            throw ChannelError.ioOnClosedChannel
        }
        #expect(await eventually { refused("unknown_static_key") >= 1 })

        // Broken frames inside a good link are counted like bad frames on the wire.
        let frameCauses: [(String, ByteBuffer)] = [
            ("frame_too_short", { var b = ByteBuffer(); b.writeInteger(UInt32(1)); b.writeInteger(UInt16(0)); return b }()),
            ("unknown_frame_type", { var b = ByteBuffer(); b.writeInteger(UInt32(2)); b.writeBytes([WireFormat.version, 0x42]); return b }()),
            ("bad_version", { var b = packetFrame([UInt8](repeating: 1, count: geometry.packetBytes)); b.setInteger(UInt8(9), at: 4); return b }()),
        ]
        for (cause, frame) in frameCauses {
            #expect(await settled())
            let before = drops(cause, at: node)
            let link = try await connect(to: mix, as: other, group: group)
            try await link.writeAndFlush(frame)
            #expect(await closes(link, within: 3), "the node kept a link open after \(cause)")
            #expect(await eventually { drops(cause, at: node) == before + 1 }, "cause \(cause) not counted once")
        }

        // 2,000 connection attempts from one stranger, twenty at a time: every one is refused and
        // counted, and the good link goes on.
        let memoryBefore = residentBytes()
        let refusalsBefore = NoiseLinkError.responderCauses.map(refused).reduce(0, +)
        let attempts = 2000
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for batch in 0..<(attempts / 20) {
                _ = batch
                for _ in 0..<20 {
                    tasks.addTask {
                        if let link = try? await openLink(to: mix.port, responderKey: mix.linkPublicKey, localKey: stranger, group: group) {
                            _ = await closes(link, within: 3)
                            try? await link.close()
                        }
                    }
                }
                for _ in 0..<20 { try await tasks.next() }
            }
        }
        let refusals = { NoiseLinkError.responderCauses.map(refused).reduce(0, +) - refusalsBefore }
        #expect(await eventually(within: 10) { refusals() >= attempts }, "refused \(refusals()) of \(attempts) attempts")
        print("stranger's attempts: \(refused("unknown_static_key")) unknown key, \(refused("address_limit")) over the address limit")

        // Replays and tampered packets arrive in a good link and reach the crypto. (The flood that
        // follows is made first, so that the attacker's link never waits on its making.)
        let flood = 3000
        var garbage = SystemRandomNumberGenerator()
        let floodFrames = (0..<flood).map { _ in
            packetFrame(Array((0..<(geometry.packetBytes / 8 + 1)).flatMap { _ in withUnsafeBytes(of: garbage.next()) { Array($0) } }
                .prefix(geometry.packetBytes)))
        }


        let attacker = try await connect(to: mix, as: flooder, group: group)
        let replayed = try goodPacket()
        for _ in 0..<3 { try await attacker.writeAndFlush(packetFrame(replayed)) }
        var tampered = try goodPacket()
        tampered[60] ^= 0x01  // inside the routing information: the MAC no longer matches
        try await attacker.writeAndFlush(packetFrame(tampered))
        var tamperedMAC = try goodPacket()
        tamperedMAC[geometry.headerBytes - 1] ^= 0x80  // the MAC itself
        try await attacker.writeAndFlush(packetFrame(tamperedMAC))
        #expect(await eventually { drops("replay", at: node) == 2 })
        #expect(await eventually { drops("bad_mac", at: node) == 2 })

        // A flood of packet-sized garbage from the third provider: refused by the crypto or by
        // admission, never held, memory does not grow with it, and its share of the queue is its own.
        for frame in floodFrames { attacker.write(frame, promise: nil) }
        attacker.flush()
        let floodRefused = { () -> Int in
            ["malformed", "bad_mac", "aqm", "queue_full", "no_buffer", "fair_share"].map { drops($0, at: node) }.reduce(0, +)
        }
        #expect(await eventually(within: 20) { floodRefused() >= flood + 2 }, "refused \(floodRefused()) of \(flood) garbage packets")
        let memoryAfter = residentBytes()
        print("resident memory: \((memoryAfter - memoryBefore) / 1024) KiB growth over 2,000 strangers and a \(flood)-packet flood")
        #expect(memoryAfter - memoryBefore < 64 << 20)

        // Good traffic went on throughout and all of it arrived.
        try await Task.sleep(for: .milliseconds(100))
        #expect(good.isActive, "the good link was cut")
        goodSender.cancel()
        let sentGood = try await goodSender.value
        // The first copy of the replayed packet was legitimate and went through too.
        let expected = sentGood + 1
        _ = await frames.wait(for: expected, timeout: 5)
        let lost = expected - frames.count
        let shed = ["aqm", "queue_full", "no_buffer", "fair_share"].map { drops($0, at: node) }.reduce(0, +)
        print("good packets: \(frames.count) of \(expected) arrived; admission shed \(shed) packets in all")
        #expect(lost >= 0 && lost <= shed, "lost \(lost) good packets, only \(shed) shed by admission")
        #expect(Double(frames.count) >= 0.98 * Double(expected))
        #expect(await eventually { MetricSamples(text: node.metrics.render())["loopix_packet_buffers_in_use"] == 0 },
                "packet buffers leaked")
        let text = node.metrics.render()
        print(text.split(separator: "\n").filter {
            ($0.hasPrefix("loopix_packets_dropped_total") || $0.hasPrefix("loopix_links_refused_total")) && !$0.hasSuffix(" 0")
        }.joined(separator: "\n"))

        try? await good.close()
        try? await attacker.close()
        await node.shutdown()
        await frames.stop()
        try await group.shutdownGracefully()
    }
}
