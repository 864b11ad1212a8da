// The fixed sizes of the packet format and its keys, asked of the C core instead of written again here.
import CLoopixSphinx

/// What the C core says each fixed-size field takes; read once, on first use.
enum CoreSizes {
    static let key = inline(lsx_key_bytes(), "key")
    static let address = inline(lsx_address_bytes(), "address")
    static let tag = inline(lsx_tag_bytes(), "replay tag")
    static let command = Int(lsx_command_bytes())
    static let replyKey = Int(lsx_reply_key_bytes())
    static let minHops = Int(lsx_min_hops())
    static let signingPublicKey = inline(lsx_sign_public_key_bytes(), "signing public key")
    static let signingSeed = Int(lsx_sign_seed_bytes())
    static let signingSecretKey = Int(lsx_sign_secret_key_bytes())
    static let signature = Int(lsx_signature_bytes())

    /// A size this module keeps inline in a `Bytes32`: a library that disagrees is a build of the wrong
    /// C core, not an input error.
    private static func inline(_ size: Int, _ what: StaticString) -> Int {
        precondition(size == Bytes32.byteCount, "the C core's \(what) size does not fit Bytes32")
        return size
    }
}
