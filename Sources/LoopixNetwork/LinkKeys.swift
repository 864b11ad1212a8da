// The static keys links authenticate with: the X25519 form of each node's and client's Ed25519
// identity, so that the key the directory lists (or a provider registers) is the link key too.
import LoopixNoise
import LoopixSphinx
import NIOConcurrencyHelpers

extension SigningKey {
    /// This identity's link key (its X25519 form), wiped when released.
    public func linkKey() -> NoiseSecretKey {
        var seed = seedBytes
        defer { Sphinx.wipe(&seed) }
        // A seed of the right length always converts.
        return try! NoiseSecretKey(ed25519Seed: seed)
    }
}

extension VerifyingKey {
    /// The X25519 key links of this identity authenticate with; nil for a key that is no point
    /// of the prime-order group (no honest key), which no link can use.
    public var linkKey: NoisePublicKey? { LinkKeyCache.shared.key(for: self) }
}

extension NodeDescriptor {
    /// The node's link key: the X25519 form of its identity (`signingKey`); nil without one.
    public var linkKey: NoisePublicKey? { signingKey?.linkKey }
}

/// Conversions already made: each costs a square root and a subgroup check (tens of µs), and
/// every epoch's document names the same identities again.
final class LinkKeyCache: Sendable {
    static let shared = LinkKeyCache()
    private static let limit = 16_384
    private let keys = NIOLockedValueBox<[VerifyingKey: NoisePublicKey?]>([:])

    func key(for identity: VerifyingKey) -> NoisePublicKey? {
        if let known = keys.withLockedValue({ $0[identity] }) { return known }
        let key = try? NoisePublicKey(ed25519PublicKey: identity.bytes)
        keys.withLockedValue {
            if $0.count >= Self.limit { $0.removeAll() }
            $0[identity] = .some(key)
        }
        return key
    }
}
