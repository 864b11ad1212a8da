// The network's packet geometry: maximum hops and payload size, validated, with the sizes that follow.
import CLoopixSphinx

/// A validated packet geometry; every packet in a network has the sizes it gives, as the C core computes them.
public struct Geometry: Sendable, Hashable, Codable, CustomStringConvertible {
    /// H: the longest route a packet can take.
    public let hops: Int
    /// P: payload bytes.
    public let payload: Int

    /// The default: 6 hops (provider, three mix layers, provider, client) and 2048 payload bytes.
    public static let standard = try! Geometry(hops: Int(lsx_default_hops()), payload: Int(lsx_default_payload()))

    /// The C core checks the ranges (`lsx_geometry_init`).
    public init(hops: Int, payload: Int) throws(SphinxError) {
        guard let h = UInt32(exactly: hops), let p = UInt32(exactly: payload) else { throw .invalidGeometry }
        var g = lsx_geometry()
        try check(lsx_geometry_init(&g, h, p))
        self.hops = hops
        self.payload = payload
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(hops: c.decode(Int.self, forKey: .hops), payload: c.decode(Int.self, forKey: .payload))
    }

    var c: lsx_geometry { lsx_geometry(hops: UInt32(hops), payload: UInt32(payload)) }

    // The sizes are asked of the C core each time rather than stored: a few comparisons and
    // additions, and a Geometry stays the two numbers it is encoded as.
    public var headerBytes: Int { size(lsx_header_bytes) }
    public var packetBytes: Int { size(lsx_packet_bytes) }
    public var maxMessageBytes: Int { size(lsx_max_message_bytes) }
    public var replyBlockBytes: Int { size(lsx_surb_bytes) }
    var replyBlockSecretBytes: Int { size(lsx_surb_secret_bytes) }

    private func size(_ of: (UnsafePointer<lsx_geometry>?) -> Int) -> Int {
        withUnsafePointer(to: c) { of($0) }
    }

    public var description: String { "H=\(hops) P=\(payload) (\(packetBytes)-byte packets)" }
}
