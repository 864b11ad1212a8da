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

    /// Each case's C error code: the one table both directions read.
    private static let codes: [(SphinxError, lsx_error)] = [
        (.invalidArgument, LSX_ERR_ARGUMENT), (.invalidGeometry, LSX_ERR_GEOMETRY), (.wrongLength, LSX_ERR_LENGTH),
        (.badVersion, LSX_ERR_VERSION), (.noncanonicalAlpha, LSX_ERR_NONCANONICAL_ALPHA), (.lowOrderPoint, LSX_ERR_LOW_ORDER),
        (.replay, LSX_ERR_REPLAY), (.badMAC, LSX_ERR_MAC), (.unknownFlag, LSX_ERR_FLAG), (.reservedNonZero, LSX_ERR_RESERVED),
        (.payloadIntegrity, LSX_ERR_PAYLOAD), (.messageTooLong, LSX_ERR_MESSAGE_TOO_LONG), (.invalidRoute, LSX_ERR_ROUTE),
        (.replayFilterFull, LSX_ERR_REPLAY_FULL), (.backendFailure, LSX_ERR_BACKEND), (.notInitialized, LSX_ERR_NOT_INITIALIZED),
        (.noMemory, LSX_ERR_NO_MEMORY), (.badSignature, LSX_ERR_SIGNATURE), (.replayFilterBadLayout, LSX_ERR_REPLAY_LAYOUT),
        (.replayFilterMayHaveLostTags, LSX_ERR_REPLAY_LOST),
    ]

    /// The error for a C return code (any negative code; one the core does not name is `.unknown`).
    public init(code: Int32) {
        self = Self.codes.first { $0.1.rawValue == code }?.0 ?? .unknown(code: code)
    }

    /// The C error code this error stands for.
    public var code: Int32 {
        if case .unknown(let code) = self { return code }
        return Self.codes.first { $0.0 == self }!.1.rawValue
    }

    /// The C core's stable name for this error ("bad_mac", "replay", ...), fit for a metric label.
    public var name: String { String(cString: lsx_error_name(code)) }

    public var description: String { "Sphinx error: \(name)" }
}

/// Turns a C return code into `Void` or a typed error.
@inline(__always)
func check(_ code: Int32) throws(SphinxError) {
    if code != 0 { throw SphinxError(code: code) }
}
