// `loopix topology`: draft a network, add its nodes, sign it as the authority, verify and show it.
import ArgumentParser
import Foundation
import LoopixConfiguration
import LoopixNetwork
import LoopixSphinx

extension PacketSuite: ExpressibleByArgument {}

struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Create, sign, verify and show topology documents.",
        subcommands: [Create.self, AddNode.self, Sign.self, Verify.self, Show.self])

    /// An unsigned draft is a plain Topology in JSON.
    static func readDraft(_ path: String) throws -> Topology {
        try JSONDecoder().decode(Topology.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func writeDraft(_ topology: Topology, to path: String) throws {
        try writeConfiguration(topology, to: URL(fileURLWithPath: path))
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start an unsigned draft with the network's parameters.")
        @Option(help: "The draft file to write.") var out: String
        @Option(help: "Mix layers.") var layers = 3
        @Option(help: "Maximum Sphinx hops (H).") var hops = 6
        @Option(help: "Sphinx payload bytes (P).") var payload = 2048
        @Option(help: "Packet suite: v1 (two X25519 per hop) or kem (one; docs/packet-format-kem.md).") var suite = PacketSuite.v1
        @Option(help: "Mean per-hop delay in milliseconds (1/µ).") var meanDelayMs = 1.0
        @Option(help: "λM: loops per second of each mix.") var mixLoopRate = 1.0
        @Option(help: "r: the fraction of loops that must return.") var loopThreshold = 0.8
        @Option(help: "λP: client payload rate per second.") var payloadRate = 2.0
        @Option(help: "λL: client loop rate per second.") var loopRate = 1.0
        @Option(help: "λD: client drop rate per second.") var dropRate = 1.0
        @Option(help: "K: packets in every pull answer.") var pullSize = 8
        @Option(help: "Seconds between a client's pulls.") var pullInterval = 1.0

        func run() throws {
            guard meanDelayMs > 0 else { throw ValidationError("--mean-delay-ms must be positive") }
            let parameters = NetworkParameters(
                geometry: try Geometry(hops: hops, payload: payload, suite: suite), layers: layers, mixDelayRate: 1000 / meanDelayMs,
                mixLoopRate: mixLoopRate, loopReturnThreshold: loopThreshold, clientPayloadRate: payloadRate,
                clientLoopRate: loopRate, clientDropRate: dropRate, pullSize: pullSize, pullInterval: pullInterval)
            try TopologyCommand.writeDraft(Topology(parameters: parameters, nodes: []), to: out)
            print("wrote the draft \(out); add nodes with `loopix topology add-node`, then sign it")
        }
    }

    struct AddNode: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-node", abstract: "Add a node to a draft.")
        @Option(help: "The draft file.") var draft: String
        @Option(help: "mix or provider.") var role: String
        @Option(help: "Mix layer (1...layers); providers are layer 0.") var layer = 0
        @Option(help: "Host or address other nodes reach it at.") var host: String
        @Option(help: "Port for packets.") var port: Int
        @Option(help: "Providers: the port clients pull from.") var clientPort: Int?
        @Option(help: "The node's key file (its public keys are read from it).") var key: String?
        @Option(help: "Or the node's Sphinx public key, hex.") var publicKey: String?
        @Option(help: "The node's signing public key, hex (with --public-key).") var signingKey: String?

        func run() throws {
            var topology = try TopologyCommand.readDraft(draft)
            guard let role = NodeRole(rawValue: role) else { throw ValidationError("--role must be mix or provider") }
            let sphinxKey: PublicKey
            var verifyingKey: VerifyingKey? = nil
            if let key {
                let keys = try KeyFile.load(path: key)
                sphinxKey = keys.sphinxKey.publicKey
                verifyingKey = keys.signingKey.verifyingKey
            } else if let publicKey, let bytes = [UInt8](hexString: publicKey) {
                sphinxKey = try PublicKey(bytes: bytes)
                verifyingKey = try signingKey.map { try VerifyingKey(hex: $0) }
            } else {
                throw ValidationError("give --key FILE or --public-key HEX")
            }
            let node = NodeDescriptor(id: .random(), role: role, layer: role == .provider ? 0 : layer, host: host, port: port,
                                      publicKey: sphinxKey, signingKey: verifyingKey, clientPort: clientPort)
            topology.nodes.append(node)
            try TopologyCommand.writeDraft(topology, to: draft)
            print("added \(role.rawValue) \(node.id) at \(host):\(port)")
        }
    }

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a draft and sign it with the authority's key.")
        @Option(help: "The draft file.") var draft: String
        @Option(help: "The authority's key file.") var authorityKey: String
        @Option(help: "The signed topology to write.") var out: String

        func run() throws {
            let signed = try SignedTopology.sign(try TopologyCommand.readDraft(draft), with: try KeyFile.load(path: authorityKey).signingKey)
            try signed.write(to: out)
            print("wrote \(out), signed by \(signed.authority)")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify a signed topology's signature and shape.")
        @Option(help: "The signed topology.") var topology: String
        @Option(help: "The expected authority key, hex.") var authority: String?

        func run() throws {
            let t = try SignedTopology.load(path: topology, expectedAuthority: try authority.map { try VerifyingKey(hex: $0) })
            print("ok: \(t.nodes.count) nodes, \(t.parameters.layers) layers, \(t.providers.count) providers")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a signed topology as a table (after verifying it).")
        @Option(help: "The signed topology.") var topology: String

        func run() throws {
            let t = try SignedTopology.load(path: topology)
            let p = t.parameters
            print("geometry \(p.geometry); \(p.layers) layers; mean hop delay \(String(format: "%.3f", 1000 / p.mixDelayRate)) ms")
            print("λP \(p.clientPayloadRate)/s  λL \(p.clientLoopRate)/s  λD \(p.clientDropRate)/s  λM \(p.mixLoopRate)/s  K \(p.pullSize)  pull every \(p.pullInterval) s  r \(p.loopReturnThreshold)")
            for n in t.nodes.sorted(by: { ($0.layer, $0.host, $0.port) < ($1.layer, $1.host, $1.port) }) {
                let pull = n.clientPort.map { " pull \($0)" } ?? ""
                print("\(n.role.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) layer \(n.layer)  \(n.host):\(n.port)\(pull)  id \(n.id.hex.prefix(16))…  key \(n.publicKey.description.prefix(16))…")
            }
        }
    }
}
