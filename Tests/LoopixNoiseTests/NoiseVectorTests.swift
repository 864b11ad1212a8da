// The Swift wrapper reproduces every published Noise vector in Tests/Vectors/noise byte for byte.
import Foundation
import LoopixNoise
import Testing

/// One vector of the Noise wiki's test-vector format.
struct NoiseVector: Decodable {
    struct Message: Decodable {
        let payload: String
        let ciphertext: String
    }
    let protocol_name: String
    let init_prologue: String?
    let init_ephemeral: String?
    let init_static: String?
    let init_remote_static: String?
    let init_psks: [String]?
    let resp_prologue: String?
    let resp_ephemeral: String?
    let resp_static: String?
    let resp_remote_static: String?
    let resp_psks: [String]?
    let handshake_hash: String?
    let messages: [Message]
}

struct NoiseVectorFile: Decodable {
    let source: String?
    let vectors: [NoiseVector]

    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Vectors/noise")
    }

    static func all() throws -> [(name: String, file: NoiseVectorFile)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }
        return try names.sorted().map { name in
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            return (name, try JSONDecoder().decode(NoiseVectorFile.self, from: data))
        }
    }
}

/// One side of a vector, made through the public API (plus the fixed ephemeral key).
private func side(_ v: NoiseVector, role: NoiseHandshake.Role) throws -> NoiseHandshake {
    let initiator = role == .initiator
    let staticKey = (initiator ? v.init_static : v.resp_static).map(hex)
    let remoteKey = (initiator ? v.init_remote_static : v.resp_remote_static).map(hex)
    let handshake = try NoiseHandshake(
        NoiseProtocol(name: v.protocol_name), role: role,
        prologue: hex((initiator ? v.init_prologue : v.resp_prologue) ?? ""),
        localStaticKey: try staticKey.map { try NoiseSecretKey(bytes: $0) },
        remoteStaticKey: try remoteKey.map { try NoisePublicKey(bytes: $0) },
        presharedKeys: try ((initiator ? v.init_psks : v.resp_psks) ?? []).map { try NoisePresharedKey(bytes: hex($0)) })
    if let ephemeral = initiator ? v.init_ephemeral : v.resp_ephemeral {
        try handshake.fixEphemeralKey(hex(ephemeral))
    }
    return handshake
}

@Suite("Noise test vectors")
struct NoiseVectorTests {
    @Test("every vector: handshake messages, hash, learned keys, transport messages")
    func everyVector() throws {
        let files = try NoiseVectorFile.all()
        #expect(!files.isEmpty)
        var reproduced = 0
        for (fileName, file) in files {
            #expect(file.source != nil, "\(fileName) says where it came from")
            for v in file.vectors {
                try replay(v)
                reproduced += 1
            }
        }
        #expect(reproduced >= 8)
    }

    @Test("the project's file holds the XK vector the network depends on")
    func xkIsThere() throws {
        let names = try NoiseVectorFile.all().flatMap { $0.file.vectors.map(\.protocol_name) }
        #expect(names.contains(NoiseProtocol.xk.name))
    }

    private func replay(_ v: NoiseVector) throws {
        let name = v.protocol_name
        let handshakes = [try side(v, role: .initiator), try side(v, role: .responder)]
        var transports: [NoiseTransport] = []
        var handshakeMessages = 0
        for (i, m) in v.messages.enumerated() {
            let payload = hex(m.payload), ciphertext = hex(m.ciphertext)
            if transports.isEmpty {
                let (sender, receiver) = (i % 2, 1 - i % 2)
                #expect(handshakes[sender].nextStep == .write, "\(name) message \(i)")
                let message = try handshakes[sender].writeMessage(payload: payload)
                #expect(message == ciphertext, "\(name) handshake message \(i)")
                #expect(try handshakes[receiver].readMessage(message) == payload, "\(name) message \(i) payload")
                handshakeMessages += 1
                if handshakes[0].nextStep == .split {
                    #expect(try handshakes[0].handshakeHash() == handshakes[1].handshakeHash())
                    if let expected = v.handshake_hash { #expect(try handshakes[0].handshakeHash() == hex(expected), "\(name) hash") }
                    let initiatorKey = try v.init_static.map { try NoiseSecretKey(bytes: hex($0)).publicKey }
                    let responderKey = try v.resp_static.map { try NoiseSecretKey(bytes: hex($0)).publicKey }
                    #expect(handshakes[0].remoteStaticKey == responderKey, "\(name): the initiator knows the responder")
                    #expect(handshakes[1].remoteStaticKey == initiatorKey, "\(name): the responder knows the initiator")
                    transports = try handshakes.map { try $0.split() }
                }
            } else {
                // After a one-way pattern (a single handshake message) only the initiator sends.
                let sender = handshakeMessages == 1 ? 0 : i % 2
                var frame = payload
                try transports[sender].sending.encrypt(&frame)
                #expect(frame == ciphertext, "\(name) transport message \(i)")
                try transports[1 - sender].receiving.decrypt(&frame)
                #expect(frame == payload, "\(name) transport message \(i) payload")
            }
        }
        #expect(!transports.isEmpty, "\(name): the vector ends before the handshake does")
    }
}
