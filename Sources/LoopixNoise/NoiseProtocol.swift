// Names of the Noise protocols this library runs: one suite, many patterns.
internal import CLoopixSphinx

/// A Noise protocol of this library's suite, `Noise_<pattern>_25519_ChaChaPoly_BLAKE2b`.
public struct NoiseProtocol: Sendable, Hashable, CustomStringConvertible {
    /// The full name, as hashed into every handshake.
    public let name: String

    /// The protocol of a pattern with its modifiers, such as "XK", "X1K1" or "XKpsk3".
    public init(pattern: String) throws(NoiseError) {
        try self.init(name: "Noise_\(pattern)_25519_ChaChaPoly_BLAKE2b")
    }

    /// A full protocol name; throws `.unsupportedProtocol` for another suite or an unknown pattern or modifier.
    public init(name: String) throws(NoiseError) {
        try check(lsx_noise_protocol_check(name))
        self.name = name
    }

    private init(known name: String) { self.name = name }

    /// What every link of the network runs: the initiator knows the responder's key, sends its own encrypted.
    public static let xk = NoiseProtocol(known: "Noise_XK_25519_ChaChaPoly_BLAKE2b")
    public static let nn = NoiseProtocol(known: "Noise_NN_25519_ChaChaPoly_BLAKE2b")
    public static let nk = NoiseProtocol(known: "Noise_NK_25519_ChaChaPoly_BLAKE2b")
    public static let kk = NoiseProtocol(known: "Noise_KK_25519_ChaChaPoly_BLAKE2b")
    public static let ik = NoiseProtocol(known: "Noise_IK_25519_ChaChaPoly_BLAKE2b")
    public static let xx = NoiseProtocol(known: "Noise_XX_25519_ChaChaPoly_BLAKE2b")
    public static let xkPSK3 = NoiseProtocol(known: "Noise_XKpsk3_25519_ChaChaPoly_BLAKE2b")
    public static let ikPSK2 = NoiseProtocol(known: "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b")

    public var description: String { name }
}
