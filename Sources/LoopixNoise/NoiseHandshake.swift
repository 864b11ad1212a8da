// One side of a Noise handshake, from its first message to the split into transport ciphers.
internal import CLoopixSphinx

/// One side of a Noise handshake (XK unless told otherwise): write and read messages in turn, then `split()`.
///
/// Not `Sendable`: one handshake belongs to one connection and is used by one task at a time.
/// A message that fails to read ends the handshake for good (`nextStep == .failed`).
public final class NoiseHandshake {
    public enum Role: Sendable, Hashable {
        case initiator
        case responder
    }

    /// What the handshake expects next.
    public enum Step: Sendable, Hashable {
        /// This side writes the next message.
        case write
        /// This side reads the peer's next message.
        case read
        /// Complete: the hash is final; `split()` it.
        case split
        /// Split already.
        case done
        /// A message failed; nothing more works.
        case failed
    }

    public static let hashByteCount = lsx_noise_hash_bytes()
    public static let maxMessageByteCount = lsx_noise_max_message_bytes()

    let pointer: OpaquePointer
    public let role: Role
    public let noiseProtocol: NoiseProtocol

    /// A handshake of `noiseProtocol` with exactly the keys its pattern needs (`.keysMismatch` otherwise):
    /// this side's static key when it has one, the peer's static key when the pattern knows it beforehand
    /// (the XK initiator: the responder's key from the directory), and one pre-shared key per psk token.
    /// The prologue must be the same on both sides.
    public init(
        _ noiseProtocol: NoiseProtocol = .xk, role: Role, prologue: [UInt8] = [],
        localStaticKey: NoiseSecretKey? = nil, remoteStaticKey: NoisePublicKey? = nil,
        presharedKeys: [NoisePresharedKey] = []
    ) throws(NoiseError) {
        // The C core takes the pre-shared keys as one block; it is wiped with the block's release.
        let psks = SecretBytes(count: presharedKeys.count * NoisePresharedKey.byteCount)
        psks.withUnsafeMutableBytes { out in
            for (i, key) in presharedKeys.enumerated() {
                let slot = UnsafeMutableRawBufferPointer(rebasing: out[(i * NoisePresharedKey.byteCount)...])
                key.secret.withUnsafeBytes { slot.copyMemory(from: $0) }
            }
        }
        var p: OpaquePointer? = nil
        let rc = withExtendedLifetime((localStaticKey, psks)) {
            (remoteStaticKey?.bytes ?? []).withUnsafeBufferPointer { remote in
                lsx_noise_handshake_create(
                    &p, noiseProtocol.name, role == .initiator ? LSX_NOISE_INITIATOR : LSX_NOISE_RESPONDER,
                    prologue, prologue.count, localStaticKey?.secret.u8, remoteStaticKey == nil ? nil : remote.baseAddress,
                    presharedKeys.isEmpty ? nil : psks.u8, presharedKeys.count)
            }
        }
        try check(rc)
        pointer = p!
        self.role = role
        self.noiseProtocol = noiseProtocol
    }

    /// The XK initiator of a link: it knows the responder's static key from the directory.
    public static func initiator(
        localStaticKey: NoiseSecretKey, responderKey: NoisePublicKey, prologue: [UInt8] = []
    ) throws(NoiseError) -> NoiseHandshake {
        try NoiseHandshake(.xk, role: .initiator, prologue: prologue, localStaticKey: localStaticKey,
                           remoteStaticKey: responderKey)
    }

    /// The XK responder of a link: it learns the initiator's static key from the third message.
    public static func responder(localStaticKey: NoiseSecretKey, prologue: [UInt8] = []) throws(NoiseError)
        -> NoiseHandshake
    {
        try NoiseHandshake(.xk, role: .responder, prologue: prologue, localStaticKey: localStaticKey)
    }

    deinit { lsx_noise_handshake_destroy(pointer) }

    public var nextStep: Step {
        switch lsx_noise_handshake_next_step(pointer) {
        case LSX_NOISE_STEP_WRITE: .write
        case LSX_NOISE_STEP_READ: .read
        case LSX_NOISE_STEP_SPLIT: .split
        case LSX_NOISE_STEP_DONE: .done
        default: .failed
        }
    }

    /// The length of the next message (to write or to read) carrying `payloadCount` bytes; nil when none is expected.
    public func nextMessageByteCount(payloadCount: Int) -> Int? {
        let n = lsx_noise_handshake_message_bytes(pointer, payloadCount)
        return n == 0 ? nil : n
    }

    /// The length of XK message 1, 2 or 3 carrying `payloadCount` bytes; nil for another number or beyond the maximum.
    public static func xkMessageByteCount(message: Int, payloadCount: Int) -> Int? {
        guard (1...3).contains(message) else { return nil }
        let n = lsx_noise_xk_message_bytes(UInt32(message), payloadCount)
        return n == 0 ? nil : n
    }

    /// This side's next message with `payload` inside (encrypted once the pattern has a key).
    public func writeMessage(payload: [UInt8] = []) throws(NoiseError) -> [UInt8] {
        guard let size = nextMessageByteCount(payloadCount: payload.count) else {
            throw nextStep == .write ? .wrongLength : .badState
        }
        var written = 0
        var rc: Int32 = 0
        let message = [UInt8](unsafeUninitializedCapacity: size) { out, count in
            rc = lsx_noise_handshake_write_message(out.baseAddress, size, &written, pointer, payload, payload.count)
            count = rc == 0 ? written : 0
        }
        try check(rc)
        return message
    }

    /// Reads the peer's next message and returns its payload. Any failure ends the handshake.
    public func readMessage(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        var read = 0
        var rc: Int32 = 0
        let payload = [UInt8](unsafeUninitializedCapacity: max(message.count, 1)) { out, count in
            rc = lsx_noise_handshake_read_message(out.baseAddress, message.count, &read, pointer, message, message.count)
            count = rc == 0 ? read : 0
        }
        try check(rc)
        return payload
    }

    /// The handshake hash, the same on both sides and unique to the session; `.badState` before the end.
    public func handshakeHash() throws(NoiseError) -> [UInt8] {
        var hash = [UInt8](repeating: 0, count: Self.hashByteCount)
        try check(lsx_noise_handshake_hash(&hash, pointer))
        return hash
    }

    /// The peer's static key once known: given at the start, or learned from a message that authenticated.
    /// The XK responder has it after the third message and should look it up in its allow-list.
    public var remoteStaticKey: NoisePublicKey? {
        var key = [UInt8](repeating: 0, count: NoisePublicKey.byteCount)
        guard lsx_noise_handshake_remote_static(&key, pointer) == 0 else { return nil }
        return try? NoisePublicKey(bytes: key)
    }

    /// The transport ciphers of a complete handshake (once only), with its hash and the peer's key.
    public func split() throws(NoiseError) -> NoiseTransport {
        var send: OpaquePointer? = nil
        var receive: OpaquePointer? = nil
        try check(lsx_noise_handshake_split(&send, &receive, pointer))
        return NoiseTransport(
            sending: NoiseSendingCipher(CipherHandle(send!)), receiving: NoiseReceivingCipher(CipherHandle(receive!)),
            handshakeHash: try handshakeHash(), remoteStaticKey: remoteStaticKey)
    }
}
