// Loads the published test vectors (Tests/Vectors) for the Swift tests.
import Foundation
import LoopixSphinx

/// A suite's valid-case file: v1's schema, with the KEM suite's `suite` field, per-hop `ephemeral_secrets` and
/// `kem` entries where it has them.
struct VectorFile: Decodable {
    struct GeometryValue: Decodable {
        let hops: Int
        let payload: Int
        func geometry(_ suite: PacketSuite) throws -> Geometry { try Geometry(hops: hops, payload: payload, suite: suite) }
    }
    struct RouteEntry: Decodable {
        let private_key: String
        let public_key: String
        let command: String
    }
    struct Hop: Decodable {
        let tag: String
        let flag: Int?
        let delay_us: UInt32?
        let address: String?
        let packet_out: String
    }
    struct Surb: Decodable {
        let first_hop_id: String
        let ephemeral_secret: String?
        let ephemeral_secrets: [String]?
        let reply_key: String
        let surb: String
        let reply_message: String
        let reply_packet: String
        let hops: [Hop]
        var ephemeral: [UInt8] { ephemeralBytes(ephemeral_secret, ephemeral_secrets) }
    }
    struct Case: Decodable {
        let description: String
        let geometry: GeometryValue
        let route: [RouteEntry]
        let ephemeral_secret: String?
        let ephemeral_secrets: [String]?
        let message: String
        let packet: String
        let hops: [Hop]
        let surb: Surb?
        var ephemeral: [UInt8] { ephemeralBytes(ephemeral_secret, ephemeral_secrets) }
    }
    /// The KEM alone: ENCAP(public_key, ephemeral_secret) and DECAP(private_key, public_key, ciphertext).
    struct KEMEntry: Decodable {
        let description: String
        let private_key: String
        let public_key: String
        let ephemeral_secret: String
        let ciphertext: String
        let shared_secret: String
    }
    let suite: String?
    let version: Int
    let kem: [KEMEntry]?
    let cases: [Case]
}

/// The fresh randomness a case gives, as the core takes it: v1's one secret, or the seeds end to end.
private func ephemeralBytes(_ one: String?, _ perHop: [String]?) -> [UInt8] {
    if let one { return hex(one) }
    return (perHop ?? []).flatMap(hex)
}

struct InvalidVectorFile: Decodable {
    struct Case: Decodable {
        let description: String
        let geometry: VectorFile.GeometryValue
        let private_key: String
        let packet: String
        let error: String
    }
    let suite: String?
    let cases: [Case]
}

/// One suite's two files, `<stem>.json` and `<stem>-invalid.json`.
struct SuiteVectors: Sendable, CustomStringConvertible {
    let stem: String
    let suite: PacketSuite
    static let all = [SuiteVectors(stem: "sphinx-v1", suite: .v1), SuiteVectors(stem: "sphinx-kem-v1", suite: .kemX25519)]
    var description: String { suite.name }
}

enum Vectors {
    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Vectors")
    }

    static func load<T: Decodable>(_ name: String, as: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: directory.appendingPathComponent(name)))
    }
}

func hex(_ s: String) -> [UInt8] { [UInt8](hexString: s)! }

/// Decodes a 48-byte wire command into the Swift enum (the test's own decoder, independent of the wrapper).
func command(fromWire bytes: [UInt8]) throws -> RoutingCommand {
    let delay = UInt32(bytes[1]) << 24 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 8 | UInt32(bytes[4])
    let address = try SphinxAddress(bytes: bytes[5..<37])
    switch bytes[0] {
    case 1: return .relay(next: address, delayMicroseconds: delay)
    case 2: return .deliver(mailbox: address, delayMicroseconds: delay)
    case 3: return .drop(delayMicroseconds: delay)
    case 4: return .final(messageID: address)
    default: throw SphinxError.unknownFlag
    }
}
