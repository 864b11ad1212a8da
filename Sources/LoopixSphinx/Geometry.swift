// The network's packet geometry: packet suite, maximum hops and payload size, validated, with the sizes that follow.
import CLoopixSphinx

/// A validated packet geometry; every packet in a network has the sizes it gives, as the C core computes them.
public struct Geometry: Sendable, Hashable, Codable, CustomStringConvertible {
    /// H: the longest route a packet can take.
    public let hops: Int
    /// P: payload bytes.
    public let payload: Int
    /// The packet suite: the format, the sizes and what a hop computes.
    public let suite: PacketSuite

    /// The default: version 1, 6 hops (provider, three mix layers, provider, client) and 2048 payload bytes.
    public static let standard = try! Geometry(hops: Int(lsx_default_hops()), payload: Int(lsx_default_payload()))

    /// The C core checks the ranges (`lsx_geometry_init`).
    public init(hops: Int, payload: Int, suite: PacketSuite = .v1) throws(SphinxError) {
        guard let h = UInt32(exactly: hops), let p = UInt32(exactly: payload) else { throw .invalidGeometry }
        var g = lsx_geometry()
        try check(lsx_geometry_init(&g, suite.c, h, p))
        self.hops = hops
        self.payload = payload
        self.suite = suite
    }

    private enum CodingKeys: String, CodingKey { case hops, payload, suite }

    /// A geometry without a suite is version 1's: documents written before the suite was a network
    /// parameter read as they always did.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var suite = PacketSuite.v1
        if let name = try c.decodeIfPresent(String.self, forKey: .suite) {
            guard let named = PacketSuite(name: name) else {
                throw DecodingError.dataCorruptedError(forKey: .suite, in: c, debugDescription: "unknown packet suite \"\(name)\"")
            }
            suite = named
        }
        try self.init(hops: c.decode(Int.self, forKey: .hops), payload: c.decode(Int.self, forKey: .payload), suite: suite)
    }

    /// Names the suite only when it is not version 1, so that a version 1 geometry encodes to the same
    /// bytes as before and the signatures over it stay valid.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hops, forKey: .hops)
        try c.encode(payload, forKey: .payload)
        if suite != .v1 { try c.encode(suite.name, forKey: .suite) }
    }

    var c: lsx_geometry { lsx_geometry(hops: UInt32(hops), payload: UInt32(payload), suite: suite.c) }

    // The sizes are asked of the C core each time rather than stored: a few comparisons and
    // additions, and a Geometry stays the three values it is encoded as.
    public var headerBytes: Int { size(lsx_header_bytes) }
    public var packetBytes: Int { size(lsx_packet_bytes) }
    public var maxMessageBytes: Int { size(lsx_max_message_bytes) }
    public var replyBlockBytes: Int { size(lsx_surb_bytes) }
    var replyBlockSecretBytes: Int { size(lsx_surb_secret_bytes) }

    /// The fresh randomness that creating over a route of `hops` hops consumes (version 1: one secret; KEM
    /// suite: one seed per hop), which a test vector gives in its place; 0 for a route that does not fit.
    public func ephemeralBytes(forHops hops: Int) -> Int {
        withUnsafePointer(to: c) { lsx_ephemeral_bytes($0, hops) }
    }

    private func size(_ of: (UnsafePointer<lsx_geometry>?) -> Int) -> Int {
        withUnsafePointer(to: c) { of($0) }
    }

    public var description: String {
        (suite == .v1 ? "" : "\(suite.name) ") + "H=\(hops) P=\(payload) (\(packetBytes)-byte packets)"
    }
}
