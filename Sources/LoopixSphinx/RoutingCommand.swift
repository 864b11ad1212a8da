// What a hop is told to do with a packet: the flag, delay and address of a command.
import CLoopixSphinx

/// The routing command one hop reads from its slot of the header.
public enum RoutingCommand: Sendable, Hashable {
    /// Forward to the node `next` after the delay.
    case relay(next: SphinxAddress, delayMicroseconds: UInt32)
    /// Store in `mailbox` after the delay (a provider).
    case deliver(mailbox: SphinxAddress, delayMicroseconds: UInt32)
    /// Discard: drop cover traffic (a provider).
    case drop(delayMicroseconds: UInt32)
    /// This hop is the destination; `messageID` names a loop or a reply block.
    case final(messageID: SphinxAddress)

    /// The microseconds this hop holds the packet before acting on it.
    public var delayMicroseconds: UInt32 {
        switch self {
        case .relay(_, let d), .deliver(_, let d), .drop(let d): d
        case .final: 0
        }
    }

    var flag: UInt8 {
        switch self {
        case .relay: UInt8(LSX_FLAG_RELAY)
        case .deliver: UInt8(LSX_FLAG_DELIVER)
        case .drop: UInt8(LSX_FLAG_DROP)
        case .final: UInt8(LSX_FLAG_FINAL)
        }
    }

    var address: SphinxAddress {
        switch self {
        case .relay(let a, _), .deliver(let a, _), .final(let a): a
        case .drop: .zero
        }
    }

    /// The wire form, `lsx_command_bytes()` long.
    func encode(into out: UnsafeMutableRawBufferPointer) {
        let rc = address.storage.withUnsafeBytes { lsx_command_encode(out.u8, flag, delayMicroseconds, $0.u8) }
        precondition(rc == 0, "every RoutingCommand has a known flag")
    }

    /// Builds a command from the fields the C core decoded.
    @inline(__always)
    init(flag: UInt8, delay: UInt32, address: Bytes32) throws(SphinxError) {
        let a = SphinxAddress(storage: address)
        switch Int32(flag) {
        case LSX_FLAG_RELAY: self = .relay(next: a, delayMicroseconds: delay)
        case LSX_FLAG_DELIVER: self = .deliver(mailbox: a, delayMicroseconds: delay)
        case LSX_FLAG_DROP: self = .drop(delayMicroseconds: delay)
        case LSX_FLAG_FINAL: self = .final(messageID: a)
        default: throw .unknownFlag
        }
    }
}

/// One hop of a route: the node's public key and what it is to do.
public struct RouteHop: Sendable, Hashable {
    public var publicKey: PublicKey
    public var command: RoutingCommand

    public init(publicKey: PublicKey, command: RoutingCommand) {
        self.publicKey = publicKey
        self.command = command
    }
}
