// The node-to-node wire format: the constants every frame is built from (docs/wire-protocol.md).
import NIOCore

/// Sizes and the version of the framing; a frame is `length(4, BE) | version(1) | type(1) | body`.
public enum WireFormat {
    /// The only version this code speaks; a frame with any other is refused.
    public static let version: UInt8 = 1
    /// Bytes of the length prefix; the length counts everything after it.
    public static let lengthPrefixBytes = 4
    /// Bytes of version and type, counted by the length.
    public static let frameHeaderBytes = 2

    /// The largest legal value of the length prefix for packets of `packetBytes`: the version,
    /// the type and one packet. Anything longer is refused before a byte of its body is read.
    public static func maxFrameLength(packetBytes: Int) -> Int {
        frameHeaderBytes + packetBytes
    }

    /// Judges the next frame's length prefix and version as soon as their bytes arrive, before any
    /// body is buffered. Returns the raw type and the body's length once the type byte is there,
    /// nil while bytes are missing; throws for a length or version no frame may have.
    static func peekHeader(_ buffer: ByteBuffer, maxFrameLength: Int) throws(WireProtocolError)
        -> (type: UInt8, bodyBytes: Int)?
    {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else { return nil }
        guard length <= maxFrameLength else { throw .frameTooLong(length: length) }
        guard length >= frameHeaderBytes else { throw .frameTooShort(length: length) }
        let headerStart = buffer.readerIndex + lengthPrefixBytes
        if let v = buffer.getInteger(at: headerStart, as: UInt8.self), v != version { throw .unsupportedVersion(v) }
        guard let type = buffer.getInteger(at: headerStart + 1, as: UInt8.self) else { return nil }
        return (type, Int(length) - frameHeaderBytes)
    }

    /// Consumes a whole frame whose header `peekHeader` judged and returns its body; nil until it has arrived.
    static func readBody(_ buffer: inout ByteBuffer, bodyBytes: Int) -> ByteBuffer? {
        guard buffer.readableBytes >= lengthPrefixBytes + frameHeaderBytes + bodyBytes else { return nil }
        buffer.moveReaderIndex(forwardBy: lengthPrefixBytes + frameHeaderBytes)
        return buffer.readSlice(length: bodyBytes)
    }

    /// At end of stream: bytes of an unfinished frame mean the peer sent a truncated frame.
    static func refuseLeftover(_ buffer: inout ByteBuffer) throws(WireProtocolError) {
        guard buffer.readableBytes > 0 else { return }
        let pending = buffer.readableBytes
        buffer.moveReaderIndex(forwardBy: pending)
        throw .truncatedFrame(bytes: pending)
    }
}

/// What a frame carries.
public enum WireFrameType: UInt8, Sendable, CaseIterable {
    /// Exactly one Sphinx packet of the network's geometry.
    case packet = 0x01
    /// An empty body; keeps an idle link within the receiver's frame deadline.
    case keepAlive = 0x02
}

/// One decoded frame.
public struct WireFrame: Sendable, Equatable {
    public var type: WireFrameType
    public var body: ByteBuffer

    public init(type: WireFrameType, body: ByteBuffer) {
        self.type = type
        self.body = body
    }
}

/// Why a peer's bytes were refused; the connection is closed on any of these.
public enum WireProtocolError: Error, Hashable, Sendable {
    /// The length prefix exceeds the geometry's maximum frame.
    case frameTooLong(length: UInt32)
    /// The length prefix is below the two header bytes.
    case frameTooShort(length: UInt32)
    /// The version byte is not ours.
    case unsupportedVersion(UInt8)
    /// The type byte is unknown.
    case unknownType(UInt8)
    /// A body whose size the type forbids (a packet not of packetBytes, a non-empty keep-alive).
    case badBodyLength(type: WireFrameType, length: Int)
    /// The stream ended inside a frame.
    case truncatedFrame(bytes: Int)

    /// The label under which the node counts this error (`cause` of the drop counters).
    public var cause: String {
        switch self {
        case .frameTooLong: "frame_too_long"
        case .frameTooShort: "frame_too_short"
        case .unsupportedVersion: "bad_version"
        case .unknownType: "unknown_frame_type"
        case .badBodyLength: "bad_frame_length"
        case .truncatedFrame: "truncated_frame"
        }
    }
}

extension ByteBuffer {
    /// Appends the length prefix, version and type of a frame whose body has `bodyBytes`.
    @inlinable
    public mutating func writeWireFrameHeader(type: WireFrameType, bodyBytes: Int) {
        writeInteger(UInt32(WireFormat.frameHeaderBytes + bodyBytes), endianness: .big, as: UInt32.self)
        writeInteger(WireFormat.version)
        writeInteger(type.rawValue)
    }
}
