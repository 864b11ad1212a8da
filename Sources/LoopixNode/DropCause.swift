// Every reason the node throws away a packet, frame or connection, each with its metric label.
import LoopixNetwork

/// Why something was dropped; `rawValue` is the `cause` label of `loopix_packets_dropped_total`.
public enum DropCause: String, Sendable, CaseIterable {
    // Wire: the frame is refused and its connection closed.
    case frameTooLong = "frame_too_long"
    case frameTooShort = "frame_too_short"
    case badVersion = "bad_version"
    case unknownFrameType = "unknown_frame_type"
    case badFrameLength = "bad_frame_length"
    case truncatedFrame = "truncated_frame"
    /// A peer did not complete a frame within the frame deadline (slow or stalled sender).
    case frameTimeout = "frame_timeout"
    /// An inbound connection beyond the limit (closed at once).
    case connectionLimit = "connection_limit"
    // Admission: refused before any crypto is spent.
    case aqm = "aqm"
    case queueFull = "queue_full"
    case noBuffer = "no_buffer"
    /// The sending peer already holds its share of the crypto queue while other peers wait.
    case fairShare = "fair_share"
    // Crypto: the Sphinx core refused the packet.
    case replay = "replay"
    case badMAC = "bad_mac"
    case replayFilterFull = "replay_filter_full"
    case malformed = "malformed"
    case cryptoFailure = "crypto_failure"
    // Routing and output.
    case unknownNextHop = "unknown_next_hop"
    /// The packet asks a hop for a delay above the network's `maxHopDelay`.
    case delayTooLong = "delay_too_long"
    case noDeliverySink = "no_delivery_sink"
    case unknownFinal = "unknown_final"
    case outboundQueueFull = "outbound_queue_full"
    case shutdown = "shutdown"

    /// Index into dense per-cause arrays (the position in `allCases`).
    var index: Int { Self.indices[self]! }

    private static let indices: [DropCause: Int] = Dictionary(
        uniqueKeysWithValues: allCases.enumerated().map { ($0.element, $0.offset) })
}

extension DropCause {
    /// The drop cause of a framing error.
    init(_ error: WireProtocolError) {
        switch error {
        case .frameTooLong: self = .frameTooLong
        case .frameTooShort: self = .frameTooShort
        case .unsupportedVersion: self = .badVersion
        case .unknownType: self = .unknownFrameType
        case .badBodyLength: self = .badFrameLength
        case .truncatedFrame: self = .truncatedFrame
        }
    }
}
