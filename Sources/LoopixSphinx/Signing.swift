// Ed25519 keys for what the network signs: topology documents and pull requests.
import CLoopixSphinx

/// An Ed25519 public key.
public struct VerifyingKey: Sendable, Hashable, Codable, CustomStringConvertible {
    let storage: Bytes32

    /// The size of a verifying key, as the C core states it.
    public static var byteCount: Int { CoreSizes.signingPublicKey }

    public init(bytes: some Collection<UInt8>) throws(SphinxError) {
        guard bytes.count == Self.byteCount, let s = Bytes32(bytes: bytes) else { throw .wrongLength }
        storage = s
    }

    public init(hex: String) throws(SphinxError) {
        guard let b = [UInt8](hexString: hex) else { throw .invalidArgument }
        try self.init(bytes: b)
    }

    public var bytes: [UInt8] { storage.bytes }
    public var hex: String { storage.hex }
    public var description: String { storage.hex }

    /// Checks `signature` over `message`; throws `.badSignature` if it does not verify.
    public func verify(signature: some Collection<UInt8>, for message: some Collection<UInt8>) throws(SphinxError) {
        try Sphinx.initialize()
        let sig = Array(signature)
        let msg = Array(message)
        guard sig.count == CoreSizes.signature else { throw .badSignature }
        try storage.withUnsafeBytes { (pk) throws(SphinxError) in
            try check(lsx_verify(sig, msg, msg.count, pk.u8))
        }
    }

    public init(from decoder: any Decoder) throws {
        try self.init(hex: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(hex)
    }
}

/// An Ed25519 secret key, kept as its seed (what a key file holds); wiped when released.
public final class SigningKey: @unchecked Sendable {
    // Safe to share: written once in init, read-only afterwards, wiped and freed in deinit.
    private let secret: UnsafeMutableRawBufferPointer  // libsodium's form: seed || public key
    public let verifyingKey: VerifyingKey

    /// The sizes of a seed and of a signature, as the C core states them.
    public static var seedByteCount: Int { CoreSizes.signingSeed }
    public static var signatureByteCount: Int { CoreSizes.signature }

    /// A fresh key from the CSPRNG.
    public convenience init() {
        var seed = [UInt8](repeating: 0, count: CoreSizes.signingSeed)
        Sphinx.ensureInitialized()
        lsx_random(&seed, seed.count)
        try! self.init(seed: seed)
        lsx_wipe(&seed, seed.count)
    }

    /// The key with this seed (`seedByteCount` bytes).
    public init(seed: some Collection<UInt8>) throws(SphinxError) {
        guard seed.count == CoreSizes.signingSeed else { throw .wrongLength }
        try Sphinx.initialize()
        var seedBytes = Array(seed)
        defer { lsx_wipe(&seedBytes, seedBytes.count) }
        secret = .allocate(byteCount: CoreSizes.signingSecretKey, alignment: 16)
        var pk = [UInt8](repeating: 0, count: CoreSizes.signingPublicKey)
        let rc = lsx_sign_keypair(&pk, secret.u8, seedBytes)
        guard rc == 0 else {
            lsx_wipe(secret.baseAddress, secret.count)
            secret.deallocate()
            throw SphinxError(code: rc)
        }
        verifyingKey = try VerifyingKey(bytes: pk)
    }

    deinit {
        lsx_wipe(secret.baseAddress, secret.count)
        secret.deallocate()
    }

    /// The seed, for a key file. The caller must wipe it.
    public var seedBytes: [UInt8] {
        var seed = [UInt8](repeating: 0, count: CoreSizes.signingSeed)
        let rc = lsx_sign_seed(&seed, secret.u8)
        precondition(rc == 0, "a signing key made in init always has a seed")
        return seed
    }

    /// A detached signature (`signatureByteCount` bytes) over `message`.
    public func sign(_ message: some Collection<UInt8>) -> [UInt8] {
        let msg = Array(message)
        var sig = [UInt8](repeating: 0, count: CoreSizes.signature)
        let rc = lsx_sign(&sig, msg, msg.count, secret.u8)
        precondition(rc == 0, "signing with a valid key cannot fail")
        return sig
    }
}
