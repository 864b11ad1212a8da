// The network as every node and client sees it: who the nodes are, where they listen, and the
// parameters they share. Plain Codable JSON; signing the document is a later layer on top.
import Foundation
import LoopixSphinx

/// What a node does in the network.
public enum NodeRole: String, Sendable, Hashable, Codable {
    case mix
    case provider
}

/// One node of the topology: identity, role and layer, address and Sphinx public key.
public struct NodeDescriptor: Sendable, Hashable, Codable {
    /// The id other nodes put in RELAY commands to reach this node.
    public var id: NodeID
    public var role: NodeRole
    /// Mixes: 1 through `layers`. Providers: 0 (they are both the entry and the exit layer).
    public var layer: Int
    public var host: String
    public var port: Int
    /// The node's X25519 Sphinx public key; hex in JSON.
    public var publicKey: PublicKey
    /// The node's Ed25519 key (operator identity; optional).
    public var signingKey: VerifyingKey?
    /// Providers: the port clients pull from (on `host`).
    public var clientPort: Int?

    public init(id: NodeID, role: NodeRole, layer: Int, host: String, port: Int, publicKey: PublicKey,
                signingKey: VerifyingKey? = nil, clientPort: Int? = nil) {
        self.id = id
        self.role = role
        self.layer = layer
        self.host = host
        self.port = port
        self.publicKey = publicKey
        self.signingKey = signingKey
        self.clientPort = clientPort
    }

    private enum CodingKeys: String, CodingKey {
        case id, role, layer, host, port, publicKey, signingKey, clientPort
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(NodeID.self, forKey: .id)
        role = try c.decode(NodeRole.self, forKey: .role)
        layer = try c.decode(Int.self, forKey: .layer)
        host = try c.decode(String.self, forKey: .host)
        port = try c.decode(Int.self, forKey: .port)
        let hex = try c.decode(String.self, forKey: .publicKey)
        guard let bytes = [UInt8](hexString: hex), let key = try? PublicKey(bytes: bytes) else {
            throw DecodingError.dataCorruptedError(
                forKey: .publicKey, in: c, debugDescription: "expected \(2 * PublicKey.byteCount) hex digits")
        }
        publicKey = key
        signingKey = try c.decodeIfPresent(VerifyingKey.self, forKey: .signingKey)
        clientPort = try c.decodeIfPresent(Int.self, forKey: .clientPort)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(role, forKey: .role)
        try c.encode(layer, forKey: .layer)
        try c.encode(host, forKey: .host)
        try c.encode(port, forKey: .port)
        try c.encode(publicKey.bytes.hexString, forKey: .publicKey)
        try c.encodeIfPresent(signingKey, forKey: .signingKey)
        try c.encodeIfPresent(clientPort, forKey: .clientPort)
    }
}

/// The shared parameters of the network.
public struct NetworkParameters: Sendable, Hashable, Codable {
    /// Sphinx geometry: maximum route length and payload bytes (spec/sphinx-packet-v1.md).
    public var geometry: Geometry
    /// Number of mix layers.
    public var layers: Int
    /// Rate µ of the per-hop delay distribution Exp(µ), per second (mean delay 1/µ).
    public var mixDelayRate: Double
    /// Rate λM at which each mix sends loop packets, per second.
    public var mixLoopRate: Double
    /// The fraction r of a mix's loops that must come back; below it the mix raises an alarm.
    public var loopReturnThreshold: Double
    /// λP: rate of a client's payload stream (a real message, or drop cover when none waits), per second.
    public var clientPayloadRate: Double
    /// λL: rate of a client's loops, per second.
    public var clientLoopRate: Double
    /// λD: rate of a client's extra drop cover, per second.
    public var clientDropRate: Double
    /// K: packets in every pull answer.
    public var pullSize: Int
    /// Seconds between a client's pulls.
    public var pullInterval: Double
    /// The longest delay a packet may ask of one hop, in seconds; nil: the default,
    /// `defaultHopDelayMultiple` mean delays (see `hopDelayLimit`). Nodes drop a packet that asks
    /// for more (`delay_too_long`), and every sender draws below it.
    public var maxHopDelay: Double?

    /// The default `maxHopDelay` in mean delays: an Exp(µ) draw exceeds 20/µ with probability
    /// e^-20 ≈ 2.1·10^-9, so a legitimate packet practically never meets the limit, while a
    /// crafted one can hold a buffer for 20 mean delays instead of 71 minutes.
    public static let defaultHopDelayMultiple = 20.0

    /// The per-hop delay limit in force, in seconds.
    public var hopDelayLimit: Double { maxHopDelay ?? Self.defaultHopDelayMultiple / mixDelayRate }

    /// The limit in microseconds, as delays travel in routing commands.
    public var hopDelayLimitMicroseconds: UInt32 {
        UInt32(min(hopDelayLimit * 1e6, Double(UInt32.max)))
    }

    /// A per-hop delay drawn from Exp(µ), in microseconds, redrawn while above the limit (a
    /// truncated exponential: at the default limit one draw in 500 million is redrawn).
    public func drawHopDelayMicroseconds(using generator: inout some RandomNumberGenerator) -> UInt32 {
        let limit = hopDelayLimit
        while true {
            let u = Double.random(in: Double.leastNonzeroMagnitude..<1, using: &generator)
            let delay = -log(u) / mixDelayRate
            if delay <= limit { return UInt32(min(delay * 1e6, Double(UInt32.max))) }
        }
    }

    public init(
        geometry: Geometry = .standard,
        layers: Int = 3,
        mixDelayRate: Double = 1000,
        mixLoopRate: Double = 1,
        loopReturnThreshold: Double = 0.8,
        clientPayloadRate: Double = 2,
        clientLoopRate: Double = 1,
        clientDropRate: Double = 1,
        pullSize: Int = 8,
        pullInterval: Double = 1,
        maxHopDelay: Double? = nil
    ) {
        self.geometry = geometry
        self.layers = layers
        self.mixDelayRate = mixDelayRate
        self.mixLoopRate = mixLoopRate
        self.loopReturnThreshold = loopReturnThreshold
        self.clientPayloadRate = clientPayloadRate
        self.clientLoopRate = clientLoopRate
        self.clientDropRate = clientDropRate
        self.pullSize = pullSize
        self.pullInterval = pullInterval
        self.maxHopDelay = maxHopDelay
    }

    private enum CodingKeys: String, CodingKey {
        case geometry, layers, mixDelayRate, mixLoopRate, loopReturnThreshold
        case clientPayloadRate, clientLoopRate, clientDropRate, pullSize, pullInterval
        // Written only when set, so that documents signed before it existed keep their bytes.
        case maxHopDelay
    }

    /// Reads a document; fields added after the first version take their defaults when absent.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = NetworkParameters()
        self.init(
            geometry: try c.decode(Geometry.self, forKey: .geometry),
            layers: try c.decode(Int.self, forKey: .layers),
            mixDelayRate: try c.decode(Double.self, forKey: .mixDelayRate),
            mixLoopRate: try c.decode(Double.self, forKey: .mixLoopRate),
            loopReturnThreshold: try c.decode(Double.self, forKey: .loopReturnThreshold),
            clientPayloadRate: try c.decodeIfPresent(Double.self, forKey: .clientPayloadRate) ?? d.clientPayloadRate,
            clientLoopRate: try c.decodeIfPresent(Double.self, forKey: .clientLoopRate) ?? d.clientLoopRate,
            clientDropRate: try c.decodeIfPresent(Double.self, forKey: .clientDropRate) ?? d.clientDropRate,
            pullSize: try c.decodeIfPresent(Int.self, forKey: .pullSize) ?? d.pullSize,
            pullInterval: try c.decodeIfPresent(Double.self, forKey: .pullInterval) ?? d.pullInterval,
            maxHopDelay: try c.decodeIfPresent(Double.self, forKey: .maxHopDelay))
    }
}

extension NetworkParameters {
    /// Checks the parameters alone (what an authority's configuration gives before any node is
    /// known): at least one layer, a geometry that carries a mix loop, positive rates, K in 1...1024.
    public func validate() throws(TopologyError) {
        guard layers >= 1 else { throw .badParameters("layers must be at least 1") }
        // A mix loop visits every layer once and a provider: layers + 1 hops.
        guard geometry.hops >= layers + 1 else {
            throw .badParameters("hops \(geometry.hops) cannot carry a loop over \(layers) layers and a provider")
        }
        guard mixDelayRate > 0, mixLoopRate >= 0, (0...1).contains(loopReturnThreshold) else {
            throw .badParameters("rates must be positive and the loop threshold in 0...1")
        }
        guard clientPayloadRate >= 0, clientLoopRate >= 0, clientDropRate >= 0, pullInterval > 0, (1...1024).contains(pullSize)
        else { throw .badParameters("client rates must not be negative, the pull interval must be positive, the pull size 1...1024") }
    }
}

/// The topology document: parameters and the list of nodes. Unknown JSON keys are ignored, so
/// later versions can add fields (a signature, an epoch) without breaking older readers.
public struct Topology: Sendable, Hashable, Codable {
    public var parameters: NetworkParameters
    public var nodes: [NodeDescriptor]

    public init(parameters: NetworkParameters, nodes: [NodeDescriptor]) {
        self.parameters = parameters
        self.nodes = nodes
    }

    /// The node with this id, if listed.
    public func node(_ id: NodeID) -> NodeDescriptor? {
        nodes.first { $0.id == id }
    }

    /// The mixes of one layer, in document order.
    public func mixes(inLayer layer: Int) -> [NodeDescriptor] {
        nodes.filter { $0.role == .mix && $0.layer == layer }
    }

    /// The providers, in document order.
    public var providers: [NodeDescriptor] {
        nodes.filter { $0.role == .provider }
    }

    /// Checks what a node needs before it can run on this document: unique ids, mix layers in
    /// 1...layers with at least one mix each, ports in range, a route that fits the geometry.
    public func validate() throws(TopologyError) {
        try parameters.validate()
        var seen = Set<NodeID>()
        for node in nodes {
            guard seen.insert(node.id).inserted else { throw .duplicateNode(node.id) }
            guard (0...65535).contains(node.port) else { throw .badNode(node.id, "port \(node.port) out of range") }
            switch node.role {
            case .mix:
                guard (1...parameters.layers).contains(node.layer) else {
                    throw .badNode(node.id, "mix layer \(node.layer) outside 1...\(parameters.layers)")
                }
            case .provider:
                guard node.layer == 0 else { throw .badNode(node.id, "provider layer must be 0") }
            }
        }
        for layer in 1...parameters.layers where mixes(inLayer: layer).isEmpty {
            throw .emptyLayer(layer)
        }
        for node in nodes where node.role == .provider {
            if let p = node.clientPort, !(0...65535).contains(p) { throw .badNode(node.id, "client port \(p) out of range") }
        }
        if let limit = parameters.maxHopDelay, !(limit > 0 && limit * 1e6 <= Double(UInt32.max)) {
            throw .badParameters("maxHopDelay must be positive and at most \(UInt32.max / 1_000_000) s")
        }
        // Links authenticate with the X25519 form of each identity; two identities with one form
        // (P and -P) would make a link's peer ambiguous.
        var linkKeys = Set<[UInt8]>()
        for node in nodes {
            guard let identity = node.signingKey else { continue }
            guard let key = identity.linkKey else { throw .badNode(node.id, "its identity key is no point of the curve's prime-order group") }
            guard linkKeys.insert(key.bytes).inserted else { throw .badNode(node.id, "another node has the same link key") }
        }
    }
}

/// A topology document a node cannot run on.
public enum TopologyError: Error, Hashable, Sendable {
    case duplicateNode(NodeID)
    case badNode(NodeID, String)
    case emptyLayer(Int)
    case badParameters(String)
    case noProvider
    case unknownNode(NodeID)
    case badSignature(String)
}
