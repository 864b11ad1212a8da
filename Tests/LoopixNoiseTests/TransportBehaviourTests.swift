// What the transport ciphers must do: in place, in order, refuse forgeries, exhaust, rekey.
@testable import LoopixNoise
import Testing

@Suite("Noise transport")
struct TransportBehaviourTests {
    /// The two transports of a completed XK link: initiator's first.
    private func transports() throws -> (NoiseTransport, NoiseTransport) {
        let link = try XKLink()
        try link.complete()
        return (try link.initiator.split(), try link.responder.split())
    }

    /// Sends `text` from one end to the other and returns what arrived.
    @discardableResult
    private func carry(_ text: String, from sender: NoiseTransport, to receiver: NoiseTransport) throws -> [UInt8] {
        var frame = Array(text.utf8)
        try sender.sending.encrypt(&frame)
        try receiver.receiving.decrypt(&frame)
        return frame
    }

    @Test("a 2,500-byte frame is encrypted and decrypted in place in caller memory, both ways")
    func inPlace() throws {
        let (a, b) = try transports()
        let plaintext = randomBytes(2500)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2500 + NoiseTransport.tagByteCount, alignment: 8)
        defer { buffer.deallocate() }
        for (sender, receiver) in [(a, b), (b, a), (a, b)] {
            let nonce = sender.sending.nonce
            buffer.copyBytes(from: plaintext)
            let length = try sender.sending.encrypt(buffer, plaintextCount: plaintext.count)
            #expect(length == buffer.count && Array(buffer.prefix(2500)) != plaintext)
            let plainLength = try receiver.receiving.decrypt(UnsafeMutableRawBufferPointer(rebasing: buffer[..<length]))
            #expect(plainLength == 2500 && Array(buffer.prefix(2500)) == plaintext)
            #expect(sender.sending.nonce == nonce + 1 && receiver.receiving.nonce == nonce + 1)
        }
        // No room for the tag: refused, and nothing changed.
        #expect(throws: NoiseError.wrongLength) { try a.sending.encrypt(buffer, plaintextCount: buffer.count - 15) }
        #expect(a.sending.nonce == 2)
    }

    @Test("a changed byte in a transport message fails, and the receiving cipher refuses everything after")
    func tamperedFrame() throws {
        let (a, b) = try transports()
        try carry("first", from: a, to: b)
        var frame = Array("second".utf8)
        try a.sending.encrypt(&frame)
        let original = frame
        frame[2] ^= 1
        #expect(throws: NoiseError.authenticationFailed) { try b.receiving.decrypt(&frame) }
        var again = original
        #expect(throws: NoiseError.badState) { try b.receiving.decrypt(&again) }
        #expect(b.receiving.nonce == UInt64.max)
        // The other direction is its own cipher and goes on.
        #expect(try carry("reply", from: b, to: a) == Array("reply".utf8))
    }

    @Test("nonce 2^64-2 is the last one; after it both directions refuse, and rekeying does not help")
    func nonceExhaustion() throws {
        let (a, b) = try transports()
        try a.sending.setNonce(UInt64.max - 1)
        try b.receiving.setNonce(UInt64.max - 1)
        #expect(try carry("last", from: a, to: b) == Array("last".utf8))
        #expect(a.sending.nonce == UInt64.max)
        var more = Array("more".utf8)
        #expect(throws: NoiseError.nonceExhausted) { try a.sending.encrypt(&more) }
        #expect(more == Array("more".utf8))
        var forged = [UInt8](repeating: 0, count: 20)
        #expect(throws: NoiseError.nonceExhausted) { try b.receiving.decrypt(&forged) }
        try a.sending.rekey()
        #expect(throws: NoiseError.nonceExhausted) { try a.sending.encrypt(&more) }
    }

    @Test("rekey: a new key, the nonce count goes on, and both ends must rekey together")
    func rekey() throws {
        let (a, b) = try transports()
        try carry("before", from: a, to: b)
        let key = a.sending.key
        try a.sending.rekey()
        #expect(a.sending.key != key && a.sending.nonce == 1)
        try b.receiving.rekey()
        #expect(try carry("after", from: a, to: b) == Array("after".utf8))
        // Only the sender rekeys: the receiver cannot read.
        try b.sending.rekey()
        var frame = Array("one-sided".utf8)
        try b.sending.encrypt(&frame)
        #expect(throws: NoiseError.authenticationFailed) { try a.receiving.decrypt(&frame) }
    }

    @Test("the largest plaintext fits one message; one byte more is refused")
    func largestMessage() throws {
        let (a, b) = try transports()
        var frame = [UInt8](repeating: 0x5a, count: NoiseTransport.maxPlaintextByteCount)
        try a.sending.encrypt(&frame)
        #expect(frame.count == NoiseHandshake.maxMessageByteCount)
        try b.receiving.decrypt(&frame)
        var tooLong = [UInt8](repeating: 0, count: NoiseTransport.maxPlaintextByteCount + 1)
        #expect(throws: NoiseError.wrongLength) { try a.sending.encrypt(&tooLong) }
        #expect(tooLong.count == NoiseTransport.maxPlaintextByteCount + 1)
    }
}
