// The framing on EmbeddedChannel: good frames pass whole or split, everything else is refused
// at the first byte that shows it, without buffering what an oversize prefix announces.
import LoopixNetwork
import NIOCore
import NIOEmbedded
import Testing

@Suite("Wire framing")
struct WireFrameDecoderTests {
    let packetBytes = 100

    func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WireFrameDecoder(packetBytes: packetBytes)))
        return channel
    }

    func frame(type: UInt8 = 1, version: UInt8 = WireFormat.version, body: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(2 + body.count))
        buffer.writeInteger(version)
        buffer.writeInteger(type)
        buffer.writeBytes(body)
        return buffer
    }

    @Test("a packet frame decodes to exactly its body")
    func decodesPacket() throws {
        let channel = try channel()
        let body = (0..<packetBytes).map { UInt8($0 & 0xff) }
        try channel.writeInbound(frame(body: body))
        let decoded = try #require(try channel.readInbound(as: WireFrame.self))
        #expect(decoded.type == .packet)
        #expect(Array(decoded.body.readableBytesView) == body)
        #expect(try channel.finish().isClean)
    }

    @Test("frames split at every byte boundary and several per read decode the same")
    func splitAndCoalesced() throws {
        let channel = try channel()
        var stream = frame(body: [UInt8](repeating: 7, count: packetBytes))
        var second = frame(type: 2, body: [])
        stream.writeBuffer(&second)
        while let byte = stream.readSlice(length: 1) {
            try channel.writeInbound(byte)
        }
        #expect(try channel.readInbound(as: WireFrame.self)?.type == .packet)
        #expect(try channel.readInbound(as: WireFrame.self)?.type == .keepAlive)
        #expect(try channel.readInbound(as: WireFrame.self) == nil)
    }

    @Test("encoder output decodes back")
    func roundTrip() throws {
        let channel = try channel()
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(WireFrameEncoder()))
        let body = ByteBuffer(bytes: [UInt8](repeating: 3, count: packetBytes))
        try channel.writeOutbound(WireFrame(type: .packet, body: body))
        let bytes = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(bytes.readableBytes == 4 + 2 + packetBytes)
        try channel.writeInbound(bytes)
        #expect(try channel.readInbound(as: WireFrame.self)?.body == body)
    }

    @Test("a huge length prefix is refused from its four bytes alone")
    func hugePrefix() throws {
        let channel = try channel()
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32.max)
        #expect(throws: WireProtocolError.frameTooLong(length: UInt32.max)) { try channel.writeInbound(buffer) }
    }

    @Test("wrong version, unknown type, short prefix and wrong body sizes are refused")
    func refusals() throws {
        #expect(throws: WireProtocolError.unsupportedVersion(9)) {
            try channel().writeInbound(frame(version: 9, body: [UInt8](repeating: 0, count: packetBytes)))
        }
        #expect(throws: WireProtocolError.unknownType(0x7f)) {
            try channel().writeInbound(frame(type: 0x7f, body: []))
        }
        #expect(throws: WireProtocolError.badBodyLength(type: .packet, length: packetBytes - 1)) {
            try channel().writeInbound(frame(body: [UInt8](repeating: 0, count: packetBytes - 1)))
        }
        #expect(throws: WireProtocolError.badBodyLength(type: .keepAlive, length: 1)) {
            try channel().writeInbound(frame(type: 2, body: [1]))
        }
        var short = ByteBuffer()
        short.writeInteger(UInt32(1))
        #expect(throws: WireProtocolError.frameTooShort(length: 1)) { try channel().writeInbound(short) }
    }

    @Test("the version is judged before the body arrives")
    func earlyVersionCheck() throws {
        let channel = try channel()
        var header = ByteBuffer()
        header.writeInteger(UInt32(2 + packetBytes))
        header.writeInteger(UInt8(2))
        #expect(throws: WireProtocolError.unsupportedVersion(2)) { try channel.writeInbound(header) }
    }

    @Test("a stream that ends inside a frame reports a truncated frame")
    func truncated() throws {
        let channel = try channel()
        var partial = frame(body: [UInt8](repeating: 1, count: packetBytes))
        partial.moveWriterIndex(to: 50)
        try channel.writeInbound(partial)
        #expect(throws: WireProtocolError.truncatedFrame(bytes: 50)) { try channel.finish() }
    }
}
