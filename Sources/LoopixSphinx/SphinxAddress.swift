// 32-byte identifiers carried in routing commands, and replay tags.
import CLoopixSphinx

/// A 32-byte identifier in a routing command: a node id, a mailbox id or a message id.
public struct SphinxAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    var storage: Bytes32

    /// The size of an address, as the C core states it.
    public static var byteCount: Int { CoreSizes.address }

    public init(bytes: some Collection<UInt8>) throws(SphinxError) {
        guard bytes.count == Self.byteCount, let s = Bytes32(bytes: bytes) else { throw .wrongLength }
        storage = s
    }

    init(storage: Bytes32) { self.storage = storage }

    /// All zeros (the unused address of a DROP command).
    public static let zero = SphinxAddress(storage: Bytes32())

    /// An address from the CSPRNG.
    public static func random() -> SphinxAddress {
        Sphinx.ensureInitialized()
        var s = Bytes32()
        withUnsafeMutableBytes(of: &s.words) { lsx_random($0.baseAddress, byteCount) }
        return SphinxAddress(storage: s)
    }

    public var bytes: [UInt8] { storage.bytes }
    public var hex: String { storage.hex }
    public var description: String { storage.hex }

    public init(hex: String) throws(SphinxError) {
        guard let b = [UInt8](hexString: hex) else { throw .invalidArgument }
        try self.init(bytes: b)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(hex: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(hex)
    }
}

/// The replay tag of one packet at one hop (derived from the shared secret).
public struct ReplayTag: Sendable, Hashable, CustomStringConvertible {
    var storage: Bytes32
    init(storage: Bytes32) { self.storage = storage }
    public var bytes: [UInt8] { storage.bytes }
    public var description: String { storage.hex }
}
