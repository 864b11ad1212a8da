// The directory's document for one epoch: who the nodes are, where they listen, their Sphinx
// keys for that epoch and the network's parameters, signed by one or more authorities.
import Foundation
import LoopixSphinx

/// One node as the directory lists it for an epoch.
public struct DirectoryNode: Sendable, Hashable, Codable {
    /// The node's long-term Ed25519 identity; its node id (what RELAY commands name) is these bytes.
    public var identity: VerifyingKey
    public var role: NodeRole
    /// Mixes: 1 through `layers`. Providers: 0.
    public var layer: Int
    public var host: String
    public var port: Int
    /// Providers: the port clients pull from (on `host`).
    public var clientPort: Int?
    /// The node's Sphinx public key for this document's epoch; hex in JSON.
    public var sphinxKey: HexPublicKey

    public init(identity: VerifyingKey, role: NodeRole, layer: Int, host: String, port: Int, clientPort: Int? = nil,
                sphinxKey: PublicKey) {
        self.identity = identity
        self.role = role
        self.layer = layer
        self.host = host
        self.port = port
        self.clientPort = clientPort
        self.sphinxKey = HexPublicKey(sphinxKey)
    }

    /// The id other nodes put in RELAY commands to reach this node.
    public var id: NodeID { NodeID.forIdentity(identity) }

    /// The node as path selection and the node runtime see it, for this epoch.
    public var descriptor: NodeDescriptor {
        NodeDescriptor(id: id, role: role, layer: layer, host: host, port: port, publicKey: sphinxKey.key,
                       signingKey: identity, clientPort: clientPort)
    }
}

extension NodeID {
    /// The node id of a node whose identity key is `identity`: the key's 32 bytes.
    public static func forIdentity(_ identity: VerifyingKey) -> NodeID {
        try! NodeID(bytes: identity.bytes)
    }
}

/// An X25519 public key that reads and writes itself as 64 hex digits.
public struct HexPublicKey: Sendable, Hashable, Codable {
    public let key: PublicKey

    public init(_ key: PublicKey) { self.key = key }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        guard let bytes = [UInt8](hexString: try c.decode(String.self)), let key = try? PublicKey(bytes: bytes) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected 64 hex digits")
        }
        self.key = key
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(key.bytes.hexString)
    }
}

/// What the authorities publish for one epoch. Readers accept it only between `validFrom` and
/// `validUntil` (the epoch and its grace period) and only with enough authority signatures
/// (`DirectoryTrust`); among documents for the same epoch the highest `serial` wins, and one
/// with a lower serial than a reader has seen is refused.
public struct DirectoryDocument: Sendable, Hashable, Codable {
    public static let formatName = "loopix-directory-v1"

    public var format: String
    public var epoch: UInt64
    /// Unix seconds: the epoch's start.
    public var validFrom: Double
    /// Unix seconds: the epoch's end plus its grace period; no reader accepts it afterwards.
    public var validUntil: Double
    /// Orders the documents an authority issues: each new one has a higher serial than every
    /// earlier one, whatever its epoch.
    public var serial: UInt64
    public var schedule: EpochSchedule
    public var parameters: NetworkParameters
    public var nodes: [DirectoryNode]

    public init(epoch: UInt64, validUntil: Double, serial: UInt64, schedule: EpochSchedule,
                parameters: NetworkParameters, nodes: [DirectoryNode]) {
        self.format = Self.formatName
        self.epoch = epoch
        self.validFrom = schedule.start(of: epoch)
        self.validUntil = validUntil
        self.serial = serial
        self.schedule = schedule
        self.parameters = parameters
        self.nodes = nodes
    }

    /// The document as the rest of the code reads a network: parameters and this epoch's nodes.
    public var topology: Topology {
        Topology(parameters: parameters, nodes: nodes.map(\.descriptor))
    }

    /// The shape a published document must have: its format, its window inside its epoch's
    /// bounds, one entry per identity, and a topology a node can run on.
    public func validate() throws(TopologyError) {
        guard format == Self.formatName else { throw .badParameters("unknown document format \"\(format)\"") }
        try schedule.validate()
        guard validFrom == schedule.start(of: epoch), validUntil >= schedule.end(of: epoch) else {
            throw .badParameters("the validity window does not cover epoch \(epoch)")
        }
        try topology.validateForPublication()
    }
}

/// One authority's signature over a document.
public struct DocumentSignature: Sendable, Hashable, Codable {
    public var signer: VerifyingKey
    /// 128 hex digits: Ed25519 over the canonical JSON of the document.
    public var signature: String

    public init(signer: VerifyingKey, signature: String) {
        self.signer = signer
        self.signature = signature
    }
}

/// A document as it travels: the document and a list of signatures, so that several
/// authorities can sign the same bytes without a change of format.
public struct SignedDirectoryDocument: Sendable, Hashable, Codable {
    public var document: DirectoryDocument
    public var signatures: [DocumentSignature]

    public init(document: DirectoryDocument, signatures: [DocumentSignature] = []) {
        self.document = document
        self.signatures = signatures
    }

    /// The bytes every authority signs.
    public static func signedBytes(of document: DirectoryDocument) throws -> [UInt8] {
        try CanonicalJSON.bytes(of: document)
    }

    /// The same document with one more signature, by `key`.
    public func signed(by key: SigningKey) throws -> SignedDirectoryDocument {
        var copy = self
        copy.signatures.append(DocumentSignature(
            signer: key.verifyingKey, signature: key.sign(try Self.signedBytes(of: document)).hexString))
        return copy
    }

    public func encoded() throws -> Data { try CanonicalJSON.readable(self) }

    public static func decode(_ data: Data) throws -> SignedDirectoryDocument {
        try JSONDecoder().decode(SignedDirectoryDocument.self, from: data)
    }
}
