// The pull port of a running provider under hostile input over real TCP, while a registered
// client keeps pulling: garbage before the handshake, truncated, slow and replayed handshakes,
// a stranger's key, bad frames inside a good channel, more unfinished handshakes than one
// address may have, a stranger's 2,000 connection attempts, a client pulling past its rate,
// and strangers filling the connection limit. Each refusal is counted under its cause, the good
// client's pulls all succeed, and every connection is let go.
// The packet port's own address limit, likewise, must not keep the places of what it refused.
@testable import LoopixProvider
import LoopixClient
import LoopixNetwork
import LoopixNoise
import LoopixSphinx
import LoopixTestSupport
import NIOConcurrencyHelpers
import NIOCore
import Testing

@Suite("Hostile input on the pull port", .serialized)
struct PullPortHostileTests {
    /// Where the attacker connects from: not the good client's address, so that the per-address
    /// handshake limit is the attacker's own (as it is for a stranger on another host).
    static let attacker = "127.0.0.2"

    @Test("every bad input on the pull port is counted by cause, a good client's pulls all succeed, connections are let go")
    func hostilePullPort() async throws {
        // The shipped handshake deadline (5 s): a shorter one would cut the good client's
        // handshakes whenever the test process is starved for that long.
        let handshakeTimeout = PullLimits().links.handshakeTimeout
        let net = try LoopbackNetwork(layers: 1) { provider in
            provider.pullLimits.pullsPerSecond = 1
            provider.pullLimits.pullBurst = 3
            provider.pullLimits.maxConnections = 40
        }
        try await net.start()
        let provider = net.providers[0]
        let port = try #require(provider.pullPort)
        let providerKey = net.providerKey(0)
        let geometry = net.topology.parameters.geometry
        func refused(_ cause: String) -> Int {
            Int(MetricSamples(text: provider.node.metrics.render())["loopix_pull_refused_total{cause=\"\(cause)\"}"])
        }
        func openConnections() -> Int { Int(MetricSamples(text: provider.node.metrics.render())["loopix_pull_connections"]) }
        func transport(for identity: ClientIdentity) -> TCPClientTransport {
            TCPClientTransport(packets: .init(host: "127.0.0.1", port: provider.packetPort!), pulls: .init(host: "127.0.0.1", port: port),
                               identity: identity, providerKey: providerKey, geometry: geometry, pullSize: net.pullSize,
                               group: net.group)
        }
        func registered() throws -> ClientIdentity {
            let identity = ClientIdentity.generate(provider: provider.node.id)
            try provider.register(mailbox: identity.mailbox, verifyingKey: identity.signingKey.verifyingKey)
            return identity
        }

        // The good client: mail waiting for it, and a pull every 1.2 s (within its rate of 1/s)
        // for as long as the attacks last.
        let good = try registered()
        let waiting = 3
        for _ in 0..<waiting {
            _ = try provider.store.store(mailbox: good.mailbox, packet: Sphinx.createDummy(geometry: geometry))
        }
        let goodTransport = transport(for: good)
        let goodPulls = NIOLockedValueBox((succeeded: 0, failures: [String]()))
        let stopGood = NIOLockedValueBox(false)
        let goodPuller = Task {
            while !stopGood.withLockedValue({ $0 }) {
                do {
                    try await goodTransport.pull { packets in packets.map { _ in true } }
                    goodPulls.withLockedValue { $0.succeeded += 1 }
                } catch {
                    goodPulls.withLockedValue { $0.failures.append("\(error)") }
                }
                try? await Task.sleep(for: .milliseconds(1200))
            }
        }

        /// Sends bytes on a fresh raw connection from the attacker and waits for the provider to close it.
        func expectRawClosed(after bytes: [UInt8], cause: String, hangUp: Bool = false) async throws {
            let before = refused(cause)
            let peer = try await RawPeer(port: port, group: net.group, from: Self.attacker)
            // The provider may close before the whole of it left: what counts is that it did, and why.
            try? await peer.send(bytes)
            if hangUp { await peer.close() }
            #expect(await closes(peer.channel, within: 3 * handshakeTimeout), "the provider kept a connection open after \(cause)")
            #expect(await eventually(within: 10) { refused(cause) == before + 1 }, "cause \(cause) not counted once")
            await peer.close()
        }

        // Garbage before the handshake: an HTTP request, a plaintext pull frame as before the
        // links were encrypted, and a message of a first handshake message's length that is none.
        try await expectRawClosed(after: Array("GET /metrics HTTP/1.1\r\nHost: provider\r\n\r\n".utf8)
                                      + (0..<4000).map { _ in UInt8.random(in: 0...255) },
                                  cause: "pull_link_handshake_failure")
        var plaintextRequest = ByteBuffer()
        try PullFrameEncoder().encode(data: PullFrame(type: .request, bytes: good.mailbox.bytes), out: &plaintextRequest)
        try await expectRawClosed(after: Array(plaintextRequest.readableBytesView), cause: "pull_link_handshake_failure")
        try await expectRawClosed(after: [0, 48] + (0..<48).map { _ in UInt8.random(in: 0...255) }, cause: "pull_link_handshake_failure")

        // A truncated handshake: half a first message, then the attacker hangs up.
        try await expectRawClosed(after: [0, 48] + [UInt8](repeating: 7, count: 20), cause: "pull_link_handshake_closed", hangUp: true)

        // A slow handshake: a first message's length, then a byte every 100 ms, never all of it.
        do {
            let before = refused("pull_link_handshake_timeout")
            let peer = try await RawPeer(port: port, group: net.group, from: Self.attacker)
            try await peer.send([0, 48])
            let dribble = Task {
                for _ in 0..<40 where !Task.isCancelled {
                    try? await peer.send([0])
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(await closes(peer.channel, within: 5 * handshakeTimeout), "a slow handshake was not cut off")
            dribble.cancel()
            #expect(await eventually(within: 10) { refused("pull_link_handshake_timeout") == before + 1 })
            await peer.close()
        }

        // A replayed handshake: the first and third message of a registered client's handshake,
        // recorded. The first is answered (it carries no freshness), the third is refused.
        let rogue = try registered()
        let rogueKey = rogue.signingKey.linkKey()
        do {
            let recorder = try await RawPeer(port: port, group: net.group, from: Self.attacker)
            let (messages, _) = try await recorder.handshake(as: rogueKey, to: providerKey, purpose: .pulls)
            await recorder.close()
            let before = refused("pull_link_handshake_failure")
            let replay = try await RawPeer(port: port, group: net.group, from: Self.attacker)
            try await replay.sendMessage(messages[0])
            #expect(await replay.nextMessage() != nil, "the provider answers a replayed first message")
            try await replay.sendMessage(messages[1])
            #expect(await closes(replay.channel, within: 5))
            #expect(await eventually(within: 10) { refused("pull_link_handshake_failure") == before + 1 })
        }

        // A stranger's key completes the handshake and is refused before any pull frame is read.
        let stranger = try NoiseSecretKey.generate()
        do {
            let before = refused("pull_link_unknown_static_key")
            if let link = try? await openLink(to: port, responderKey: providerKey, localKey: stranger, group: net.group,
                                              purpose: .pulls, from: Self.attacker) {
                #expect(await closes(link, within: 5), "a stranger's link stayed open")
            }
            #expect(await eventually(within: 10) { refused("pull_link_unknown_static_key") == before + 1 })
        }

        // Garbage after the handshake, on the registered rogue client's channel: bytes that are
        // no sealed message, a length no pull message has, and sealed frames the pull protocol
        // refuses. Each ends the connection.
        do {
            let before = refused("pull_link_decryption_failure")
            let peer = try await RawPeer(port: port, group: net.group, from: Self.attacker)
            _ = try await peer.handshake(as: rogueKey, to: providerKey, purpose: .pulls)
            try await peer.sendMessage((0..<64).map { _ in UInt8.random(in: 0...255) })
            #expect(await closes(peer.channel, within: 5))
            #expect(await eventually(within: 10) { refused("pull_link_decryption_failure") == before + 1 })
        }
        do {
            let before = refused("pull_link_bad_message_length")
            let peer = try await RawPeer(port: port, group: net.group, from: Self.attacker)
            _ = try await peer.handshake(as: rogueKey, to: providerKey, purpose: .pulls)
            try await peer.send([0xff, 0xff] + [UInt8](repeating: 0, count: 100))
            #expect(await closes(peer.channel, within: 5))
            #expect(await eventually(within: 10) { refused("pull_link_bad_message_length") == before + 1 })
        }
        func frame(_ type: UInt8, _ body: [UInt8], version: UInt8 = WireFormat.version) -> ByteBuffer {
            var buffer = ByteBuffer()
            buffer.writeInteger(UInt32(WireFormat.frameHeaderBytes + body.count))
            buffer.writeBytes([version, type] + body)
            return buffer
        }
        let badFrames: [(String, ByteBuffer)] = [
            ("pull_framing", frame(0x42, [])),
            ("pull_framing", frame(PullFrameType.request.rawValue, good.mailbox.bytes, version: 9)),
            ("pull_framing", frame(PullFrameType.response.rawValue, [])),
            ("pull_malformed", frame(PullFrameType.request.rawValue, [UInt8](repeating: 0, count: PullRequest.bytes - 1))),
            ("pull_protocol_violation", frame(PullFrameType.acknowledgement.rawValue, PullAcknowledgement(handles: []).encoded)),
            ("pull_unauthenticated", frame(PullFrameType.request.rawValue, good.mailbox.bytes)),
        ]
        for (cause, bad) in badFrames {
            let before = refused(cause)
            let link = try await openLink(to: port, responderKey: providerKey, localKey: rogueKey, group: net.group,
                                          purpose: .pulls, from: Self.attacker)
            try await link.writeAndFlush(bad)
            #expect(await closes(link, within: 5), "the provider kept a link open after \(cause)")
            #expect(await eventually(within: 10) { refused(cause) == before + 1 }, "cause \(cause) not counted once")
        }

        // More unfinished handshakes from one address than its limit (16): the excess is refused
        // at once and counted, and once the attacker hangs up none of them keeps a place.
        do {
            let before = refused("pull_link_address_limit")
            var pending: [RawPeer] = []
            while refused("pull_link_address_limit") == before, pending.count < 100 {
                pending.append(try await RawPeer(port: port, group: net.group, from: Self.attacker))
                if pending.count > 16 { _ = await eventually(within: 0.2) { refused("pull_link_address_limit") > before } }
            }
            #expect(refused("pull_link_address_limit") > before, "\(pending.count) unfinished handshakes from one address")
            for peer in pending { await peer.close() }
        }

        // 2,000 connection attempts from the stranger, twenty at a time: every one refused and counted.
        let linkCauses = NoiseLinkError.responderCauses.map { "pull_link_" + $0 } + ["pull_connection_limit"]
        let refusals = { linkCauses.map(refused).reduce(0, +) }
        let refusalsBefore = refusals()
        let attempts = 2000
        let attemptsStarted = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for _ in 0..<(attempts / 20) {
                for _ in 0..<20 {
                    tasks.addTask {
                        if let link = try? await openLink(to: port, responderKey: providerKey, localKey: stranger, group: net.group,
                                                          purpose: .pulls, from: Self.attacker) {
                            _ = await closes(link, within: 5)
                            try? await link.close()
                        }
                    }
                }
                for _ in 0..<20 { try await tasks.next() }
            }
        }
        #expect(await eventually(within: 20) { refusals() - refusalsBefore >= attempts },
                "refused \(refusals() - refusalsBefore) of \(attempts) attempts")
        print("stranger's \(attempts) attempts in \(ContinuousClock.now - attemptsStarted): "
              + "\(refused("pull_link_unknown_static_key")) unknown key, \(refused("pull_link_address_limit")) over the address limit")

        // The rogue client pulls as fast as it can: past its burst it is refused and counted.
        do {
            let before = refused("pull_rate_limited")
            let fast = transport(for: rogue)
            var outcome: (any Error)? = nil
            for _ in 0..<40 {
                do { try await fast.pull { packets in packets.map { _ in true } } } catch {
                    outcome = error
                    break
                }
            }
            #expect(outcome as? PullFailure == .refused(.rateLimited), "the rogue's pulls ended with \(String(describing: outcome))")
            #expect(await eventually(within: 10) { refused("pull_rate_limited") == before + 1 })
            await fast.close()
        }

        // The good client pulled throughout, and every pull succeeded.
        stopGood.withLockedValue { $0 = true }
        await goodPuller.value
        let (succeeded, failures) = goodPulls.withLockedValue { ($0.succeeded, $0.failures) }
        print("good client: \(succeeded) pulls, \(failures.count) failed")
        #expect(failures.isEmpty, "the good client's pulls failed: \(failures)")
        #expect(succeeded >= 3)
        #expect(try provider.store.count(mailbox: good.mailbox) == 0, "the good client's mail was not all read")

        // Strangers on several addresses hold connections without a handshake until the pull
        // port's connection limit refuses more; the handshake deadline frees every place.
        #expect(await eventually(within: 10) { openConnections() == 0 }, "\(openConnections()) connections still open")
        let limitBefore = refused("pull_connection_limit")
        let timeoutsBefore = refused("pull_link_handshake_timeout")
        var held: [RawPeer] = []
        var address = 2
        while refused("pull_connection_limit") == limitBefore, held.count < 200 {
            for _ in 0..<8 { held.append(try await RawPeer(port: port, group: net.group, from: "127.0.0.\(address)")) }
            address += 1
            _ = await eventually(within: 0.2) { refused("pull_connection_limit") > limitBefore }
        }
        print("connection limit: \(held.count) connections held from \(address - 2) addresses, "
              + "\(refused("pull_connection_limit") - limitBefore) refused")
        #expect(refused("pull_connection_limit") > limitBefore, "\(held.count) connections and none refused")
        #expect(openConnections() <= 40)
        #expect(await eventually(within: 5 * handshakeTimeout + 10) { held.allSatisfy { !$0.channel.isActive } },
                "connections without a handshake outlived its deadline")
        for peer in held { await peer.close() }
        let cutOff = held.count - (refused("pull_connection_limit") - limitBefore)
        #expect(await eventually(within: 10) { refused("pull_link_handshake_timeout") - timeoutsBefore == cutOff },
                "\(refused("pull_link_handshake_timeout") - timeoutsBefore) handshake timeouts counted, \(cutOff) expected")

        // Nothing is held any more, and the good client pulls again.
        #expect(await eventually(within: 10) { openConnections() == 0 }, "\(openConnections()) connections still open")
        #expect(await eventually(within: 10) { provider.pullServer.linkCounts.pendingAddresses == 0 && provider.pullServer.linkCounts.peers == 0 },
                "pending handshakes or links left: \(provider.pullServer.linkCounts)")
        try await goodTransport.pull { packets in packets.map { _ in true } }
        await goodTransport.close()
        await net.stop()
    }
}

@Suite("Hostile input on a provider's packet port", .serialized)
struct ProviderPacketPortHostileTests {
    @Test("the packet port lets go of connections it refused over the address limit")
    func packetPortAddressLimit() async throws {
        let net = try LoopbackNetwork(layers: 1)
        try await net.start()
        let provider = net.providers[0]
        let port = try #require(provider.packetPort)
        let samples = { MetricSamples(text: provider.node.metrics.render()) }
        let refusedSeries = "loopix_links_refused_total{cause=\"address_limit\"}"
        var pending: [RawPeer] = []
        while samples()[refusedSeries] == 0, pending.count < 100 {
            pending.append(try await RawPeer(port: port, group: net.group, from: PullPortHostileTests.attacker))
            if pending.count > 16 { _ = await eventually(within: 0.2) { samples()[refusedSeries] > 0 } }
        }
        #expect(samples()[refusedSeries] > 0, "\(pending.count) unfinished handshakes from one address")
        for peer in pending { await peer.close() }
        // NoiseLinkHandler closes such a connection in its channelActive; it passed the event on
        // afterwards, and InboundPacketHandler (LoopixNode) counted the closed connection for good
        // (and its never-cancelled deadline check counted a frame_timeout a frame timeout later).
        #expect(await eventually(within: 10) { samples()["loopix_inbound_connections"] == 0 },
                "\(samples()["loopix_inbound_connections"]) connections still counted")
        #expect(samples()["loopix_packets_dropped_total{cause=\"frame_timeout\"}"] == 0)
        await net.stop()
    }
}
