// A client's printable address: its provider, its mailbox and its Sphinx public key.
import LoopixNetwork
import LoopixSphinx

/// Where to send a client messages: `loopix1:<provider id>:<mailbox id>:<public key>`, each 64 hex digits.
public struct RecipientAddress: Sendable, Hashable, CustomStringConvertible, LosslessStringConvertible, Codable {
    public var provider: NodeID
    public var mailbox: SphinxAddress
    public var publicKey: PublicKey

    public init(provider: NodeID, mailbox: SphinxAddress, publicKey: PublicKey) {
        self.provider = provider
        self.mailbox = mailbox
        self.publicKey = publicKey
    }

    static let prefix = "loopix1"

    public var description: String { "\(Self.prefix):\(provider.hex):\(mailbox.hex):\(publicKey.bytes.hexString)" }

    /// Parses the printable form; nil if it is not one.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == Self.prefix,
            let provider = try? NodeID(hex: parts[1]),
            let mailbox = try? SphinxAddress(hex: parts[2]),
            let keyBytes = [UInt8](hexString: parts[3]), let key = try? PublicKey(bytes: keyBytes)
        else { return nil }
        self.init(provider: provider, mailbox: mailbox, publicKey: key)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = RecipientAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a loopix1 address"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
