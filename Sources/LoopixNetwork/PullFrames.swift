// Framing of the client–provider pull connection (inside its Noise channel): the node framing's
// layout with its own frame types.
import NIOCore

/// The frame types of a pull connection (docs/pull-protocol.md).
public enum PullFrameType: UInt8, Sendable, CaseIterable {
    /// Client → provider: the mailbox id (the channel authenticated the client's key).
    case request = 0x11
    /// Provider → client: exactly K slots.
    case response = 0x12
    /// Client → provider: the handles received.
    case acknowledgement = 0x13
    /// Provider → client: a refusal code, then the provider closes.
    case refusal = 0x14
    /// Provider → client: the acknowledged packets are deleted (committed); empty body.
    case acknowledged = 0x15
}

/// One frame of a pull connection.
public struct PullFrame: Sendable, Equatable {
    public var type: PullFrameType
    public var body: ByteBuffer

    public init(type: PullFrameType, body: ByteBuffer) {
        self.type = type
        self.body = body
    }

    public init(type: PullFrameType, bytes: [UInt8]) {
        self.init(type: type, body: ByteBuffer(bytes: bytes))
    }
}

/// Decodes the frames one side of a pull connection may receive, each no longer than its limit;
/// judges the length prefix and the type before buffering a body, like the node framing.
public struct PullFrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = PullFrame
    private let limits: [PullFrameType: Int]
    private let maxFrameLength: Int

    /// `limits`: the accepted types and the largest body of each.
    public init(limits: [PullFrameType: Int]) {
        self.limits = limits
        self.maxFrameLength = WireFormat.frameHeaderBytes + (limits.values.max() ?? 0)
    }

    /// What a provider accepts from clients pulling `pullSize` packets.
    public static func provider(pullSize: Int) -> PullFrameDecoder {
        PullFrameDecoder(limits: [.request: PullRequest.bytes, .acknowledgement: PullAcknowledgement.maxBytes(pullSize: pullSize)])
    }

    /// What a client accepts from a provider answering with `pullSize` packets of `packetBytes`.
    public static func client(pullSize: Int, packetBytes: Int) -> PullFrameDecoder {
        PullFrameDecoder(limits: [.acknowledged: 0, .refusal: 1,
                                  .response: PullResponse.bytes(pullSize: pullSize, packetBytes: packetBytes)])
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try decodeFrame(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        while try decode(context: context, buffer: &buffer) == .continue {}
        try WireFormat.refuseLeftover(&buffer)
        return .needMoreData
    }

    /// Reads one frame, nil if more bytes are needed.
    public func decodeFrame(from buffer: inout ByteBuffer) throws(WireProtocolError) -> PullFrame? {
        guard let (rawType, bodyBytes) = try WireFormat.peekHeader(buffer, maxFrameLength: maxFrameLength) else { return nil }
        guard let type = PullFrameType(rawValue: rawType), let limit = limits[type] else { throw .unknownType(rawType) }
        guard bodyBytes <= limit else { throw .frameTooLong(length: UInt32(bodyBytes + WireFormat.frameHeaderBytes)) }
        guard let body = WireFormat.readBody(&buffer, bodyBytes: bodyBytes) else { return nil }
        return PullFrame(type: type, body: body)
    }
}

/// Encodes pull frames as length prefix, version, type and body.
public struct PullFrameEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = PullFrame

    public init() {}

    public func encode(data: PullFrame, out: inout ByteBuffer) throws {
        out.writeInteger(UInt32(WireFormat.frameHeaderBytes + data.body.readableBytes), endianness: .big, as: UInt32.self)
        out.writeInteger(WireFormat.version)
        out.writeInteger(data.type.rawValue)
        var body = data.body
        out.writeBuffer(&body)
    }
}
