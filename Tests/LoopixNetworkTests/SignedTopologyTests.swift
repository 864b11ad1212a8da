// Signed topology documents and key files: what verifies, what is refused, and why.
import Foundation
import LoopixNetwork
import LoopixSphinx
import Testing

func sampleTopology(layers: Int = 3) -> Topology {
    var nodes = [NodeDescriptor]()
    var port = 9000
    func add(_ role: NodeRole, _ layer: Int) {
        port += 1
        nodes.append(NodeDescriptor(id: .random(), role: role, layer: layer, host: "127.0.0.1", port: port,
                                    publicKey: SecretKey.generate().publicKey))
    }
    add(.provider, 0)
    add(.provider, 0)
    for l in 1...layers { add(.mix, l); add(.mix, l) }
    return Topology(parameters: NetworkParameters(layers: layers), nodes: nodes)
}

func scratchPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loopix-net-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

@Suite("Signed topology")
struct SignedTopologyTests {
    @Test("a signed document verifies after a round trip through a file, and only under its authority")
    func roundTrip() throws {
        let authority = SigningKey()
        let topology = sampleTopology()
        let path = scratchPath("topology.json")
        try SignedTopology.sign(topology, with: authority).write(to: path)
        #expect(try SignedTopology.load(path: path, expectedAuthority: authority.verifyingKey) == topology)
        #expect(throws: TopologyError.self) { try SignedTopology.load(path: path, expectedAuthority: SigningKey().verifyingKey) }
    }

    @Test("the packet suite is signed with the rest: a KEM topology reads back as KEM, and changing the suite breaks the signature")
    func suite() throws {
        let authority = SigningKey()
        var topology = sampleTopology()
        topology.parameters.geometry = try Geometry(hops: 6, payload: 2048, suite: .kemX25519)
        let path = scratchPath("topology.json")
        try SignedTopology.sign(topology, with: authority).write(to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("kem-x25519"))
        #expect(try SignedTopology.load(path: path).parameters.geometry.suite == .kemX25519)
        var downgraded = try SignedTopology.sign(topology, with: authority)
        downgraded.topology.parameters.geometry = .standard
        #expect(throws: TopologyError.badSignature("the signature does not verify")) { try downgraded.verified() }
        // A version 1 topology's signed bytes do not mention the suite: documents signed before it existed still verify.
        #expect(!String(decoding: try SignedTopology.canonicalBytes(of: sampleTopology()), as: UTF8.self).contains("suite"))
    }

    @Test("any change to a signed document breaks the signature")
    func tampering() throws {
        let authority = SigningKey()
        var signed = try SignedTopology.sign(sampleTopology(), with: authority)
        signed.topology.nodes[3].port += 1
        #expect(throws: TopologyError.badSignature("the signature does not verify")) { try signed.verified() }
        var other = try SignedTopology.sign(sampleTopology(), with: authority)
        other.topology.parameters.mixDelayRate *= 2
        #expect(throws: TopologyError.self) { try other.verified() }
    }

    @Test("shape: empty layers, duplicate ids, duplicate addresses and no provider are refused")
    func shape() throws {
        let authority = SigningKey()
        var emptyLayer = sampleTopology()
        emptyLayer.nodes.removeAll { $0.role == .mix && $0.layer == 2 }
        #expect(throws: TopologyError.emptyLayer(2)) { try SignedTopology.sign(emptyLayer, with: authority) }
        var duplicateID = sampleTopology()
        duplicateID.nodes[4].id = duplicateID.nodes[3].id
        #expect(throws: TopologyError.duplicateNode(duplicateID.nodes[3].id)) { try SignedTopology.sign(duplicateID, with: authority) }
        var duplicateAddress = sampleTopology()
        duplicateAddress.nodes[5].port = duplicateAddress.nodes[2].port
        #expect(throws: TopologyError.self) { try SignedTopology.sign(duplicateAddress, with: authority) }
        var noProvider = sampleTopology()
        noProvider.nodes.removeAll { $0.role == .provider }
        #expect(throws: TopologyError.noProvider) { try SignedTopology.sign(noProvider, with: authority) }
    }
}

@Suite("Key files")
struct KeyFileTests {
    @Test("keys written with mode 0600 load back; an existing file is never overwritten")
    func writeAndLoad() throws {
        let path = scratchPath("node.key")
        let keys = KeyFile.generate()
        try keys.write(to: path)
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
        #expect(mode == 0o600)
        let loaded = try KeyFile.load(path: path)
        #expect(loaded.sphinxKey.publicKey == keys.sphinxKey.publicKey)
        #expect(loaded.signingKey.verifyingKey == keys.signingKey.verifyingKey)
        #expect(throws: KeyFile.KeyFileError.self) { try KeyFile.generate().write(to: path) }
    }

    @Test("a key file that others can read is refused with a clear error")
    func worldReadable() throws {
        let path = scratchPath("open.key")
        try KeyFile.generate().write(to: path)
        chmod(path, 0o644)
        do {
            _ = try KeyFile.load(path: path)
            Issue.record("a world-readable key was accepted")
        } catch let error as KeyFile.KeyFileError {
            #expect(error.description.contains("readable by others"))
        }
        chmod(path, 0o600)
        _ = try KeyFile.load(path: path)
    }
}

@Suite("Signed topology, every field")
struct SignedTopologyFieldTests {
    @Test("signing keys, client ports and fractional parameters survive the file round trip")
    func allFields() throws {
        let authority = SigningKey()
        var topology = sampleTopology()
        topology.parameters = NetworkParameters(layers: 3, mixDelayRate: 1000 / 20.0, mixLoopRate: 2, loopReturnThreshold: 0.8,
                                                clientPayloadRate: 4, clientLoopRate: 2, clientDropRate: 2, pullSize: 8,
                                                pullInterval: 0.5)
        for i in topology.nodes.indices {
            topology.nodes[i].signingKey = SigningKey().verifyingKey
            if topology.nodes[i].role == .provider { topology.nodes[i].clientPort = 12000 + i }
        }
        let path = scratchPath("t.json")
        let signed = try SignedTopology.sign(topology, with: authority)
        try signed.write(to: path)
        let decoded = try JSONDecoder().decode(SignedTopology.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(decoded.topology == topology)
        let a = String(decoding: try SignedTopology.canonicalBytes(of: topology), as: UTF8.self)
        let b = String(decoding: try SignedTopology.canonicalBytes(of: decoded.topology), as: UTF8.self)
        #expect(a == b)
        _ = try SignedTopology.load(path: path)
    }
}
