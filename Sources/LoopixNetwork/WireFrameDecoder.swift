// Splits a TCP byte stream into frames, refusing anything the wire format does not allow.
import NIOCore

/// Decodes frames of one geometry; throws `WireProtocolError` at the first bad byte it can judge,
/// and judges the length prefix before buffering any of the body.
public struct WireFrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = WireFrame

    public let packetBytes: Int
    private let maxFrameLength: Int

    public init(packetBytes: Int) {
        precondition(packetBytes > 0, "packetBytes must be positive")
        self.packetBytes = packetBytes
        self.maxFrameLength = WireFormat.maxFrameLength(packetBytes: packetBytes)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try decodeFrame(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        // Bytes of an unfinished frame at EOF: the peer sent a truncated frame.
        if buffer.readableBytes > 0 {
            let pending = buffer.readableBytes
            buffer.moveReaderIndex(forwardBy: pending)
            throw WireProtocolError.truncatedFrame(bytes: pending)
        }
        return .needMoreData
    }

    /// Reads one frame, nil if more bytes are needed; usable without a channel.
    public func decodeFrame(from buffer: inout ByteBuffer) throws(WireProtocolError) -> WireFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return nil
        }
        guard length <= maxFrameLength else { throw .frameTooLong(length: length) }
        guard length >= WireFormat.frameHeaderBytes else { throw .frameTooShort(length: length) }
        // Judge version and type as soon as they arrive, not when the body is complete.
        let headerStart = buffer.readerIndex + WireFormat.lengthPrefixBytes
        if let version = buffer.getInteger(at: headerStart, as: UInt8.self), version != WireFormat.version {
            throw .unsupportedVersion(version)
        }
        guard let rawType = buffer.getInteger(at: headerStart + 1, as: UInt8.self) else { return nil }
        guard let type = WireFrameType(rawValue: rawType) else { throw .unknownType(rawType) }
        let bodyBytes = Int(length) - WireFormat.frameHeaderBytes
        let expected = type == .packet ? packetBytes : 0
        guard bodyBytes == expected else { throw .badBodyLength(type: type, length: bodyBytes) }
        guard buffer.readableBytes >= WireFormat.lengthPrefixBytes + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: WireFormat.lengthPrefixBytes + WireFormat.frameHeaderBytes)
        let body = buffer.readSlice(length: bodyBytes)!
        return WireFrame(type: type, body: body)
    }
}
