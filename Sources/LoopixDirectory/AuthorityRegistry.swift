// The identities an authority's operator admitted to the network, kept in one JSON file that
// `loopix authority register` edits and the running authority rereads when it changes.
import Foundation
import LoopixNetwork
import LoopixSphinx

/// One admitted node: its identity key, its role and, for a mix, its layer if the operator
/// chose one (otherwise the authority assigns layers, evenly and the same every epoch).
public struct RegisteredNode: Sendable, Hashable, Codable {
    public var identity: VerifyingKey
    public var role: NodeRole
    public var layer: Int?
    /// A name for people (logs, the testnet's view); not used by the protocol.
    public var name: String?

    public init(identity: VerifyingKey, role: NodeRole, layer: Int? = nil, name: String? = nil) {
        self.identity = identity
        self.role = role
        self.layer = layer
        self.name = name
    }
}

/// The registry file: every admitted node, in the order they were registered.
public struct AuthorityRegistry: Sendable, Hashable, Codable {
    public static let formatName = "loopix-registry-v1"

    public var format = AuthorityRegistry.formatName
    public var nodes: [RegisteredNode] = []

    public init(nodes: [RegisteredNode] = []) {
        self.nodes = nodes
    }

    public func node(_ identity: VerifyingKey) -> RegisteredNode? {
        nodes.first { $0.identity == identity }
    }

    /// Adds `node`, or replaces the entry of the same identity.
    public mutating func register(_ node: RegisteredNode) {
        nodes.removeAll { $0.identity == node.identity }
        nodes.append(node)
    }

    /// The layer of every registered mix for a network of `layers` layers: the operator's choice
    /// where given, otherwise the mixes without one are dealt out in identity order to the
    /// layers that have the fewest, so that layers stay even and a mix keeps its layer.
    public func mixLayers(layers: Int) -> [VerifyingKey: Int] {
        var assigned: [VerifyingKey: Int] = [:]
        var counts = [Int](repeating: 0, count: layers + 1)
        for node in nodes where node.role == .mix {
            if let layer = node.layer, (1...layers).contains(layer) {
                assigned[node.identity] = layer
                counts[layer] += 1
            }
        }
        let unplaced = nodes.filter { $0.role == .mix && assigned[$0.identity] == nil }.sorted { $0.identity.hex < $1.identity.hex }
        for node in unplaced {
            let layer = (1...layers).min { counts[$0] < counts[$1] }!
            assigned[node.identity] = layer
            counts[layer] += 1
        }
        return assigned
    }

    /// Reads a registry file; an absent file is an empty registry.
    public static func load(path: String) throws -> AuthorityRegistry {
        guard FileManager.default.fileExists(atPath: path) else { return AuthorityRegistry() }
        let registry = try JSONDecoder().decode(AuthorityRegistry.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        guard registry.format == formatName else {
            throw TopologyError.badParameters("\(path) is not a registry (format \(registry.format))")
        }
        return registry
    }

    /// Writes the registry atomically (a reader sees the old file or the new one, never half).
    public func write(to path: String) throws {
        try CanonicalJSON.readable(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Reads the registry at `path`, lets `change` edit it and writes it back atomically, holding
    /// an exclusive lock on `<path>.lock` throughout, so that two operators' edits at once cannot
    /// lose one of them.
    public static func update(path: String, _ change: (inout AuthorityRegistry) throws -> Void) throws {
        let fd = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { flock(fd, LOCK_UN) }
        var registry = try load(path: path)
        try change(&registry)
        try registry.write(to: path)
    }
}
