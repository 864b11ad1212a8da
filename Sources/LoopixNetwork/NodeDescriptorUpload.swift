// What a node tells the directory about itself: where it listens and its Sphinx keys for the
// coming epochs, signed with its long-term identity.
import Foundation
import LoopixSphinx

/// A node's Sphinx public key for one epoch.
public struct EpochPublicKey: Sendable, Hashable, Codable {
    public var epoch: UInt64
    public var sphinxKey: HexPublicKey

    public init(epoch: UInt64, sphinxKey: PublicKey) {
        self.epoch = epoch
        self.sphinxKey = HexPublicKey(sphinxKey)
    }
}

/// The descriptor a node uploads: identity, role, address and upcoming epoch keys.
public struct NodeDescriptorBody: Sendable, Hashable, Codable {
    public static let formatName = "loopix-descriptor-v1"

    public var format: String
    public var identity: VerifyingKey
    public var role: NodeRole
    public var host: String
    public var port: Int
    public var clientPort: Int?
    /// Keys for the current epoch and the ones after it, oldest first.
    public var epochKeys: [EpochPublicKey]
    /// Unix seconds when the node made it; the authority refuses one from far in the past or future.
    public var issuedAt: Double

    public init(identity: VerifyingKey, role: NodeRole, host: String, port: Int, clientPort: Int? = nil,
                epochKeys: [EpochPublicKey], issuedAt: Double) {
        self.format = Self.formatName
        self.identity = identity
        self.role = role
        self.host = host
        self.port = port
        self.clientPort = clientPort
        self.epochKeys = epochKeys
        self.issuedAt = issuedAt
    }

    /// This node's key for `epoch`, if the descriptor has one.
    public func sphinxKey(for epoch: UInt64) -> PublicKey? {
        epochKeys.first { $0.epoch == epoch }?.sphinxKey.key
    }
}

/// A descriptor and its signature by the identity it names.
public struct SignedNodeDescriptor: Sendable, Hashable, Codable {
    public var descriptor: NodeDescriptorBody
    /// 128 hex digits: Ed25519 by `descriptor.identity` over the canonical JSON of `descriptor`.
    public var signature: String

    /// Signs `descriptor` with the node's identity key (which must be the one it names).
    public init(_ descriptor: NodeDescriptorBody, identity key: SigningKey) throws {
        precondition(key.verifyingKey == descriptor.identity, "a descriptor is signed by the identity it names")
        self.descriptor = descriptor
        self.signature = key.sign(try CanonicalJSON.bytes(of: descriptor)).hexString
    }

    /// Whether the signature is the named identity's, over exactly this descriptor.
    public var signatureIsValid: Bool {
        guard descriptor.format == NodeDescriptorBody.formatName, let signature = [UInt8](hexString: signature),
            let message = try? CanonicalJSON.bytes(of: descriptor)
        else { return false }
        return (try? descriptor.identity.verify(signature: signature, for: message)) != nil
    }
}
