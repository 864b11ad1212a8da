// Client packet logic over an in-memory network of real Sphinx nodes: routes, replies, loops, drops.
import LoopixClient
import LoopixNetwork
import LoopixSphinx
import Testing

/// Real keys for a small topology, and a router that runs packets through the nodes' processors.
struct MemoryNetwork {
    let topology: Topology
    let processors: [NodeID: PacketProcessor]

    init(layers: Int = 3, mixesPerLayer: Int = 2, providers: Int = 2) throws {
        var nodes: [NodeDescriptor] = []
        var processors: [NodeID: PacketProcessor] = [:]
        func add(_ role: NodeRole, layer: Int) throws {
            let key = SecretKey.generate()
            let id = NodeID.random()
            nodes.append(NodeDescriptor(id: id, role: role, layer: layer, host: "127.0.0.1", port: 1, publicKey: key.publicKey))
            processors[id] = try PacketProcessor(geometry: .standard, secretKey: key, replayFilter: ReplayFilter(capacity: 10_000))
        }
        for _ in 0..<providers { try add(.provider, layer: 0) }
        for l in 1...layers { for _ in 0..<mixesPerLayer { try add(.mix, layer: l) } }
        topology = Topology(parameters: NetworkParameters(layers: layers), nodes: nodes)
        try topology.validate()
        self.processors = processors
    }

    enum Outcome { case delivered(mailbox: SphinxAddress, packet: [UInt8]), dropped(at: NodeID) }

    /// Runs a packet from `entry` until a provider delivers or drops it; returns the path taken.
    func route(_ packet: [UInt8], entry: NodeID) throws -> (Outcome, [NodeID]) {
        var at = entry
        var current = packet
        var path: [NodeID] = []
        while true {
            path.append(at)
            let (next, processed) = try processors[at]!.process(current)
            current = next
            switch processed.command {
            case .relay(let n, _): at = n
            case .deliver(let mailbox, _): return (.delivered(mailbox: mailbox, packet: current), path)
            case .drop: return (.dropped(at: at), path)
            case .final: Issue.record("a node got a FINAL command"); return (.dropped(at: at), path)
            }
        }
    }
}

@Suite("Client core")
struct ClientCoreTests {
    @Test("a message goes A's provider → one mix per layer → B's provider → B's mailbox, and B reads it")
    func messageRoute() throws {
        let net = try MemoryNetwork()
        let providers = net.topology.providers
        let a = try ClientCore(identity: .generate(provider: providers[0].id), topology: net.topology)
        let b = try ClientCore(identity: .generate(provider: providers[1].id), topology: net.topology)
        let out = try a.makeMessage(Array("hello B".utf8), to: b.identity.address)
        let (outcome, path) = try net.route(out.packet, entry: providers[0].id)
        #expect(path.count == 5)
        #expect(path.first == providers[0].id && path.last == providers[1].id)
        for (i, id) in path.dropFirst().dropLast().enumerated() { #expect(net.topology.node(id)?.layer == i + 1) }
        guard case .delivered(let mailbox, let stored) = outcome else { Issue.record("not delivered"); return }
        #expect(mailbox == b.identity.mailbox)
        guard case .message(let m) = b.receive(stored, now: 0) else { Issue.record("B could not read it"); return }
        #expect(m.body == Array("hello B".utf8) && m.replyBlock == nil && m.inReplyTo == nil)
        if case .duplicate = b.receive(stored, now: 0) {} else { Issue.record("a second copy must be a duplicate") }
        if case .dummy = b.receive(Sphinx.createDummy(geometry: .standard), now: 0) {} else { Issue.record("a dummy must read as one") }
    }

    @Test("a reply block attached by A lets B answer; A reads the answer once")
    func replyRoundTrip() throws {
        let net = try MemoryNetwork()
        let providers = net.topology.providers
        let a = try ClientCore(identity: .generate(provider: providers[0].id), topology: net.topology)
        let b = try ClientCore(identity: .generate(provider: providers[1].id), topology: net.topology)
        let first = try a.makeMessage(Array("ping".utf8), to: b.identity.address, attachReplyBlock: true)
        guard case (.delivered(_, let toB), _) = try net.route(first.packet, entry: providers[0].id),
            case .message(let m) = b.receive(toB, now: 0), let block = m.replyBlock
        else { Issue.record("no reply block arrived"); return }
        #expect(m.body == Array("ping".utf8))
        #expect(throws: ClientError.self) { try a.makeReply([1], using: block) }  // A's provider is not the block's start
        let reply = try b.makeReply(Array("pong".utf8), using: block)
        guard case (.delivered(let mailbox, let toA), _) = try net.route(reply.packet, entry: providers[1].id) else {
            Issue.record("reply not delivered"); return
        }
        #expect(mailbox == a.identity.mailbox)
        guard case .message(let answer) = a.receive(toA, now: 0) else { Issue.record("A could not open the reply"); return }
        #expect(answer.body == Array("pong".utf8) && answer.inReplyTo != nil)
        // A second use of the block is refused by B's provider's replay filter.
        let again = try b.makeReply(Array("again".utf8), using: block)
        #expect(throws: SphinxError.replay) { try net.route(again.packet, entry: providers[1].id) }
    }

    @Test("loops come back to the sender with their round trip; drops end at a provider")
    func loopsAndDrops() throws {
        let net = try MemoryNetwork()
        let a = try ClientCore(identity: .generate(provider: net.topology.providers[0].id), topology: net.topology)
        let loop = try a.makeLoop(now: 10)
        #expect(a.outstandingLoops == 1)
        guard case (.delivered(let mailbox, let back), let path) = try net.route(loop.packet, entry: a.identity.provider) else {
            Issue.record("loop not delivered"); return
        }
        #expect(mailbox == a.identity.mailbox && path.count == 5)
        guard case .loopReturned(let rtt) = a.receive(back, now: 12.5) else { Issue.record("loop not recognised"); return }
        #expect(rtt == 2.5 && a.outstandingLoops == 0)
        let drop = try a.makeDrop()
        guard case (.dropped(let at), let dropPath) = try net.route(drop.packet, entry: a.identity.provider) else {
            Issue.record("drop was delivered"); return
        }
        #expect(net.topology.node(at)?.role == .provider && dropPath.count == 5)
    }

    @Test("messages longer than one packet are refused with the limit; addresses print and parse")
    func limitsAndAddresses() throws {
        let net = try MemoryNetwork()
        let a = try ClientCore(identity: .generate(provider: net.topology.providers[0].id), topology: net.topology)
        let max = a.maxMessageBytes(withReplyBlock: false)
        #expect(max == Geometry.standard.maxMessageBytes - 1)
        _ = try a.makeMessage([UInt8](repeating: 7, count: max), to: a.identity.address)
        #expect(throws: ClientError.messageTooLong(bytes: max + 1, max: max)) {
            try a.makeMessage([UInt8](repeating: 7, count: max + 1), to: a.identity.address)
        }
        let withBlock = a.maxMessageBytes(withReplyBlock: true)
        #expect(throws: ClientError.messageTooLong(bytes: withBlock + 1, max: withBlock)) {
            try a.makeMessage([UInt8](repeating: 7, count: withBlock + 1), to: a.identity.address, attachReplyBlock: true)
        }
        let text = a.identity.address.description
        #expect(text.hasPrefix("loopix1:"))
        #expect(RecipientAddress(text) == a.identity.address)
        #expect(RecipientAddress("loopix1:zz") == nil)
        #expect(throws: ClientError.self) {
            try ClientCore(identity: .generate(provider: .random()), topology: net.topology)
        }
    }
}
