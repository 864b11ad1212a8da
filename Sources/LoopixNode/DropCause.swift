// Every reason the node throws away a packet, frame or connection, each with its metric label.

/// Why something was dropped; `rawValue` is the `cause` label of `loopix_packets_dropped_total`.
public enum DropCause: String, Sendable, CaseIterable {
    // Wire: the frame is refused and its connection closed.
    case frameTooLong = "frame_too_long"
    case frameTooShort = "frame_too_short"
    case badVersion = "bad_version"
    case unknownFrameType = "unknown_frame_type"
    case badFrameLength = "bad_frame_length"
    /// A peer did not complete a frame within the frame deadline (slow or stalled sender).
    case frameTimeout = "frame_timeout"
    // Admission: refused before any crypto is spent.
    case aqm = "aqm"
    case queueFull = "queue_full"
    case noBuffer = "no_buffer"
    // Crypto: the Sphinx core refused the packet.
    case replay = "replay"
    case badMAC = "bad_mac"
    case replayFilterFull = "replay_filter_full"
    case malformed = "malformed"
    case cryptoFailure = "crypto_failure"
    // Routing and output.
    case unknownNextHop = "unknown_next_hop"
    case noDeliverySink = "no_delivery_sink"
    case unknownFinal = "unknown_final"
    case outboundQueueFull = "outbound_queue_full"
    case shutdown = "shutdown"

    /// Index into dense per-cause arrays.
    @inlinable var index: Int {
        switch self {
        case .frameTooLong: 0
        case .frameTooShort: 1
        case .badVersion: 2
        case .unknownFrameType: 3
        case .badFrameLength: 4
        case .frameTimeout: 5
        case .aqm: 6
        case .queueFull: 7
        case .noBuffer: 8
        case .replay: 9
        case .badMAC: 10
        case .replayFilterFull: 11
        case .malformed: 12
        case .cryptoFailure: 13
        case .unknownNextHop: 14
        case .noDeliverySink: 15
        case .unknownFinal: 16
        case .outboundQueueFull: 17
        case .shutdown: 18
        }
    }
}
