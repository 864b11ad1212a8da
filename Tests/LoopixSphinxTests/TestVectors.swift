// Loads the published test vectors (Tests/Vectors) for the Swift tests.
import Foundation
import LoopixSphinx

struct VectorFile: Decodable {
    struct GeometryValue: Decodable {
        let hops: Int
        let payload: Int
        var geometry: Geometry { get throws { try Geometry(hops: hops, payload: payload) } }
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
        let ephemeral_secret: String
        let reply_key: String
        let surb: String
        let reply_message: String
        let reply_packet: String
        let hops: [Hop]
    }
    struct Case: Decodable {
        let description: String
        let geometry: GeometryValue
        let route: [RouteEntry]
        let ephemeral_secret: String
        let message: String
        let packet: String
        let hops: [Hop]
        let surb: Surb?
    }
    let version: Int
    let cases: [Case]
}

struct InvalidVectorFile: Decodable {
    struct Case: Decodable {
        let description: String
        let geometry: VectorFile.GeometryValue
        let private_key: String
        let packet: String
        let error: String
    }
    let cases: [Case]
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
