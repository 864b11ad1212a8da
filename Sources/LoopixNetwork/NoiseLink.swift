// What every Noise link shares: its framing on the wire, its settings, its errors, and the
// in-place sealing and opening of its transport messages (docs/noise.md, "Links").
import LoopixNoise
import NIOCore

/// What a link carries. Each kind has its own prologue, so that a handshake made for one kind
/// of link is refused on the other.
public enum LinkPurpose: String, Sendable, Hashable {
    /// Sphinx packets: client to provider, provider to mix, mix to mix, mix to provider.
    case packets = "loopix-link-v1 packets"
    /// The pull protocol between a client and its provider.
    case pulls = "loopix-link-v1 pulls"

    var prologue: [UInt8] { Array(rawValue.utf8) }
}

/// The sizes of a link's messages: `length (2, big-endian) | Noise message`, where a transport
/// message is the encrypted plaintext followed by its 16-byte tag.
public enum NoiseLinkFormat {
    public static let lengthPrefixBytes = 2
    public static let tagBytes = NoiseTransport.tagByteCount
    /// What sealing adds to a plaintext on the wire: the prefix and the tag.
    public static let overheadBytes = lengthPrefixBytes + tagBytes
    /// The longest Noise message (the specification's limit, which the 2-byte prefix can say).
    public static let maxMessageBytes = NoiseHandshake.maxMessageByteCount
    public static let maxPlaintextBytes = NoiseTransport.maxPlaintextByteCount
    /// XK's three messages, with empty payloads: nothing is sent before the keys are settled.
    static let handshakeMessageBytes: [Int] = (1...3).map { NoiseHandshake.xkMessageByteCount(message: $0, payloadCount: 0)! }
}

/// How long a link's handshake may take, when its keys change, and how old it may grow.
public struct LinkSettings: Sendable, Hashable {
    /// A handshake must complete within this many seconds, or the connection is closed.
    public var handshakeTimeout: Double = 5
    /// Each direction rekeys (Noise's REKEY) after this many messages; both ends count, so no
    /// signal is needed.
    public var rekeyInterval: UInt64 = 65_536
    /// Initiators replace a link older than this many seconds with a fresh handshake; responders
    /// cut one older than twice this.
    public var maxLinkAge: Double = 3600

    public init() {}
}

/// Why a link was refused or ended by its Noise layer; `cause` is the label it is counted under.
public enum NoiseLinkError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A handshake message was malformed or did not authenticate.
    case handshakeFailed
    /// Initiator: the responder's message did not authenticate under the key the directory
    /// lists for it (someone else answered, or the directory is stale).
    case responderKeyMismatch
    /// Initiator: the responder closed before the handshake ended (a responder that does not
    /// hold the key the directory lists cannot read the first message and closes).
    case closedDuringHandshake
    /// The handshake did not complete within `LinkSettings.handshakeTimeout`.
    case handshakeTimeout
    /// Responder: the initiator's static key is not one allowed to hold this link.
    case unknownPeer
    /// A transport message did not authenticate.
    case decryptionFailed
    /// A length prefix no message of this link may have.
    case badMessageLength(Int)
    /// Responder: too many unfinished handshakes from the initiator's address.
    case addressLimit
    /// Responder: too many links of the initiator's static key.
    case peerLimit
    /// The stream ended inside a message.
    case truncated(bytes: Int)

    public var cause: String {
        switch self {
        case .handshakeFailed: "handshake_failure"
        case .responderKeyMismatch: "responder_key_mismatch"
        case .closedDuringHandshake: "handshake_closed"
        case .handshakeTimeout: "handshake_timeout"
        case .unknownPeer: "unknown_static_key"
        case .decryptionFailed: "decryption_failure"
        case .badMessageLength: "bad_message_length"
        case .addressLimit: "address_limit"
        case .peerLimit: "peer_limit"
        case .truncated: "truncated_message"
        }
    }

    /// What went wrong, for a person reading a log or an error message.
    public var explanation: String {
        switch self {
        case .handshakeFailed: "a handshake message was malformed or did not authenticate"
        case .responderKeyMismatch:
            "the peer's answer does not authenticate under the key the directory lists for it: someone else answered, or the directory is stale"
        case .closedDuringHandshake:
            "the peer closed during the handshake: it does not hold the key the directory lists for it, or it does not accept this side's key"
        case .handshakeTimeout: "the handshake did not complete in time"
        case .unknownPeer: "the peer's key is not one allowed to hold this link"
        case .decryptionFailed: "a message did not authenticate"
        case .badMessageLength(let n): "a message length of \(n) bytes, which no message of this link has"
        case .addressLimit: "too many unfinished handshakes from one address"
        case .peerLimit: "too many links of one key"
        case .truncated(let n): "the stream ended \(n) bytes into a message"
        }
    }

    public var description: String { "link \(cause): \(explanation)" }

    /// Every cause a responder counts (for counters that start at zero).
    public static let responderCauses = ["handshake_failure", "handshake_closed", "handshake_timeout", "unknown_static_key", "decryption_failure",
                                         "bad_message_length", "address_limit", "peer_limit", "truncated_message"]
    /// Every cause an initiator counts.
    public static let initiatorCauses = ["handshake_failure", "responder_key_mismatch", "handshake_closed", "handshake_timeout",
                                         "decryption_failure", "bad_message_length", "truncated_message"]
}

/// Fired down the pipeline (as a user event) once the handshake is done and, on a responder,
/// the peer was let in.
public struct NoiseLinkEstablished {
    /// The peer's static key, authenticated by the handshake.
    public let peer: NoisePublicKey
    /// When the handler hands sealing over to its owner (`handsOverSending`): seal every write
    /// with it before writing; the handler then passes writes through untouched.
    public let sealer: NoiseLinkSealer?

    /// An event as the handler fires it (tests fire it on a pipeline without a handshake).
    public init(peer: NoisePublicKey, sealer: NoiseLinkSealer? = nil) {
        self.peer = peer
        self.sealer = sealer
    }
}

/// Seals what one side sends on a link: one transport message per call, appended to the
/// caller's buffer and encrypted in it, with the REKEY every `rekeyInterval` messages.
///
/// Not `Sendable`: it holds the sending cipher, used on the link's event loop only.
public final class NoiseLinkSealer {
    private let cipher: NoiseSendingCipher
    private let rekeyInterval: UInt64
    /// Messages sealed so far.
    public private(set) var sealed: UInt64 = 0

    init(cipher: NoiseSendingCipher, rekeyInterval: UInt64) {
        self.cipher = cipher
        self.rekeyInterval = max(1, rekeyInterval)
    }

    /// Appends one sealed message to `buffer`: its length prefix, then the plaintext that
    /// `writePlaintext` appends (at most `NoiseLinkFormat.maxPlaintextBytes`), encrypted where it
    /// lies, and its tag. Many messages can go into one buffer this way, one allocation and one
    /// write for all of them; a buffer nothing else holds is sealed without copying. When it
    /// throws, the buffer ends where it did before the call: no plaintext is left in it.
    public func appendSealed(to buffer: inout ByteBuffer, _ writePlaintext: (inout ByteBuffer) -> Void) throws(NoiseError) {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt16(0))
        writePlaintext(&buffer)
        let plaintext = buffer.writerIndex - start - NoiseLinkFormat.lengthPrefixBytes
        guard plaintext <= NoiseLinkFormat.maxPlaintextBytes else {
            buffer.moveWriterIndex(to: start)
            throw .wrongLength
        }
        buffer.writeRepeatingByte(0, count: NoiseLinkFormat.tagBytes)
        let cipher = self.cipher
        let offset = start + NoiseLinkFormat.lengthPrefixBytes - buffer.readerIndex
        let result: Result<Int, NoiseError> = buffer.withUnsafeMutableReadableBytes { bytes in
            Result { () throws(NoiseError) -> Int in
                try cipher.encrypt(UnsafeMutableRawBufferPointer(rebasing: bytes[offset...]), plaintextCount: plaintext)
            }
        }
        if case .failure(let error) = result {
            buffer.moveWriterIndex(to: start)
            throw error
        }
        let length = try result.get()
        buffer.setInteger(UInt16(length), at: start)
        sealed += 1
        if sealed % rekeyInterval == 0 { try cipher.rekey() }
    }
}

/// Opens what the peer sends, one transport message at a time, with the peer's REKEYs.
final class NoiseLinkOpener {
    private let cipher: NoiseReceivingCipher
    private let rekeyInterval: UInt64
    private(set) var opened: UInt64 = 0

    init(cipher: NoiseReceivingCipher, rekeyInterval: UInt64) {
        self.cipher = cipher
        self.rekeyInterval = max(1, rekeyInterval)
    }

    /// Decrypts the message in `bytes` in place; returns the plaintext's length.
    func open(_ bytes: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        let length = try cipher.decrypt(bytes)
        opened += 1
        if opened % rekeyInterval == 0 { try cipher.rekey() }
        return length
    }
}

/// Decides whether the holder of a static key may keep a link, once the handshake proved it
/// holds the key.
public protocol LinkAuthorizer: Sendable {
    /// True to let the peer in; answered on `eventLoop` (a lookup that touches the disk runs elsewhere).
    func authorize(_ peer: NoisePublicKey, on eventLoop: any EventLoop) -> EventLoopFuture<Bool>
}
