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
        try WireFormat.refuseLeftover(&buffer)
        return .needMoreData
    }

    /// Reads one frame, nil if more bytes are needed; usable without a channel.
    public func decodeFrame(from buffer: inout ByteBuffer) throws(WireProtocolError) -> WireFrame? {
        guard let (rawType, bodyBytes) = try WireFormat.peekHeader(buffer, maxFrameLength: maxFrameLength) else { return nil }
        guard let type = WireFrameType(rawValue: rawType) else { throw .unknownType(rawType) }
        let expected = type == .packet ? packetBytes : 0
        guard bodyBytes == expected else { throw .badBodyLength(type: type, length: bodyBytes) }
        guard let body = WireFormat.readBody(&buffer, bodyBytes: bodyBytes) else { return nil }
        return WireFrame(type: type, body: body)
    }
}
