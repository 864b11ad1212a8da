// The errors of the Sphinx core, one case per C error code.
import CLoopixSphinx

/// Why a Sphinx operation failed; each case is one `lsx_error` of the C core.
public enum SphinxError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidArgument
    case invalidGeometry
    case wrongLength
    case badVersion
    case noncanonicalAlpha
    case lowOrderPoint
    case replay
    case badMAC
    case unknownFlag
    case reservedNonZero
    case payloadIntegrity
    case messageTooLong
    case invalidRoute
    case replayFilterFull
    case backendFailure
    case notInitialized
    case noMemory
    case badSignature
    /// Memory or a file that should hold a replay filter does not hold a valid one of that epoch.
    case replayFilterBadLayout
    /// A replay filter was left open in an earlier boot: it may have lost tags, so its key must not be used again.
    case replayFilterMayHaveLostTags
    case unknown(code: Int32)

    init(code: Int32) {
        switch code {
        case LSX_ERR_ARGUMENT.rawValue: self = .invalidArgument
        case LSX_ERR_GEOMETRY.rawValue: self = .invalidGeometry
        case LSX_ERR_LENGTH.rawValue: self = .wrongLength
        case LSX_ERR_VERSION.rawValue: self = .badVersion
        case LSX_ERR_NONCANONICAL_ALPHA.rawValue: self = .noncanonicalAlpha
        case LSX_ERR_LOW_ORDER.rawValue: self = .lowOrderPoint
        case LSX_ERR_REPLAY.rawValue: self = .replay
        case LSX_ERR_MAC.rawValue: self = .badMAC
        case LSX_ERR_FLAG.rawValue: self = .unknownFlag
        case LSX_ERR_RESERVED.rawValue: self = .reservedNonZero
        case LSX_ERR_PAYLOAD.rawValue: self = .payloadIntegrity
        case LSX_ERR_MESSAGE_TOO_LONG.rawValue: self = .messageTooLong
        case LSX_ERR_ROUTE.rawValue: self = .invalidRoute
        case LSX_ERR_REPLAY_FULL.rawValue: self = .replayFilterFull
        case LSX_ERR_BACKEND.rawValue: self = .backendFailure
        case LSX_ERR_NOT_INITIALIZED.rawValue: self = .notInitialized
        case LSX_ERR_NO_MEMORY.rawValue: self = .noMemory
        case LSX_ERR_SIGNATURE.rawValue: self = .badSignature
        case LSX_ERR_REPLAY_LAYOUT.rawValue: self = .replayFilterBadLayout
        case LSX_ERR_REPLAY_LOST.rawValue: self = .replayFilterMayHaveLostTags
        default: self = .unknown(code: code)
        }
    }

    /// The C core's stable name for this error ("bad_mac", "replay", ...), fit for a metric label.
    public var name: String {
        switch self {
        case .invalidArgument: "invalid_argument"
        case .invalidGeometry: "invalid_geometry"
        case .wrongLength: "wrong_length"
        case .badVersion: "bad_version"
        case .noncanonicalAlpha: "noncanonical_alpha"
        case .lowOrderPoint: "low_order_point"
        case .replay: "replay"
        case .badMAC: "bad_mac"
        case .unknownFlag: "unknown_flag"
        case .reservedNonZero: "reserved_nonzero"
        case .payloadIntegrity: "payload_integrity"
        case .messageTooLong: "message_too_long"
        case .invalidRoute: "invalid_route"
        case .replayFilterFull: "replay_filter_saturated"
        case .backendFailure: "backend_failure"
        case .notInitialized: "not_initialized"
        case .noMemory: "no_memory"
        case .badSignature: "bad_signature"
        case .replayFilterBadLayout: "replay_filter_bad_layout"
        case .replayFilterMayHaveLostTags: "replay_filter_may_have_lost_tags"
        case .unknown: "unknown_error"
        }
    }

    public var description: String { "Sphinx error: \(name)" }
}

/// Turns a C return code into `Void` or a typed error.
@inline(__always)
func check(_ code: Int32) throws(SphinxError) {
    if code != 0 { throw SphinxError(code: code) }
}
