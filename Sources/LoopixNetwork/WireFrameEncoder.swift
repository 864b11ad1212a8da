// Writes frames onto a channel.
import NIOCore

/// Encodes a `WireFrame` as length prefix, version, type and body.
public struct WireFrameEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = WireFrame

    public init() {}

    public func encode(data: WireFrame, out: inout ByteBuffer) throws {
        out.reserveCapacity(minimumWritableBytes: WireFormat.lengthPrefixBytes + WireFormat.frameHeaderBytes + data.body.readableBytes)
        out.writeWireFrameHeader(type: data.type, bodyBytes: data.body.readableBytes)
        var body = data.body
        out.writeBuffer(&body)
    }
}
