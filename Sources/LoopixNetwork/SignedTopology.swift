// The topology as it is published: the document, the authority's key and its Ed25519 signature.
import Foundation
import LoopixSphinx

/// A topology signed by the network's authority. The signature covers the canonical JSON of
/// `topology` (keys sorted, no insignificant whitespace, slashes unescaped), which readers
/// recompute from what they decoded; docs/topology.md spells it out for other languages.
public struct SignedTopology: Codable, Sendable {
    public static let formatName = "loopix-topology-v1"

    public var format: String
    public var authority: VerifyingKey
    /// 128 hex digits.
    public var signature: String
    public var topology: Topology

    /// The bytes the authority signs.
    public static func canonicalBytes(of topology: Topology) throws -> [UInt8] {
        try CanonicalJSON.bytes(of: topology)
    }

    /// Signs `topology` after checking its shape.
    public static func sign(_ topology: Topology, with key: SigningKey) throws -> SignedTopology {
        try topology.validateForPublication()
        return SignedTopology(format: formatName, authority: key.verifyingKey,
                              signature: key.sign(try canonicalBytes(of: topology)).hexString, topology: topology)
    }

    /// The topology, once the signature verifies (under `expectedAuthority` if given) and the shape is valid.
    public func verified(expectedAuthority: VerifyingKey? = nil) throws -> Topology {
        guard format == Self.formatName else { throw TopologyError.badParameters("unknown document format \"\(format)\"") }
        if let expectedAuthority, expectedAuthority != authority {
            throw TopologyError.badSignature("signed by \(authority), not by the expected authority \(expectedAuthority)")
        }
        guard let sig = [UInt8](hexString: signature) else { throw TopologyError.badSignature("signature is not hex") }
        do {
            try authority.verify(signature: sig, for: try Self.canonicalBytes(of: topology))
        } catch {
            throw TopologyError.badSignature("the signature does not verify")
        }
        try topology.validateForPublication()
        return topology
    }

    /// Reads, verifies and validates a signed topology file.
    public static func load(path: String, expectedAuthority: VerifyingKey? = nil) throws -> Topology {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let document: SignedTopology
        do { document = try JSONDecoder().decode(SignedTopology.self, from: data) } catch {
            throw TopologyError.badParameters("\(path) is not a signed topology document: \(error)")
        }
        return try document.verified(expectedAuthority: expectedAuthority)
    }

    /// Writes the document (pretty-printed; the signature does not depend on the layout).
    public func write(to path: String) throws {
        try CanonicalJSON.readable(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

extension Topology {
    /// Everything `validate()` checks, and what a published network also needs: at least one
    /// provider, and no two nodes at the same address.
    public func validateForPublication() throws(TopologyError) {
        try validate()
        guard !providers.isEmpty else { throw .noProvider }
        var addresses = Set<String>()
        for node in nodes {
            let address = "\(node.host):\(node.port)"
            guard addresses.insert(address).inserted else { throw .badNode(node.id, "address \(address) is used twice") }
        }
    }
}
