// The keys a handshake takes: static key pairs, peers' public keys and pre-shared keys.
internal import CLoopixSphinx

/// An X25519 public key: a peer's static key, from the directory or learned in a handshake.
public struct NoisePublicKey: Sendable, Hashable, CustomStringConvertible {
    public static let byteCount = lsx_noise_public_key_bytes()

    public let bytes: [UInt8]

    public init(bytes: some Collection<UInt8>) throws(NoiseError) {
        guard bytes.count == Self.byteCount else { throw .wrongLength }
        self.bytes = Array(bytes)
    }

    /// The X25519 form of an Ed25519 public key (an identity from the directory, a client's
    /// registered key); `.lowOrderPoint` for a key that is no point of the prime-order group.
    public init(ed25519PublicKey: some Collection<UInt8>) throws(NoiseError) {
        let ed = Array(ed25519PublicKey)
        guard ed.count == 32 else { throw .wrongLength }
        var pk = [UInt8](repeating: 0, count: Self.byteCount)
        try check(lsx_noise_public_key_from_signing_key(&pk, ed))
        bytes = pk
    }

    /// Lower-case hexadecimal.
    public var description: String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] })
    }
}

/// A node's static X25519 key; its secret half is wiped when the key is released.
public final class NoiseSecretKey: Sendable {
    public static let byteCount = lsx_noise_secret_key_bytes()

    let secret: SecretBytes
    public let publicKey: NoisePublicKey

    /// A fresh key from the system's CSPRNG.
    public static func generate() throws(NoiseError) -> NoiseSecretKey {
        let secret = SecretBytes(count: byteCount)
        var pk = [UInt8](repeating: 0, count: NoisePublicKey.byteCount)
        let rc = secret.withUnsafeMutableBytes { s in
            lsx_noise_keypair(&pk, s.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        try check(rc)
        return NoiseSecretKey(secret: secret, publicKey: try NoisePublicKey(bytes: pk))
    }

    /// A key from its 32 secret bytes (a key file, say).
    public convenience init(bytes: some Collection<UInt8>) throws(NoiseError) {
        guard let secret = SecretBytes(copying: bytes, count: Self.byteCount) else { throw .wrongLength }
        var pk = [UInt8](repeating: 0, count: NoisePublicKey.byteCount)
        try check(lsx_noise_public_key(&pk, secret.u8))
        self.init(secret: secret, publicKey: try NoisePublicKey(bytes: pk))
    }

    /// The X25519 form of an Ed25519 identity whose seed (32 bytes) is `ed25519Seed`: the link
    /// key of a node or client, so that the key the directory lists (or a provider registers) is
    /// also the one its links authenticate. docs/noise.md says what sharing the key pair means.
    public convenience init(ed25519Seed: some Collection<UInt8>) throws(NoiseError) {
        guard let seed = SecretBytes(copying: ed25519Seed, count: 32) else { throw .wrongLength }
        let secret = SecretBytes(count: Self.byteCount)
        let rc = secret.withUnsafeMutableBytes { s in
            lsx_noise_secret_key_from_signing_seed(s.baseAddress!.assumingMemoryBound(to: UInt8.self), seed.u8)
        }
        try check(rc)
        var pk = [UInt8](repeating: 0, count: NoisePublicKey.byteCount)
        try check(lsx_noise_public_key(&pk, secret.u8))
        self.init(secret: secret, publicKey: try NoisePublicKey(bytes: pk))
    }

    private init(secret: SecretBytes, publicKey: NoisePublicKey) {
        self.secret = secret
        self.publicKey = publicKey
    }
}

/// A 32-byte pre-shared key for a pskN pattern; wiped when released.
public final class NoisePresharedKey: Sendable {
    public static let byteCount = lsx_noise_psk_bytes()

    let secret: SecretBytes

    public init(bytes: some Collection<UInt8>) throws(NoiseError) {
        guard let secret = SecretBytes(copying: bytes, count: Self.byteCount) else { throw .wrongLength }
        self.secret = secret
    }
}
