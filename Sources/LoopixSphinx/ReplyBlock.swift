// Single-use reply blocks: made by a recipient, used once by a replier, opened by the maker.
import CLoopixSphinx

/// A single-use reply block: where to send the reply, a prepared header, and the key to encrypt it with.
public struct ReplyBlock: Sendable, Hashable {
    public let geometry: Geometry
    /// first_hop_id || header || kt (`geometry.replyBlockBytes` in all).
    public let bytes: [UInt8]

    /// A block received in a message; only its length is checked here.
    public init(geometry: Geometry, bytes: [UInt8]) throws(SphinxError) {
        guard bytes.count == geometry.replyBlockBytes else { throw .wrongLength }
        self.geometry = geometry
        self.bytes = bytes
    }

    /// The node the reply goes to first.
    public var firstHop: SphinxAddress {
        var address = Bytes32()
        var g = geometry.c
        let rc = withUnsafeMutableBytes(of: &address.words) { out in
            bytes.withUnsafeBufferPointer { lsx_surb_first_hop(out.u8, &g, $0.baseAddress, $0.count) }
        }
        precondition(rc == 0, "a block has the length of its geometry from init")
        return SphinxAddress(storage: address)
    }

    /// Builds the reply packet carrying `message`; send it to `firstHop`.
    public func makeReply(message: some Collection<UInt8>) throws(SphinxError) -> [UInt8] {
        try Sphinx.initialize()
        let msg = Array(message)
        var to = [UInt8](repeating: 0, count: CoreSizes.address)
        var packet = [UInt8](repeating: 0, count: geometry.packetBytes)
        var g = geometry.c
        try bytes.withUnsafeBufferPointer { (surb) throws(SphinxError) in
            try msg.withUnsafeBufferPointer { (m) throws(SphinxError) in
                try check(lsx_surb_use(&packet, packet.count, &to, &g, surb.baseAddress, surb.count, m.baseAddress,
                                       m.count))
            }
        }
        return packet
    }
}

/// What the maker of a reply block keeps to read the reply; wiped when released.
public final class ReplyBlockSecret: @unchecked Sendable {
    // Safe to share: written once in init, read-only afterwards.
    private var secret: [UInt8]
    public let geometry: Geometry
    /// The id in the block's FINAL command, by which the maker recognises the reply.
    public let replyID: SphinxAddress

    init(geometry: Geometry, secret: [UInt8], replyID: SphinxAddress) {
        self.geometry = geometry
        self.secret = secret
        self.replyID = replyID
    }

    deinit { secret.withUnsafeMutableBytes { lsx_wipe($0.baseAddress, $0.count) } }

    /// Reads a reply from the maker's own FINAL output `packet` (after `PacketProcessor.process`).
    public func open(packet: [UInt8]) throws(SphinxError) -> [UInt8] {
        guard packet.count == geometry.packetBytes else { throw .wrongLength }
        var payload = Array(packet[geometry.headerBytes...])
        var offset = 0
        var length = 0
        var g = geometry.c
        try secret.withUnsafeBufferPointer { (s) throws(SphinxError) in
            try check(lsx_surb_open(&payload, payload.count, &offset, &length, &g, s.baseAddress, s.count))
        }
        return Array(payload[offset..<(offset + length)])
    }
}

extension Sphinx {
    /// Makes a reply block over `route`, whose last command must be `.final(messageID:)` (the reply id);
    /// `firstHop` is where the replier sends the reply. `ephemeralSecret` (as for `createPacket`) and `replyKey`
    /// are for test vectors.
    public static func createReplyBlock(
        geometry: Geometry, route: [RouteHop], firstHop: SphinxAddress,
        ephemeralSecret: [UInt8]? = nil, replyKey: [UInt8]? = nil
    ) throws(SphinxError) -> (block: ReplyBlock, secret: ReplyBlockSecret) {
        try initialize()
        guard case .final(let replyID)? = route.last?.command else { throw .invalidRoute }
        guard replyKey == nil || replyKey!.count == CoreSizes.replyKey else { throw .wrongLength }
        var surb = [UInt8](repeating: 0, count: geometry.replyBlockBytes)
        var secret = [UInt8](repeating: 0, count: geometry.replyBlockSecretBytes)
        try withRoute(route, geometry: geometry) { (keys, commands) throws(SphinxError) in
            try withOptionalBytes(ephemeralSecret) { (x, xCount) throws(SphinxError) in
                try withOptionalBytes(replyKey) { (kt, _) throws(SphinxError) in
                    try firstHop.storage.withUnsafeBytes { (first) throws(SphinxError) in
                        var g = geometry.c
                        try check(lsx_surb_create(&surb, surb.count, &secret, secret.count, &g, route.count, keys,
                                                  commands, first.u8, x, xCount, kt))
                    }
                }
            }
        }
        return (try ReplyBlock(geometry: geometry, bytes: surb),
                ReplyBlockSecret(geometry: geometry, secret: secret, replyID: replyID))
    }
}
