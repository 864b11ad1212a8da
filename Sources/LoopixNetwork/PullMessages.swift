// The messages of the client–provider pull protocol (docs/pull-protocol.md), as bytes.
import LoopixSphinx

/// Sizes of the pull protocol's fields.
public enum PullFormat {
    public static let handleBytes = 16
    /// The largest pull size a provider may configure.
    public static let maxPullSize = 1024
}

/// A malformed pull message.
public struct PullMessageError: Error, Hashable, Sendable {
    public let reason: String
}

/// Client → provider: "give me my mailbox". The channel's handshake authenticated the client's
/// static key; the provider answers only if the mailbox is registered to that key.
public struct PullRequest: Sendable, Hashable {
    public var mailbox: SphinxAddress

    public init(mailbox: SphinxAddress) {
        self.mailbox = mailbox
    }

    public static let bytes = SphinxAddress.byteCount

    public var encoded: [UInt8] { mailbox.bytes }

    public init(decoding body: some Collection<UInt8>) throws(PullMessageError) {
        let b = Array(body)
        guard b.count == Self.bytes else { throw PullMessageError(reason: "pull request of \(b.count) bytes") }
        mailbox = try! SphinxAddress(bytes: b)
    }
}

/// Provider → client: exactly K slots, each a handle and a packet; real packets oldest first,
/// then dummies. Handles are random, so an observer cannot tell the two apart.
public struct PullResponse: Sendable, Hashable {
    public struct Slot: Sendable, Hashable {
        public var handle: [UInt8]
        public var packet: [UInt8]
        public init(handle: [UInt8], packet: [UInt8]) {
            self.handle = handle
            self.packet = packet
        }
    }

    public var slots: [Slot]

    public init(slots: [Slot]) { self.slots = slots }

    public static func bytes(pullSize: Int, packetBytes: Int) -> Int {
        2 + pullSize * (PullFormat.handleBytes + packetBytes)
    }

    public var encoded: [UInt8] {
        var out = [UInt8(slots.count >> 8), UInt8(slots.count & 0xff)]
        for s in slots { out += s.handle + s.packet }
        return out
    }

    /// Decodes a response that must hold exactly `pullSize` slots of `packetBytes`-byte packets.
    public init(decoding body: some Collection<UInt8>, pullSize: Int, packetBytes: Int) throws(PullMessageError) {
        let b = Array(body)
        guard b.count == Self.bytes(pullSize: pullSize, packetBytes: packetBytes) else {
            throw PullMessageError(reason: "pull response of \(b.count) bytes")
        }
        let count = Int(b[0]) << 8 | Int(b[1])
        guard count == pullSize else { throw PullMessageError(reason: "pull response with \(count) slots") }
        let slot = PullFormat.handleBytes + packetBytes
        slots = (0..<count).map { i in
            let start = 2 + i * slot
            return Slot(handle: Array(b[start..<(start + PullFormat.handleBytes)]),
                        packet: Array(b[(start + PullFormat.handleBytes)..<(start + slot)]))
        }
    }
}

/// Client → provider: these handles were received; the provider may delete what they name.
public struct PullAcknowledgement: Sendable, Hashable {
    public var handles: [[UInt8]]

    public init(handles: [[UInt8]]) { self.handles = handles }

    public static func maxBytes(pullSize: Int) -> Int { 2 + pullSize * PullFormat.handleBytes }

    public var encoded: [UInt8] {
        [UInt8(handles.count >> 8), UInt8(handles.count & 0xff)] + handles.flatMap { $0 }
    }

    public init(decoding body: some Collection<UInt8>, pullSize: Int) throws(PullMessageError) {
        let b = Array(body)
        guard b.count >= 2 else { throw PullMessageError(reason: "acknowledgement too short") }
        let count = Int(b[0]) << 8 | Int(b[1])
        guard count <= pullSize, b.count == 2 + count * PullFormat.handleBytes else {
            throw PullMessageError(reason: "acknowledgement of \(count) handles in \(b.count) bytes")
        }
        handles = (0..<count).map { Array(b[(2 + $0 * PullFormat.handleBytes)..<(2 + ($0 + 1) * PullFormat.handleBytes)]) }
    }
}

/// Provider → client, before closing: why a request was refused.
public enum PullRefusal: UInt8, Sendable, Hashable, CaseIterable {
    case malformed = 1
    case unauthenticated = 2
    case unavailable = 3
    case protocolViolation = 4
    /// The client pulls more often than the provider's rate limit allows.
    case rateLimited = 5

    /// The cause label under which the provider counts it.
    public var cause: String {
        switch self {
        case .malformed: "pull_malformed"
        case .unauthenticated: "pull_unauthenticated"
        case .unavailable: "pull_unavailable"
        case .protocolViolation: "pull_protocol_violation"
        case .rateLimited: "pull_rate_limited"
        }
    }
}
