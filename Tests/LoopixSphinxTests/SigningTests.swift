// Ed25519 signing and verification through the Swift API.
import LoopixSphinx
import Testing

@Suite("Signatures")
struct SigningTests {
    @Test("a signature verifies, and fails for another message, another key or a flipped bit")
    func signAndVerify() throws {
        let key = SigningKey()
        let message = Array("topology document".utf8)
        var signature = key.sign(message)
        try key.verifyingKey.verify(signature: signature, for: message)
        #expect(throws: SphinxError.badSignature) { try key.verifyingKey.verify(signature: signature, for: message + [0]) }
        #expect(throws: SphinxError.badSignature) { try SigningKey().verifyingKey.verify(signature: signature, for: message) }
        #expect(throws: SphinxError.badSignature) { try key.verifyingKey.verify(signature: signature.dropLast(), for: message) }
        signature[3] ^= 0x20
        #expect(throws: SphinxError.badSignature) { try key.verifyingKey.verify(signature: signature, for: message) }
    }

    @Test("a key restored from its seed is the same key")
    func seedRoundTrip() throws {
        let key = SigningKey()
        let again = try SigningKey(seed: key.seedBytes)
        #expect(again.verifyingKey == key.verifyingKey)
        #expect(throws: SphinxError.wrongLength) { try SigningKey(seed: [1, 2]) }
    }
}
