// What a finished handshake leaves: a cipher per direction, the session's hash and the peer's key.
internal import CLoopixSphinx

/// The two directions of a link after its handshake. The ciphers may live on different threads.
public struct NoiseTransport {
    /// The bytes a transport message adds to its plaintext.
    public static let tagByteCount = lsx_noise_tag_bytes()
    /// The longest plaintext of one transport message.
    public static let maxPlaintextByteCount = lsx_noise_max_plaintext_bytes()

    public let sending: NoiseSendingCipher
    public let receiving: NoiseReceivingCipher
    /// The handshake hash, for binding something to this session.
    public let handshakeHash: [UInt8]
    /// The peer's static key, when the pattern has one.
    public let remoteStaticKey: NoisePublicKey?
}
