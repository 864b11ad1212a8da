// The topology document: JSON round trip, validation, and uniform per-layer loop paths.
import Foundation
import LoopixNetwork
import LoopixSphinx
import Testing

@Suite("Topology")
struct TopologyTests {
    func node(_ role: NodeRole, _ layer: Int, port: Int) -> NodeDescriptor {
        NodeDescriptor(id: .random(), role: role, layer: layer, host: "127.0.0.1", port: port,
                       publicKey: SecretKey.generate().publicKey)
    }

    func sample() -> Topology {
        var nodes: [NodeDescriptor] = []
        for layer in 1...3 { for i in 0..<2 { nodes.append(node(.mix, layer, port: 9000 + layer * 10 + i)) } }
        nodes.append(node(.provider, 0, port: 9100))
        nodes.append(node(.provider, 0, port: 9101))
        return Topology(parameters: NetworkParameters(), nodes: nodes)
    }

    @Test("JSON round trip keeps every field, with ids and keys in hex")
    func roundTrip() throws {
        let topology = sample()
        let json = try JSONEncoder().encode(topology)
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains(topology.nodes[0].id.hex))
        #expect(text.contains(topology.nodes[0].publicKey.bytes.hexString))
        #expect(try JSONDecoder().decode(Topology.self, from: json) == topology)
    }

    @Test("unknown keys are ignored, so later fields do not break older readers")
    func extensible() throws {
        let json = try JSONEncoder().encode(sample())
        var object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        object["signature"] = "abc"
        let decoded = try JSONDecoder().decode(Topology.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(decoded.nodes.count == 8)
    }

    @Test("validation refuses duplicate ids, empty layers and mixes outside the layers")
    func validation() throws {
        try sample().validate()
        var duplicate = sample()
        duplicate.nodes.append(duplicate.nodes[0])
        #expect(throws: TopologyError.self) { try duplicate.validate() }
        var empty = sample()
        empty.nodes.removeAll { $0.layer == 2 }
        #expect(throws: TopologyError.emptyLayer(2)) { try empty.validate() }
        var outside = sample()
        outside.nodes[0].layer = 4
        #expect(throws: TopologyError.self) { try outside.validate() }
    }

    @Test("a mix's loop visits each other layer once and a provider, and ends at the mix", arguments: [1, 2, 3])
    func loopPath(layer: Int) throws {
        let topology = sample()
        let me = topology.mixes(inLayer: layer)[0]
        var generator = SystemRandomNumberGenerator()
        let path = try topology.loopPath(from: me.id, using: &generator)
        #expect(path.count == 4)
        #expect(path.last == me)
        let layers = path.dropLast().map { $0.role == .provider ? 0 : $0.layer }
        let expected = Array(stride(from: layer + 1, through: 3, by: 1)) + [0] + Array(1..<layer)
        #expect(layers == expected)
    }

    @Test("loop paths choose uniformly within a layer")
    func uniform() throws {
        let topology = sample()
        let me = topology.mixes(inLayer: 1)[0]
        var generator = SystemRandomNumberGenerator()
        var counts: [NodeID: Int] = [:]
        for _ in 0..<2000 {
            let path = try topology.loopPath(from: me.id, using: &generator)
            counts[path[0].id, default: 0] += 1
        }
        for mix in topology.mixes(inLayer: 2) {
            #expect((850...1150).contains(counts[mix.id] ?? 0))
        }
    }
}
