// Decryption of what the peer sends, in place, on the per-frame path.
internal import CLoopixSphinx

/// Decrypts the peer's transport messages in place, in the order they were sent.
///
/// A message that does not authenticate ends the cipher: on an ordered stream nothing after a
/// forged or damaged message can be trusted, so every later call throws `.badState`.
public final class NoiseReceivingCipher {
    let handle: CipherHandle

    init(_ handle: CipherHandle) { self.handle = handle }

    /// Decrypts the message in `buffer` (all of it) in place; the plaintext is its first
    /// `returned` bytes. No allocation.
    public func decrypt(_ buffer: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        var length = 0
        try check(decrypt(buffer, length: &length))
        return length
    }

    /// Decrypts `bytes` in place and drops the tag.
    public func decrypt(_ bytes: inout [UInt8]) throws(NoiseError) {
        var length = 0
        try check(bytes.withUnsafeMutableBytes { decrypt($0, length: &length) })
        bytes.removeLast(bytes.count - length)
    }

    private func decrypt(_ buffer: UnsafeMutableRawBufferPointer, length: inout Int) -> Int32 {
        guard let base = buffer.baseAddress else { return LSX_ERR_LENGTH.rawValue }
        return lsx_noise_cipher_decrypt(base.assumingMemoryBound(to: UInt8.self), &length, handle.pointer, buffer.count)
    }

    /// REKEY, at the same message as the peer's sending cipher.
    public func rekey() throws(NoiseError) { try handle.rekey() }

    /// The nonce the next message must have used; `UInt64.max` once exhausted or ended.
    public var nonce: UInt64 { handle.nonce }
}
