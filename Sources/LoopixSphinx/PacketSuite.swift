// The packet suites of the C core: what a network's packets look like and what a hop computes.
import CLoopixSphinx

/// A packet suite. A network runs one; its `Geometry` names it, and every size follows from it.
public enum PacketSuite: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// docs/packet-format.md: a blinded X25519 group element, two X25519 per hop.
    case v1
    /// docs/packet-format-kem.md: one X25519 KEM encapsulation per hop, 32 more bytes per hop.
    case kemX25519

    var c: lsx_suite {
        switch self {
        case .v1: LSX_SUITE_V1
        case .kemX25519: LSX_SUITE_KEM_X25519
        }
    }

    /// The C core's stable name ("sphinx-v1", "kem-x25519"), as the test vector files spell it.
    public var name: String { String(cString: lsx_suite_name(c)) }

    /// The version byte that opens this suite's packets.
    public var formatVersion: UInt8 { lsx_suite_format_version(c) }

    /// The suite the C core calls `name`, if any.
    public init?(name: String) {
        guard let suite = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = suite
    }

    /// The suite a command line names: its stable name, or the short `v1` or `kem`.
    public init?(argument: String) {
        switch argument {
        case "v1": self = .v1
        case "kem": self = .kemX25519
        default: self.init(name: argument)
        }
    }

    public var description: String { name }
}
