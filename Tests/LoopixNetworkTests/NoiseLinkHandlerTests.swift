// The Noise link handler on embedded channels, without sockets: two ends pumped into each other
// run the handshake and carry frames; a tampered message, a wrong responder key, a stranger,
// too many handshakes or links, and a slow handshake each end the link under their own cause.
import LoopixNetwork
import LoopixNoise
import LoopixSphinx
import LoopixTestSupport
import NIOCore
import NIOEmbedded
import Testing

@Suite("Noise link handler on embedded channels")
struct NoiseLinkHandlerTests {
    /// Lets in the keys of a set.
    struct AllowList: LinkAuthorizer {
        let keys: Set<NoisePublicKey>
        func authorize(_ peer: NoisePublicKey, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
            eventLoop.makeSucceededFuture(keys.contains(peer))
        }
    }

    /// What reaches the handler after the Noise layer: plaintexts, the established event, errors.
    final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var plaintexts: [[UInt8]] = []
        var peer: NoisePublicKey?
        var errors: [NoiseLinkError] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            plaintexts.append(Array(unwrapInboundIn(data).readableBytesView))
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let e = event as? NoiseLinkEstablished { peer = e.peer }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if let e = error as? NoiseLinkError { errors.append(e) }
        }
    }

    struct End {
        let channel: EmbeddedChannel
        let recorder = Recorder()
    }

    static let clientKey = try! NoiseSecretKey.generate()
    static let serverKey = try! NoiseSecretKey.generate()

    static func end(_ role: NoiseLinkHandler.Role, key: NoiseSecretKey, settings: LinkSettings = LinkSettings(),
                    loop: EmbeddedEventLoop, address: String = "10.0.0.1") throws -> End {
        let end = End(channel: EmbeddedChannel(loop: loop))
        try end.channel.pipeline.syncOperations.addHandlers([
            try NoiseLinkHandler(role: role, localKey: key, purpose: .packets, settings: settings, maxInboundPlaintext: 4096),
            end.recorder,
        ])
        try end.channel.connect(to: SocketAddress(ipAddress: address, port: 1)).wait()
        return end
    }

    /// Moves every byte written on each side to the other until nothing moves.
    static func pump(_ a: End, _ b: End) throws {
        var moved = true
        while moved {
            moved = false
            while let bytes = try a.channel.readOutbound(as: ByteBuffer.self) {
                if b.channel.isActive { try b.channel.writeInbound(bytes) }
                moved = true
            }
            while let bytes = try b.channel.readOutbound(as: ByteBuffer.self) {
                if a.channel.isActive { try a.channel.writeInbound(bytes) }
                moved = true
            }
        }
    }

    static func pair(allowed: Bool = true, responderKey: NoisePublicKey = serverKey.publicKey,
                     settings: LinkSettings = LinkSettings()) throws -> (client: End, server: End) {
        let loop = EmbeddedEventLoop()
        let server = try end(.responder(authorizer: AllowList(keys: allowed ? [clientKey.publicKey] : []), limits: nil),
                             key: serverKey, settings: settings, loop: loop)
        let client = try end(.initiator(responderKey: responderKey), key: clientKey, settings: settings, loop: loop)
        return (client, server)
    }

    @Test("the handshake authenticates both ends, and frames cross in both directions, each one message")
    func handshakeAndTransport() throws {
        var settings = LinkSettings()
        settings.rekeyInterval = 3  // several rekeys in a few messages: both ends must agree on when
        let (client, server) = try Self.pair(settings: settings)
        try Self.pump(client, server)
        #expect(server.recorder.peer == Self.clientKey.publicKey)
        #expect(client.recorder.peer == Self.serverKey.publicKey)
        for i in 0..<10 {
            try client.channel.writeAndFlush(ByteBuffer(bytes: [UInt8(i), 1, 2, 3])).wait()
            try server.channel.writeAndFlush(ByteBuffer(bytes: [UInt8(i), 9])).wait()
        }
        try Self.pump(client, server)
        #expect(server.recorder.plaintexts == (0..<10).map { [UInt8($0), 1, 2, 3] })
        #expect(client.recorder.plaintexts == (0..<10).map { [UInt8($0), 9] })
        #expect(server.recorder.errors.isEmpty && client.recorder.errors.isEmpty)
    }

    @Test("a message on the wire is the plaintext, its tag and a two-byte length: nothing else shows")
    func sizes() throws {
        let (client, server) = try Self.pair()
        try Self.pump(client, server)
        try client.channel.writeAndFlush(ByteBuffer(repeating: 0xAB, count: 2487)).wait()
        let message = try #require(try client.channel.readOutbound(as: ByteBuffer.self))
        #expect(message.readableBytes == 2 + 2487 + 16)
        #expect(message.getInteger(at: message.readerIndex, as: UInt16.self).map(Int.init) == 2487 + 16)
        #expect(message.readableBytesView.filter { $0 == 0xAB }.count < 100, "the plaintext shows through")
    }

    @Test("writes made before the handshake is done wait for it")
    func earlyWrites() throws {
        let (client, server) = try Self.pair()
        client.channel.writeAndFlush(ByteBuffer(bytes: [42]), promise: nil)
        try Self.pump(client, server)
        #expect(server.recorder.plaintexts == [[42]])
    }

    @Test("a tampered transport message ends the link as a decryption failure")
    func tampered() throws {
        let (client, server) = try Self.pair()
        try Self.pump(client, server)
        try client.channel.writeAndFlush(ByteBuffer(bytes: [1, 2, 3, 4])).wait()
        var message = try #require(try client.channel.readOutbound(as: ByteBuffer.self))
        let index = message.readerIndex + 3
        message.setInteger(message.getInteger(at: index, as: UInt8.self)! ^ 0x10, at: index)
        try server.channel.writeInbound(message)
        #expect(server.recorder.errors == [.decryptionFailed])
        #expect(server.recorder.plaintexts.isEmpty)
        #expect(!server.channel.isActive)
    }

    @Test("an initiator expecting another responder key fails: the responder cannot read it, and a forged answer is refused")
    func wrongResponderKey() throws {
        let (client, server) = try Self.pair(responderKey: try NoiseSecretKey.generate().publicKey)
        try Self.pump(client, server)
        #expect(server.recorder.errors == [.handshakeFailed], "the real responder cannot open the first message")
        #expect(!server.channel.isActive)
        try client.channel.close().wait()  // the responder's close reaches the initiator
        #expect(client.recorder.errors == [.closedDuringHandshake])
        #expect(!client.channel.isActive && client.recorder.peer == nil)

        // A relay with its own key answering with a message of the right length.
        let loop = EmbeddedEventLoop()
        let relayed = try Self.end(.initiator(responderKey: Self.serverKey.publicKey), key: Self.clientKey, loop: loop)
        _ = try relayed.channel.readOutbound(as: ByteBuffer.self)
        try relayed.channel.writeInbound(ByteBuffer(bytes: [0, 48] + (0..<48).map { _ in UInt8.random(in: 0...255) }))
        #expect(relayed.recorder.errors == [.responderKeyMismatch])
        #expect(!relayed.channel.isActive)
    }

    @Test("a stranger completes the handshake and is refused before any frame is read")
    func stranger() throws {
        let (client, server) = try Self.pair(allowed: false)
        client.channel.writeAndFlush(ByteBuffer(bytes: [7]), promise: nil)
        try Self.pump(client, server)
        #expect(server.recorder.errors == [.unknownPeer])
        #expect(server.recorder.peer == nil && server.recorder.plaintexts.isEmpty)
        #expect(!server.channel.isActive)
    }

    @Test("a handshake that does not finish in time is cut and counted")
    func handshakeTimeout() throws {
        var settings = LinkSettings()
        settings.handshakeTimeout = 1
        let loop = EmbeddedEventLoop()
        let server = try Self.end(.responder(authorizer: AcceptEveryone(), limits: nil), key: Self.serverKey,
                                  settings: settings, loop: loop)
        try server.channel.writeInbound(ByteBuffer(bytes: [0, 48, 1, 2, 3]))
        loop.advanceTime(by: .milliseconds(900))
        #expect(server.channel.isActive)
        loop.advanceTime(by: .milliseconds(200))
        #expect(server.recorder.errors == [.handshakeTimeout])
        #expect(!server.channel.isActive)
    }

    @Test("garbage in place of a handshake message is refused from its length")
    func garbage() throws {
        let loop = EmbeddedEventLoop()
        let server = try Self.end(.responder(authorizer: AcceptEveryone(), limits: nil), key: Self.serverKey, loop: loop)
        _ = try? server.channel.writeInbound(ByteBuffer(bytes: [0xff, 0xff, 0, 0]))
        #expect(server.recorder.errors == [.handshakeFailed])
        #expect(!server.channel.isActive)
    }

    @Test("unfinished handshakes per address and links per key are limited, and freed when they end")
    func limits() throws {
        let loop = EmbeddedEventLoop()
        let limits = LinkLimits(maxPendingPerAddress: 2, maxLinksPerPeer: 1)
        let role = NoiseLinkHandler.Role.responder(authorizer: AcceptEveryone(), limits: limits)
        let first = try Self.end(role, key: Self.serverKey, loop: loop)
        let second = try Self.end(role, key: Self.serverKey, loop: loop)
        let third = try Self.end(role, key: Self.serverKey, loop: loop)
        #expect(first.channel.isActive && second.channel.isActive)
        #expect(third.recorder.errors == [.addressLimit] && !third.channel.isActive)
        let elsewhere = try Self.end(role, key: Self.serverKey, loop: loop, address: "10.0.0.2")
        #expect(elsewhere.channel.isActive, "another address has its own count")

        // The first two complete handshakes with the same key: the second is one link too many.
        for server in [first, second] {
            let client = try Self.end(.initiator(responderKey: Self.serverKey.publicKey), key: Self.clientKey, loop: loop)
            try Self.pump(client, server)
        }
        #expect(first.recorder.peer == Self.clientKey.publicKey)
        #expect(second.recorder.errors == [.peerLimit])
        _ = try first.channel.finish()
        _ = try elsewhere.channel.finish()
        #expect(limits.counts.pendingAddresses == 0 && limits.counts.peers == 0, "nothing leaked")
    }
}
