// The network's packet geometry: maximum hops and payload size, validated.
import CLoopixSphinx

/// A validated packet geometry; every packet in a network has the sizes it gives.
public struct Geometry: Sendable, Hashable, Codable, CustomStringConvertible {
    /// H: the longest route a packet can take.
    public let hops: Int
    /// P: payload bytes.
    public let payload: Int

    /// The default: 6 hops (provider, three mix layers, provider, client) and 2048 payload bytes.
    public static let standard = try! Geometry(hops: Int(LSX_DEFAULT_HOPS), payload: Int(LSX_DEFAULT_PAYLOAD))

    public init(hops: Int, payload: Int) throws(SphinxError) {
        guard (Int(LSX_MIN_HOPS)...Int(LSX_MAX_HOPS)).contains(hops),
            (Int(LSX_MIN_PAYLOAD)...Int(LSX_MAX_PAYLOAD)).contains(payload)
        else { throw .invalidGeometry }
        self.hops = hops
        self.payload = payload
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(hops: c.decode(Int.self, forKey: .hops), payload: c.decode(Int.self, forKey: .payload))
    }

    var c: lsx_geometry { lsx_geometry(hops: UInt32(hops), payload: UInt32(payload)) }

    public var headerBytes: Int { withUnsafePointer(to: c) { lsx_header_bytes($0) } }
    public var packetBytes: Int { headerBytes + payload }
    public var maxMessageBytes: Int { payload - Int(LSX_PAYLOAD_OVERHEAD) }
    public var replyBlockBytes: Int { 32 + headerBytes + Int(LSX_REPLY_KEY_BYTES) }
    var replyBlockSecretBytes: Int { 1 + Int(LSX_REPLY_KEY_BYTES) * (1 + hops) }

    public var description: String { "H=\(hops) P=\(payload) (\(packetBytes)-byte packets)" }
}
