// Node keys: public keys as values, secret keys in memory that is wiped on release.
import CLoopixSphinx

/// An X25519 public key (a node's Sphinx key).
public struct PublicKey: Sendable, Hashable, CustomStringConvertible {
    let storage: Bytes32

    /// The size of a key, public or secret, as the C core states it.
    public static var byteCount: Int { CoreSizes.key }

    public init(bytes: some Collection<UInt8>) throws(SphinxError) {
        guard bytes.count == Self.byteCount, let s = Bytes32(bytes: bytes) else { throw .wrongLength }
        storage = s
    }

    init(storage: Bytes32) { self.storage = storage }

    public var bytes: [UInt8] { storage.bytes }
    public var description: String { storage.hex }
}

/// An X25519 secret key. Its bytes live in one heap block that is zeroed when the key is released.
public final class SecretKey: @unchecked Sendable {
    // Safe to share: the buffer is written only in init and read-only afterwards, and freed in deinit.
    private let buffer: UnsafeMutableRawBufferPointer
    /// The matching public key.
    public let publicKey: PublicKey

    /// A fresh key from the system's CSPRNG.
    public static func generate() -> SecretKey {
        Sphinx.ensureInitialized()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: CoreSizes.key, alignment: 16)
        var pk = Bytes32()
        let rc = withUnsafeMutableBytes(of: &pk.words) { lsx_keypair($0.u8, buffer.u8) }
        precondition(rc == 0, "lsx_keypair cannot fail once the library is initialised")
        return SecretKey(buffer: buffer, publicKey: PublicKey(storage: pk))
    }

    /// A key from its `PublicKey.byteCount` bytes (for example, read from a key file).
    public convenience init(bytes: some Collection<UInt8>) throws(SphinxError) {
        guard bytes.count == CoreSizes.key else { throw .wrongLength }
        Sphinx.ensureInitialized()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: CoreSizes.key, alignment: 16)
        for (i, b) in bytes.enumerated() { buffer[i] = b }
        var pk = Bytes32()
        let rc = withUnsafeMutableBytes(of: &pk.words) { lsx_public_key($0.u8, buffer.u8) }
        guard rc == 0 else {
            lsx_wipe(buffer.baseAddress, buffer.count)
            buffer.deallocate()
            throw SphinxError(code: rc)
        }
        self.init(buffer: buffer, publicKey: PublicKey(storage: pk))
    }

    private init(buffer: UnsafeMutableRawBufferPointer, publicKey: PublicKey) {
        self.buffer = buffer
        self.publicKey = publicKey
    }

    deinit {
        lsx_wipe(buffer.baseAddress, buffer.count)
        buffer.deallocate()
    }

    /// Lends the secret bytes; do not let them escape the closure.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(buffer))
    }

    /// A copy of the secret bytes, for writing a key file. The caller must wipe it.
    public var exportedBytes: [UInt8] { Array(UnsafeRawBufferPointer(buffer)) }
}
