// A client's packet logic without I/O: building real, drop and loop packets, and reading what arrives.
import Foundation
import LoopixNetwork
import LoopixRandom
import LoopixSphinx

/// A packet ready to go to the client's own provider.
public struct OutgoingPacket: Sendable {
    public enum Kind: String, Sendable { case real, drop, loop, reply }
    public let kind: Kind
    public let packet: [UInt8]
    /// For a message from the send buffer: the message, to queue again unbuilt if the packet
    /// cannot leave (a packet built now may be stale by the time the link is back).
    public private(set) var source: PendingMessage? = nil

    public init(kind: Kind, packet: [UInt8]) {
        self.kind = kind
        self.packet = packet
    }

    func with(source: PendingMessage) -> OutgoingPacket {
        var copy = self
        copy.source = source
        return copy
    }
}

/// A message waiting in the send buffer. It becomes a packet only when it leaves, so that it is
/// built with the keys of the epoch in which it is sent.
public enum PendingMessage: Sendable {
    case message(body: [UInt8], recipient: RecipientAddress, attachReplyBlock: Bool)
    /// A reply packet made through a reply block: the block fixed its route and keys when it was made.
    case reply([UInt8])
}

/// A message handed to the application.
public struct ReceivedMessage: Sendable {
    public let body: [UInt8]
    /// A reply block the sender attached: answer with `LoopixClient.reply(_:using:)`.
    public let replyBlock: ReplyBlock?
    /// Set when this is the answer to one of our reply blocks: the block's reply id.
    public let inReplyTo: SphinxAddress?
}

/// What one received packet turned out to be.
public enum ClientEvent: Sendable {
    case message(ReceivedMessage)
    case loopReturned(roundTrip: Double)
    /// Padding of a pull answer (or noise): it does not unwrap under our key.
    case dummy
    /// A packet seen before (for example re-sent after the provider restarted before our acknowledgement).
    case duplicate
    /// The replay state could not record it: it must not be acknowledged (it is read again later).
    case unrecorded
    /// It unwrapped but is not a message for us (tampered payload, unknown reply id, foreign format).
    case undecodable
}

/// Builds a client's packets over the network it sees at the moment and reads the packets it
/// pulls. Thread-safe.
public final class ClientCore: @unchecked Sendable {
    public let identity: ClientIdentity
    public let network: any NetworkView
    public let geometry: Geometry
    public let replayState: ClientReplayState
    private let processor: PacketProcessor
    // Safe to share: the dictionaries below are only touched under `lock`.
    private let lock = NSLock()
    private var pendingLoops: [SphinxAddress: Double] = [:]
    private var replySecrets: [SphinxAddress: ReplyBlockSecret] = [:]
    private var replyOrder: [SphinxAddress] = []
    /// At most this many reply blocks are remembered; the oldest is forgotten first.
    public let maxReplyBlocks: Int
    /// Loops older than this (seconds) count as lost and are forgotten.
    public let loopTimeout: Double

    /// A client of a network that never changes.
    public convenience init(identity: ClientIdentity, topology: Topology, maxReplyBlocks: Int = 1024,
                            loopTimeout: Double = 600) throws(ClientError) {
        try self.init(identity: identity, network: StaticNetwork(topology), maxReplyBlocks: maxReplyBlocks,
                      loopTimeout: loopTimeout)
    }

    /// A client of `network`, which must already show a topology: the geometry is fixed from it.
    public init(identity: ClientIdentity, network: any NetworkView, replayState: ClientReplayState = ClientReplayState(),
                maxReplyBlocks: Int = 1024, loopTimeout: Double = 600) throws(ClientError) {
        let topology = try network.current().topology
        _ = try Self.ownProvider(identity, topology)
        self.identity = identity
        self.network = network
        self.geometry = topology.parameters.geometry
        self.replayState = replayState
        self.maxReplyBlocks = maxReplyBlocks
        self.loopTimeout = loopTimeout
        // No filter inside the processor: replays are judged per epoch by `replayState`.
        do { processor = try PacketProcessor(geometry: geometry, secretKey: identity.sphinxKey, replayFilter: nil) }
        catch { throw .sphinx(error) }
    }

    /// Our provider's entry in `topology`, once the topology can carry a client's routes.
    private static func ownProvider(_ identity: ClientIdentity, _ topology: Topology) throws(ClientError) -> NodeDescriptor {
        guard let provider = topology.node(identity.provider), provider.role == .provider else {
            throw .unknownNode(identity.provider)
        }
        let layers = topology.parameters.layers
        guard topology.parameters.geometry.hops >= layers + 3 else {
            throw .topology("a client's route needs \(layers + 3) hops (provider, \(layers) layers, provider, client); the geometry has \(topology.parameters.geometry.hops)")
        }
        return provider
    }

    /// The topology to build with now and our provider in it.
    private func now() throws(ClientError) -> (epoch: UInt64, topology: Topology, provider: NodeDescriptor) {
        let (epoch, topology) = try network.current()
        guard topology.parameters.geometry == geometry else {
            throw .topology("the network's geometry changed to \(topology.parameters.geometry); this client runs \(geometry)")
        }
        return (epoch, topology, try Self.ownProvider(identity, topology))
    }

    /// The longest message body, with or without an attached reply block.
    public func maxMessageBytes(withReplyBlock: Bool) -> Int {
        MessageEnvelope.maxBody(geometry: geometry, withReplyBlock: withReplyBlock)
    }

    // MARK: building

    /// A per-hop delay drawn from Exp(µ), in microseconds, below the network's `maxHopDelay`
    /// (nodes drop a packet that asks for more).
    func drawDelay(_ topology: Topology) -> UInt32 {
        var generator = SystemRandomNumberGenerator()
        return topology.parameters.drawHopDelayMicroseconds(using: &generator)
    }

    /// RELAY commands from `entry` (a provider) through one mix per layer, ending with a RELAY to `exit`.
    private func hopsThroughMixes(_ topology: Topology, from entry: NodeDescriptor, to exit: NodeDescriptor) throws(ClientError)
        -> [RouteHop]
    {
        var generator = SystemRandomNumberGenerator()
        let mixes: [NodeDescriptor]
        do { mixes = try (1...topology.parameters.layers).map { l throws(TopologyError) in try topology.mix(inLayer: l, using: &generator) } }
        catch { throw .topology("\(error)") }
        let path = [entry] + mixes
        return path.indices.map { i in
            let next = i + 1 < path.count ? path[i + 1].id : exit.id
            return RouteHop(publicKey: path[i].publicKey, command: .relay(next: next, delayMicroseconds: drawDelay(topology)))
        }
    }

    /// The route to a recipient: our provider, the mixes, their provider (DELIVER), them (FINAL).
    private func route(to recipient: RecipientAddress, final id: SphinxAddress) throws(ClientError) -> [RouteHop] {
        let (_, topology, ownProvider) = try now()
        guard let exit = topology.node(recipient.provider), exit.role == .provider else {
            throw .unknownNode(recipient.provider)
        }
        return try hopsThroughMixes(topology, from: ownProvider, to: exit) + [
            RouteHop(publicKey: exit.publicKey, command: .deliver(mailbox: recipient.mailbox, delayMicroseconds: drawDelay(topology))),
            RouteHop(publicKey: recipient.publicKey, command: .final(messageID: id)),
        ]
    }

    private func create(_ route: [RouteHop], _ message: [UInt8]) throws(ClientError) -> [UInt8] {
        do { return try Sphinx.createPacket(geometry: geometry, route: route, message: message) } catch { throw .sphinx(error) }
    }

    /// A real message to `recipient`; with `attachReplyBlock`, it carries a block the recipient can answer with.
    public func makeMessage(_ body: [UInt8], to recipient: RecipientAddress, attachReplyBlock: Bool = false)
        throws(ClientError) -> OutgoingPacket
    {
        let max = maxMessageBytes(withReplyBlock: attachReplyBlock)
        guard body.count <= max else { throw .messageTooLong(bytes: body.count, max: max) }
        let block = attachReplyBlock ? try makeReplyBlock(for: recipient) : nil
        let route = try route(to: recipient, final: .random())
        return OutgoingPacket(kind: .real, packet: try create(route, MessageEnvelope.encode(body: body, replyBlock: block)))
    }

    /// A reply block back to us, for `recipient` to use: it starts at their provider, because
    /// clients hand packets only to their own provider.
    /// Its keys are the current epoch's: it can be used until that epoch's grace period ends.
    public func makeReplyBlock(for recipient: RecipientAddress) throws(ClientError) -> ReplyBlock {
        let (_, topology, ownProvider) = try now()
        guard let start = topology.node(recipient.provider), start.role == .provider else {
            throw .unknownNode(recipient.provider)
        }
        let replyID = SphinxAddress.random()
        var route = try hopsThroughMixes(topology, from: start, to: ownProvider)
        route.append(RouteHop(publicKey: ownProvider.publicKey,
                              command: .deliver(mailbox: identity.mailbox, delayMicroseconds: drawDelay(topology))))
        route.append(RouteHop(publicKey: identity.sphinxKey.publicKey, command: .final(messageID: replyID)))
        let made: (block: ReplyBlock, secret: ReplyBlockSecret)
        do { made = try Sphinx.createReplyBlock(geometry: geometry, route: route, firstHop: start.id) } catch { throw .sphinx(error) }
        lock.withLock {
            replySecrets[replyID] = made.secret
            replyOrder.append(replyID)
            while replyOrder.count > maxReplyBlocks { replySecrets[replyOrder.removeFirst()] = nil }
        }
        return made.block
    }

    /// The reply packet for a block someone sent us.
    public func makeReply(_ body: [UInt8], using block: ReplyBlock) throws(ClientError) -> OutgoingPacket {
        let max = maxMessageBytes(withReplyBlock: false)
        guard body.count <= max else { throw .messageTooLong(bytes: body.count, max: max) }
        guard block.firstHop == identity.provider else { throw .replyBlockForAnotherProvider(block.firstHop) }
        do {
            return OutgoingPacket(kind: .reply, packet: try block.makeReply(message: MessageEnvelope.encode(body: body, replyBlock: nil)))
        } catch { throw .sphinx(error) }
    }

    /// Drop cover traffic: through the mixes to a random provider, which discards it.
    public func makeDrop() throws(ClientError) -> OutgoingPacket {
        var generator = SystemRandomNumberGenerator()
        let (_, topology, ownProvider) = try now()
        guard let exit = topology.providers.randomElement(using: &generator) else { throw .topology("no provider") }
        let route = try hopsThroughMixes(topology, from: ownProvider, to: exit)
            + [RouteHop(publicKey: exit.publicKey, command: .drop(delayMicroseconds: drawDelay(topology)))]
        return OutgoingPacket(kind: .drop, packet: try create(route, []))
    }

    /// A loop: through the mixes back to our own mailbox, recognised by its id when pulled.
    public func makeLoop(now: Double) throws(ClientError) -> OutgoingPacket {
        let id = SphinxAddress.random()
        let packet = try create(route(to: identity.address, final: id), [])
        lock.withLock {
            pendingLoops = pendingLoops.filter { now - $0.value < loopTimeout }
            pendingLoops[id] = now
        }
        return OutgoingPacket(kind: .loop, packet: packet)
    }

    // MARK: receiving

    /// Reads one packet pulled from our mailbox.
    public func receive(_ packet: [UInt8], now: Double) -> ClientEvent {
        let unwrapped: (packet: [UInt8], processed: ProcessedPacket)
        do {
            unwrapped = try processor.process(packet)
        } catch {
            return .dummy
        }
        let epoch = (try? network.current().epoch) ?? 0
        switch (try? replayState.record(unwrapped.processed.tag, epoch: epoch)) ?? .full {
        case .new: break
        case .seen: return .duplicate
        case .full: return .unrecorded
        }
        guard case .final(let id) = unwrapped.processed.command else { return .undecodable }
        if let sent = lock.withLock({ pendingLoops.removeValue(forKey: id) }) {
            return .loopReturned(roundTrip: now - sent)
        }
        if let secret = lock.withLock({ replySecrets.removeValue(forKey: id) }) {
            guard let opened = try? secret.open(packet: unwrapped.packet),
                let (body, block) = MessageEnvelope.decode(opened, geometry: geometry)
            else { return .undecodable }
            return .message(ReceivedMessage(body: body, replyBlock: block, inReplyTo: id))
        }
        guard let range = unwrapped.processed.finalMessage,
            let (body, block) = MessageEnvelope.decode(Array(unwrapped.packet[range]), geometry: geometry)
        else { return .undecodable }
        return .message(ReceivedMessage(body: body, replyBlock: block, inReplyTo: nil))
    }

    /// Loops sent and not yet back.
    public var outstandingLoops: Int { lock.withLock { pendingLoops.count } }
}
