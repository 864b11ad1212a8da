// The one JSON encoding that signatures in this project cover.
import Foundation

/// Canonical JSON: object keys sorted by their UTF-8 bytes, no whitespace, `/` not escaped.
/// A signer encodes the value it signs this way; a reader re-encodes the value it decoded and
/// checks the signature over that, so the document's own layout never matters
/// (docs/topology.md spells the rules out for other languages).
public enum CanonicalJSON {
    public static func bytes(of value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// The same value laid out for people (indented), for files that are also read by hand.
    public static func readable(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
