// The errors of the Noise core, one case per C error code it can return.
internal import CLoopixSphinx

/// Why a Noise operation failed; each case is one `lsx_error` of the C core.
public enum NoiseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The protocol name is not one this library implements.
    case unsupportedProtocol
    /// The keys given are not exactly those the pattern needs (a missing one, or one it would never check).
    case keysMismatch
    /// Not now: not this side's turn, the handshake is not complete, or an earlier failure ended it.
    case badState
    /// The cipher has used its last nonce; only a new handshake helps.
    case nonceExhausted
    /// A handshake or transport message did not authenticate.
    case authenticationFailed
    /// A message or buffer has a length the operation cannot take.
    case wrongLength
    /// A peer's key is of small order (the shared secret would be all zeros).
    case lowOrderPoint
    case invalidArgument
    case outOfMemory
    case backendFailure
    case unknown(code: Int32)

    private static let cases: [(NoiseError, lsx_error)] = [
        (.unsupportedProtocol, LSX_ERR_NOISE_PROTOCOL), (.keysMismatch, LSX_ERR_NOISE_KEYS),
        (.badState, LSX_ERR_NOISE_STATE), (.nonceExhausted, LSX_ERR_NONCE_EXHAUSTED),
        (.authenticationFailed, LSX_ERR_MAC), (.wrongLength, LSX_ERR_LENGTH), (.lowOrderPoint, LSX_ERR_LOW_ORDER),
        (.invalidArgument, LSX_ERR_ARGUMENT), (.outOfMemory, LSX_ERR_NO_MEMORY), (.backendFailure, LSX_ERR_BACKEND),
    ]

    init(code: Int32) {
        self = Self.cases.first { $0.1.rawValue == code }?.0 ?? .unknown(code: code)
    }

    /// The C error code.
    public var code: Int32 {
        if case .unknown(let code) = self { return code }
        return Self.cases.first { $0.0 == self }!.1.rawValue
    }

    /// The C core's stable name for this error ("bad_mac", "noise_bad_state", ...), fit for a metric label.
    public var name: String { String(cString: lsx_error_name(code)) }

    public var description: String { "Noise error: \(name)" }
}

/// Turns a C return code into `Void` or a typed error.
@inline(__always)
func check(_ code: Int32) throws(NoiseError) {
    if code != 0 { throw NoiseError(code: code) }
}
