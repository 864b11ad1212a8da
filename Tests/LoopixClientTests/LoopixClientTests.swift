// The running client: messages arrive as an AsyncSequence, loops return, and the send times form a Poisson process.
import Foundation
import LoopixClient
import LoopixRandom
import LoopixNetwork
import LoopixSphinx
import LoopixTestSupport
import NIOConcurrencyHelpers
import NIOPosix
import Testing

/// One event loop thread for the clients of a test (their timers and packet building).
let clientLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

@Suite("Client runtime")
struct LoopixClientTests {
    @Test("A's messages reach B's AsyncSequence in order; loops return; drop cover is sent when idle")
    func messagesAndLoops() async throws {
        let net = try MemoryNetwork()
        let office = MemoryPostOffice(network: net)
        let ia = ClientIdentity.generate(provider: net.topology.providers[0].id)
        let ib = ClientIdentity.generate(provider: net.topology.providers[1].id)
        let rates = ClientRates(payload: 50, loop: 20, drop: 10, pullInterval: 0.05)
        let a = LoopixClient(core: try ClientCore(identity: ia, topology: net.topology), rates: rates,
                             transport: MemoryTransport(office: office, identity: ia), eventLoop: clientLoops.next())
        let b = LoopixClient(core: try ClientCore(identity: ib, topology: net.topology), rates: rates,
                             transport: MemoryTransport(office: office, identity: ib), eventLoop: clientLoops.next())
        for i in 0..<5 { try a.send(Array("message \(i)".utf8), to: b.address) }
        a.start()
        b.start()
        var received: [String] = []
        for await m in b.messages {
            received.append(String(decoding: m.body, as: UTF8.self))
            if received.count == 5 { break }
        }
        #expect(received == (0..<5).map { "message \($0)" })
        try await Task.sleep(for: .milliseconds(500))
        await a.stop()
        await b.stop()
        let s = a.statistics
        #expect(s.sentReal == 5)
        #expect(s.sentDrop > 0 && s.sentLoop > 0)
        #expect(s.loopsReturned > 0, "loops must come back through the network")
        // A round trip is positive and shorter than the client's whole life (no stale or foreign loop).
        #expect(s.loopRoundTrips.allSatisfy { $0 > 0 && $0 < a.now })
        // Every pull answer holds exactly K packets, whatever they turn out to be.
        let seen = s.messagesReceived + s.loopsReturned + s.dummiesReceived + s.duplicatesReceived + s.undecodable
        #expect(seen == s.pulls * office.pullSize)
        #expect(throws: ClientError.stopped) { try a.send([1], to: b.address) }
    }

    @Test("the intervals between outgoing packets are exponential with the total rate, sending or not",
          arguments: [false, true])
    func poissonIntervals(applicationSends: Bool) async throws {
        let net = try MemoryNetwork()
        let office = MemoryPostOffice(network: net)
        let identity = ClientIdentity.generate(provider: net.topology.providers[0].id)
        let rates = ClientRates(payload: 40, loop: 20, drop: 20, pullInterval: 0)
        let times = NIOLockedValueBox([Double]())
        let client = LoopixClient(core: try ClientCore(identity: identity, topology: net.topology), rates: rates,
                                  transport: MemoryTransport(office: office, identity: identity),
                                  eventLoop: clientLoops.next(), sendObserver: { _, t in times.withLockedValue { $0.append(t) } })
        if applicationSends {
            for i in 0..<60 { try client.send(Array("m\(i)".utf8), to: identity.address) }
        }
        client.start()
        try await Task.sleep(for: .seconds(4))
        await client.stop()
        let sorted = times.withLockedValue { $0 }.sorted()
        let intervals = zip(sorted.dropFirst(), sorted).map { $0 - $1 }
        #expect(intervals.count > 150)
        let (d, p) = ksExponential(intervals, rate: rates.total)
        // A constant-rate or bursty sender fails this; a true Poisson sender fails it 0.1 % of the time.
        #expect(p > 0.001, "KS D = \(d), p = \(p) over \(intervals.count) intervals")
        if applicationSends { #expect(client.statistics.sentReal > 0) }
    }

    @Test("the KS check itself rejects non-exponential intervals")
    func ksRejectsConstantRate() {
        let constant = [Double](repeating: 1.0 / 80, count: 300)
        #expect(ksExponential(constant, rate: 80).p < 0.001)
        var g = SystemRandomNumberGenerator()
        let exponential = (0..<300).map { _ in g.exponential(rate: 80) }
        #expect(ksExponential(exponential, rate: 80).d < 0.15)
    }
}

/// A link that fails its first `failures` sends.
final class FlakyTransport: ClientTransport, @unchecked Sendable {
    let inner: MemoryTransport
    private let remaining = NIOLockedValueBox(0)
    init(inner: MemoryTransport, failures: Int) {
        self.inner = inner
        remaining.withLockedValue { $0 = failures }
    }
    func send(_ packet: [UInt8]) async throws {
        let fail = remaining.withLockedValue { r -> Bool in
            defer { r = max(0, r - 1) }
            return r > 0
        }
        if fail { throw PullFailure.connectionClosed }
        try await inner.send(packet)
    }
    func pull(_ receive: @Sendable ([[UInt8]]) async -> [Bool]) async throws { try await inner.pull(receive) }
    func close() async {}
}

@Suite("Client runtime, broken links")
struct ClientLinkFailureTests {
    @Test("a real message whose send fails is sent again later, not lost")
    func requeueOnFailure() async throws {
        let net = try MemoryNetwork()
        let office = MemoryPostOffice(network: net)
        let ia = ClientIdentity.generate(provider: net.topology.providers[0].id)
        let ib = ClientIdentity.generate(provider: net.topology.providers[1].id)
        let a = LoopixClient(core: try ClientCore(identity: ia, topology: net.topology),
                             rates: ClientRates(payload: 50, loop: 0, drop: 0, pullInterval: 0),
                             transport: FlakyTransport(inner: MemoryTransport(office: office, identity: ia), failures: 3),
                             eventLoop: clientLoops.next())
        let b = LoopixClient(core: try ClientCore(identity: ib, topology: net.topology),
                             rates: ClientRates(payload: 0, loop: 0, drop: 0, pullInterval: 0.05),
                             transport: MemoryTransport(office: office, identity: ib), eventLoop: clientLoops.next())
        try a.send(Array("survives".utf8), to: b.address)
        a.start()
        b.start()
        let m = await next(of: b.messages)
        #expect(m?.body == Array("survives".utf8))
        #expect(a.statistics.sendFailures >= 1)
        await a.stop()
        await b.stop()
    }

    @Test("while there is no document for the epoch, queued messages wait instead of being dropped")
    func messagesWaitForTheDocument() async throws {
        let net = try MemoryNetwork()
        let office = MemoryPostOffice(network: net)
        let ia = ClientIdentity.generate(provider: net.topology.providers[0].id)
        let ib = ClientIdentity.generate(provider: net.topology.providers[1].id)
        let gap = DocumentGap(net.topology)
        let a = LoopixClient(core: try ClientCore(identity: ia, network: gap),
                             rates: ClientRates(payload: 50, loop: 0, drop: 0, pullInterval: 0),
                             transport: MemoryTransport(office: office, identity: ia), eventLoop: clientLoops.next())
        let b = LoopixClient(core: try ClientCore(identity: ib, topology: net.topology),
                             rates: ClientRates(payload: 0, loop: 0, drop: 0, pullInterval: 0.05),
                             transport: MemoryTransport(office: office, identity: ib), eventLoop: clientLoops.next())
        gap.missing.withLockedValue { $0 = true }
        for i in 0..<3 { try a.send(Array("late \(i)".utf8), to: b.address) }
        a.start()
        b.start()
        // About 15 ticks pass without a document: nothing is sent, nothing is given up.
        try await Task.sleep(for: .milliseconds(300))
        #expect(a.statistics.sentReal == 0 && a.statistics.unbuildable == 0)
        gap.missing.withLockedValue { $0 = false }
        var received: [String] = []
        for _ in 0..<3 {
            guard let m = await next(of: b.messages, within: 10) else { break }
            received.append(String(decoding: m.body, as: UTF8.self))
        }
        #expect(received == (0..<3).map { "late \($0)" })
        await a.stop()
        await b.stop()
    }
}

/// A directory view whose current document can go missing (late at a boundary).
final class DocumentGap: NetworkView, Sendable {
    let topology: Topology
    let missing = NIOLockedValueBox(false)
    init(_ topology: Topology) { self.topology = topology }
    func current() throws(ClientError) -> (epoch: UInt64, topology: Topology) {
        if missing.withLockedValue({ $0 }) { throw .topology("no directory document for epoch 1") }
        return (1, topology)
    }
}
