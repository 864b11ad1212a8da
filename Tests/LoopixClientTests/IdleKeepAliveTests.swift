// The client's packet link sends keep-alives only while it is idle (docs/wire-protocol.md).
@testable import LoopixClient
import LoopixNetwork
import NIOCore
import NIOEmbedded
import Testing

@Suite("Client link keep-alives")
struct IdleKeepAliveTests {
    /// The frame types written so far.
    func written(_ channel: EmbeddedChannel) throws -> [WireFrameType] {
        var types: [WireFrameType] = []
        let decoder = WireFrameDecoder(packetBytes: 4)
        while var bytes = try channel.readOutbound(as: ByteBuffer.self) {
            while let frame = try decoder.decodeFrame(from: &bytes) { types.append(frame.type) }
        }
        return types
    }

    @Test("a link that carries packets sends no keep-alive; an idle one sends one per interval")
    func onlyWhenIdle() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            MessageToByteHandler(WireFrameEncoder()), IdleKeepAlive(interval: .seconds(1)),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        // Busy: a packet every 0.5 s for 5 s.
        for _ in 0..<10 {
            try channel.writeAndFlush(WireFrame(type: .packet, body: ByteBuffer(bytes: [1, 2, 3, 4]))).wait()
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(500))
        }
        let busy = try written(channel)
        #expect(busy.count == 10)
        #expect(!busy.contains(.keepAlive), "a busy link sent a keep-alive")
        // Idle for 3.5 intervals.
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(3500))
        #expect(try written(channel) == [.keepAlive, .keepAlive, .keepAlive])
        _ = try channel.finish()
    }
}
