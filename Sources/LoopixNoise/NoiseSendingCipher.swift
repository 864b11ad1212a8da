// Encryption of what one side sends, in place, on the per-frame path.
internal import CLoopixSphinx

/// Encrypts this side's transport messages in place; each call uses the next nonce.
///
/// Not `Sendable`: two threads encrypting at once could reuse a nonce. Hand it over instead.
public final class NoiseSendingCipher {
    let handle: CipherHandle

    init(_ handle: CipherHandle) { self.handle = handle }

    /// Encrypts `buffer[0 ..< plaintextCount]` in place and writes the tag after it; returns the
    /// message's length, `plaintextCount + NoiseTransport.tagByteCount`. No allocation.
    public func encrypt(_ buffer: UnsafeMutableRawBufferPointer, plaintextCount: Int) throws(NoiseError) -> Int {
        var length = 0
        try check(encrypt(buffer, plaintextCount: plaintextCount, length: &length))
        return length
    }

    /// Encrypts `bytes` in place and appends the tag (which allocates only if the array has no room for it).
    public func encrypt(_ bytes: inout [UInt8]) throws(NoiseError) {
        let plaintextCount = bytes.count
        var length = 0
        bytes.append(contentsOf: repeatElement(0, count: NoiseTransport.tagByteCount))
        let rc = bytes.withUnsafeMutableBytes { encrypt($0, plaintextCount: plaintextCount, length: &length) }
        if rc != 0 { bytes.removeLast(NoiseTransport.tagByteCount) }
        try check(rc)
    }

    private func encrypt(_ buffer: UnsafeMutableRawBufferPointer, plaintextCount: Int, length: inout Int) -> Int32 {
        guard let base = buffer.baseAddress else { return LSX_ERR_LENGTH.rawValue }
        return lsx_noise_cipher_encrypt(base.assumingMemoryBound(to: UInt8.self), buffer.count, &length, handle.pointer,
                                        plaintextCount)
    }

    /// REKEY: a new key derived from the current one; the peer's receiving cipher must rekey at the same message.
    public func rekey() throws(NoiseError) { try handle.rekey() }

    /// The nonce of the next message (the number sent so far); `UInt64.max` once exhausted.
    public var nonce: UInt64 { handle.nonce }
}
