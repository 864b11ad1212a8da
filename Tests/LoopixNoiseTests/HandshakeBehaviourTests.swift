// What an XK handshake must do with honest, tampered, replayed and misaddressed messages.
import LoopixNoise
import Testing

/// Two nodes' static keys and a fresh XK handshake between them.
struct XKLink {
    let initiatorKey: NoiseSecretKey
    let responderKey: NoiseSecretKey
    let initiator: NoiseHandshake
    let responder: NoiseHandshake

    init(initiatorKey: NoiseSecretKey? = nil, responderKey: NoiseSecretKey? = nil,
         initiatorExpects expected: NoisePublicKey? = nil) throws {
        self.initiatorKey = try initiatorKey ?? NoiseSecretKey.generate()
        self.responderKey = try responderKey ?? NoiseSecretKey.generate()
        initiator = try .initiator(localStaticKey: self.initiatorKey,
                                   responderKey: expected ?? self.responderKey.publicKey, prologue: Array("loopix".utf8))
        responder = try .responder(localStaticKey: self.responderKey, prologue: Array("loopix".utf8))
    }

    /// The three messages of a complete handshake, each read by its peer.
    @discardableResult
    func complete() throws -> [[UInt8]] {
        let m1 = try initiator.writeMessage(payload: Array("one".utf8))
        #expect(try responder.readMessage(m1) == Array("one".utf8))
        let m2 = try responder.writeMessage()
        #expect(try initiator.readMessage(m2) == [])
        let m3 = try initiator.writeMessage(payload: Array("three".utf8))
        #expect(try responder.readMessage(m3) == Array("three".utf8))
        return [m1, m2, m3]
    }
}

@Suite("Noise handshakes")
struct HandshakeBehaviourTests {
    @Test("XK completes: both sides agree on the hash, and the responder learns who connected")
    func xkCompletes() throws {
        let link = try XKLink()
        #expect(link.initiator.nextStep == .write && link.responder.nextStep == .read)
        #expect(link.responder.remoteStaticKey == nil)
        let messages = try link.complete()
        #expect(messages.map(\.count) == [48 + 3, 48, 64 + 5])
        #expect(messages[0].count == NoiseHandshake.xkMessageByteCount(message: 1, payloadCount: 3))
        #expect(messages[2].count == NoiseHandshake.xkMessageByteCount(message: 3, payloadCount: 5))
        #expect(link.initiator.nextStep == .split && link.responder.nextStep == .split)
        #expect(link.responder.remoteStaticKey == link.initiatorKey.publicKey)
        #expect(link.initiator.remoteStaticKey == link.responderKey.publicKey)
        let hash = try link.initiator.handshakeHash()
        #expect(hash.count == NoiseHandshake.hashByteCount)
        #expect(try hash == link.responder.handshakeHash())
        let a = try link.initiator.split(), b = try link.responder.split()
        #expect(a.handshakeHash == hash && b.remoteStaticKey == link.initiatorKey.publicKey)
        #expect(link.initiator.nextStep == .done)
        #expect(throws: NoiseError.badState) { try link.initiator.split() }
    }

    @Test("a changed byte in any handshake message fails the read and ends the handshake", arguments: 0..<3)
    func tamperedMessage(index: Int) throws {
        // The first byte of the ephemeral key, the last byte before the tag, the tag's last byte.
        for position in [0, 31, -17, -1] {
            let link = try XKLink()
            let sides = [link.initiator, link.responder]
            for i in 0..<index { _ = try sides[1 - i % 2].readMessage(try sides[i % 2].writeMessage()) }
            let message = try sides[index % 2].writeMessage(payload: [1, 2, 3])
            let reader = sides[1 - index % 2]
            var changed = message
            changed[position >= 0 ? position : message.count + position] ^= 0x10
            #expect(throws: NoiseError.authenticationFailed) { try reader.readMessage(changed) }
            #expect(reader.nextStep == .failed)
            #expect(throws: NoiseError.badState) { try reader.readMessage(message) }
            #expect(reader.remoteStaticKey == nil)
            #expect(throws: NoiseError.badState) { try reader.handshakeHash() }
        }
    }

    @Test("a responder refuses a first message encrypted to another key")
    func responderRefusesAnotherKey() throws {
        let stranger = try NoiseSecretKey.generate()
        let link = try XKLink(initiatorExpects: stranger.publicKey)
        let m1 = try link.initiator.writeMessage()
        #expect(throws: NoiseError.authenticationFailed) { try link.responder.readMessage(m1) }
    }

    @Test("an initiator expecting another responder key refuses the real responder's answer")
    func initiatorRefusesWrongResponder() throws {
        // Same initiator key and ephemeral key on both links; only the expected responder key differs.
        let initiatorKey = try NoiseSecretKey.generate(), responderKey = try NoiseSecretKey.generate()
        let wrong = try XKLink(initiatorKey: initiatorKey, responderKey: responderKey,
                               initiatorExpects: try NoiseSecretKey.generate().publicKey)
        let right = try XKLink(initiatorKey: initiatorKey, responderKey: responderKey)
        let ephemeralBytes = randomBytes(32)
        try wrong.initiator.fixEphemeralKey(ephemeralBytes)
        try right.initiator.fixEphemeralKey(ephemeralBytes)
        _ = try wrong.initiator.writeMessage()
        _ = try right.responder.readMessage(try right.initiator.writeMessage())
        let answer = try right.responder.writeMessage()
        #expect(throws: NoiseError.authenticationFailed) { try wrong.initiator.readMessage(answer) }
        #expect(wrong.initiator.nextStep == .failed)
    }

    @Test("a replayed handshake message fails: twice to one handshake, or to finish a new session")
    func replayedMessages() throws {
        let link = try XKLink()
        let messages = try link.complete()
        let repeated = try XKLink(initiatorKey: link.initiatorKey, responderKey: link.responderKey)
        // The same message again to a handshake that already read it.
        _ = try repeated.responder.readMessage(messages[0])
        #expect(throws: NoiseError.badState) { try repeated.responder.readMessage(messages[0]) }
        // Message 1 carries no freshness and a new responder accepts it, but the recorded message 3
        // does not finish that session: its keys depend on the responder's new ephemeral key.
        _ = try repeated.responder.writeMessage()
        #expect(throws: NoiseError.authenticationFailed) { try repeated.responder.readMessage(messages[2]) }
        #expect(repeated.responder.remoteStaticKey == nil)
        // A recorded message 2 does not answer a new initiator either.
        _ = try repeated.initiator.writeMessage()
        #expect(throws: NoiseError.authenticationFailed) { try repeated.initiator.readMessage(messages[1]) }
    }

    @Test("out of turn is refused without harm")
    func outOfTurn() throws {
        let link = try XKLink()
        #expect(throws: NoiseError.badState) { try link.responder.writeMessage() }
        #expect(throws: NoiseError.badState) { try link.initiator.readMessage([UInt8](repeating: 0, count: 48)) }
        #expect(throws: NoiseError.badState) { try link.initiator.split() }
        try link.complete()
    }

    @Test("the keys must be exactly those the pattern needs")
    func keysMismatch() throws {
        let key = try NoiseSecretKey.generate()
        #expect(throws: NoiseError.keysMismatch) { try NoiseHandshake(.xk, role: .initiator, localStaticKey: key) }
        #expect(throws: NoiseError.keysMismatch) {
            try NoiseHandshake(.xk, role: .responder, localStaticKey: key, remoteStaticKey: key.publicKey)
        }
        #expect(throws: NoiseError.keysMismatch) { try NoiseHandshake(.xkPSK3, role: .responder, localStaticKey: key) }
        #expect(throws: NoiseError.unsupportedProtocol) { try NoiseProtocol(name: "Noise_XK_448_ChaChaPoly_BLAKE2b") }
        #expect(throws: NoiseError.unsupportedProtocol) { try NoiseProtocol(pattern: "XKfallback") }
        #expect(try NoiseProtocol(pattern: "X1K1").name == "Noise_X1K1_25519_ChaChaPoly_BLAKE2b")
    }

    @Test("every pattern the wrapper names completes", arguments: [
        NoiseProtocol.nn, .nk, .kk, .xk, .ik, .xx, .xkPSK3, .ikPSK2,
    ])
    func namedPatterns(_ noiseProtocol: NoiseProtocol) throws {
        let pattern = noiseProtocol.name.split(separator: "_")[1]
        let i = try NoiseSecretKey.generate(), r = try NoiseSecretKey.generate()
        let psk = try NoisePresharedKey(bytes: [UInt8](repeating: 7, count: 32))
        let psks = pattern.contains("psk") ? [psk] : []
        let initiator = try NoiseHandshake(
            noiseProtocol, role: .initiator, localStaticKey: pattern.hasPrefix("N") ? nil : i,
            remoteStaticKey: pattern.dropFirst().hasPrefix("K") ? r.publicKey : nil, presharedKeys: psks)
        let responder = try NoiseHandshake(
            noiseProtocol, role: .responder, localStaticKey: pattern.dropFirst().hasPrefix("N") ? nil : r,
            remoteStaticKey: pattern.hasPrefix("K") ? i.publicKey : nil, presharedKeys: psks)
        let sides = [initiator, responder]
        var turn = 0
        while initiator.nextStep != .split {
            _ = try sides[1 - turn].readMessage(try sides[turn].writeMessage(payload: [9]))
            turn = 1 - turn
        }
        #expect(responder.nextStep == .split)
        #expect(try initiator.handshakeHash() == responder.handshakeHash())
    }
}

func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}
