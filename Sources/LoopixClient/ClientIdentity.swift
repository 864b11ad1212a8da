// Who a client is: its Sphinx key, its pull-signing key, its mailbox and its provider.
import LoopixNetwork
import LoopixSphinx

/// The keys and ids of one client.
public struct ClientIdentity: Sendable {
    /// Unwraps the last layer of packets addressed to this client.
    public let sphinxKey: SecretKey
    /// Signs pull requests; the provider registers its public half.
    public let signingKey: SigningKey
    public let mailbox: SphinxAddress
    public let provider: NodeID

    public init(sphinxKey: SecretKey, signingKey: SigningKey, mailbox: SphinxAddress, provider: NodeID) {
        self.sphinxKey = sphinxKey
        self.signingKey = signingKey
        self.mailbox = mailbox
        self.provider = provider
    }

    /// A fresh identity at `provider`.
    public static func generate(provider: NodeID) -> ClientIdentity {
        ClientIdentity(sphinxKey: .generate(), signingKey: SigningKey(), mailbox: .random(), provider: provider)
    }

    /// What others write to.
    public var address: RecipientAddress {
        RecipientAddress(provider: provider, mailbox: mailbox, publicKey: sphinxKey.publicKey)
    }
}

/// The rates of a client's three Poisson streams and its pull interval.
public struct ClientRates: Sendable, Hashable, Codable {
    /// λP: packets per second from the send buffer (a drop cover packet when it is empty).
    public var payload: Double
    /// λL: loop packets per second.
    public var loop: Double
    /// λD: extra drop cover packets per second.
    public var drop: Double
    /// Seconds between pulls from the provider.
    public var pullInterval: Double

    public init(payload: Double = 2, loop: Double = 1, drop: Double = 1, pullInterval: Double = 1) {
        self.payload = payload
        self.loop = loop
        self.drop = drop
        self.pullInterval = pullInterval
    }

    /// λP + λL + λD: the rate of everything the client sends.
    public var total: Double { payload + loop + drop }
}

/// Why a client operation failed.
public enum ClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message does not fit one packet (fragmentation is not supported).
    case messageTooLong(bytes: Int, max: Int)
    /// The send buffer holds its maximum already.
    case sendBufferFull(capacity: Int)
    /// A node the client needs is not in the topology.
    case unknownNode(NodeID)
    /// The topology cannot carry a client's routes.
    case topology(String)
    /// A reply block starts at another provider than this client's, which would not accept it.
    case replyBlockForAnotherProvider(NodeID)
    case sphinx(SphinxError)
    case stopped

    public var description: String {
        switch self {
        case .messageTooLong(let bytes, let max): "message of \(bytes) bytes is longer than one packet carries (\(max) bytes)"
        case .sendBufferFull(let capacity): "the send buffer is full (\(capacity) messages)"
        case .unknownNode(let id): "node \(id.hex.prefix(16))… is not in the topology"
        case .topology(let why): "topology: \(why)"
        case .replyBlockForAnotherProvider(let id): "the reply block starts at provider \(id.hex.prefix(16))…, not at ours"
        case .sphinx(let e): e.description
        case .stopped: "the client is stopped"
        }
    }
}
