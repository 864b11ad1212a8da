// How the Sphinx core's refusals are counted.
import LoopixSphinx

extension DropCause {
    /// The drop cause for a packet the core refused.
    init(_ error: SphinxError) {
        switch error {
        case .replay: self = .replay
        case .badMAC: self = .badMAC
        case .replayFilterFull: self = .replayFilterFull
        case .badVersion, .noncanonicalAlpha, .lowOrderPoint, .unknownFlag, .reservedNonZero, .wrongLength:
            self = .malformed
        default: self = .cryptoFailure
        }
    }
}
