// The directory authority: which descriptors it takes, what it publishes for each epoch and
// when, that a restart keeps serials increasing; and a follower over real HTTP that refuses
// every kind of bad document while keeping the last good one.
import Foundation
import LoopixDirectory
import LoopixNetwork
import LoopixSphinx
import LoopixTestSupport
import Metrics
import NIOConcurrencyHelpers
import NIOPosix
import Prometheus
import Testing

/// An authority over a temporary folder, with a 60-second schedule starting at a fixed instant,
/// and node identities to register.
struct AuthorityFixture {
    let folder = makeTemporaryDirectory("authority")
    let key = SigningKey()
    let schedule = EpochSchedule(genesis: 1_700_000_000, length: 60)
    var parameters: NetworkParameters
    var registryPath: String { folder.appendingPathComponent("registry.json").path }

    init(layers: Int = 2) {
        parameters = NetworkParameters()
        parameters.layers = layers
    }

    var policy: AuthorityPolicy { AuthorityPolicy(schedule: schedule, parameters: parameters, grace: 5) }

    func state() throws -> AuthorityState {
        try AuthorityState(policy: policy, key: key, folder: folder.appendingPathComponent("state"), registryPath: registryPath)
    }

    /// Registers one identity per role (a provider and `mixes` mixes) and returns their keys.
    func register(mixes: Int) throws -> [(SigningKey, NodeRole)] {
        var registry = try AuthorityRegistry.load(path: registryPath)
        var nodes = [(SigningKey(), NodeRole.provider)]
        nodes += (0..<mixes).map { _ in (SigningKey(), NodeRole.mix) }
        for (key, role) in nodes { registry.register(RegisteredNode(identity: key.verifyingKey, role: role)) }
        try registry.write(to: registryPath)
        return nodes
    }

    /// A descriptor of `identity` with keys for `epochs`, made at `now`.
    func descriptor(_ identity: SigningKey, role: NodeRole, port: Int, epochs: ClosedRange<UInt64>, now: Double) throws
        -> SignedNodeDescriptor
    {
        try SignedNodeDescriptor(NodeDescriptorBody(
            identity: identity.verifyingKey, role: role, host: "127.0.0.1", port: port,
            clientPort: role == .provider ? port + 1 : nil,
            epochKeys: epochs.map { EpochPublicKey(epoch: $0, sphinxKey: SecretKey.generate().publicKey) }, issuedAt: now),
                                 identity: identity)
    }

    func during(_ epoch: UInt64, plus seconds: Double = 1) -> Double { schedule.start(of: epoch) + seconds }
}

@Suite("Directory authority")
struct AuthorityTests {
    @Test("descriptors are taken only from registered identities, signed by them, in their role, fresh, with keys")
    func descriptorChecks() throws {
        let fixture = AuthorityFixture()
        let nodes = try fixture.register(mixes: 1)
        let state = try fixture.state()
        let now = fixture.during(10)
        let (mixKey, _) = nodes[1]
        func refusal(_ upload: SignedNodeDescriptor, at time: Double? = nil) -> DescriptorRefusal? {
            do {
                try state.accept(upload, now: time ?? now)
                return nil
            } catch { return error }
        }
        #expect(refusal(try fixture.descriptor(mixKey, role: .mix, port: 4000, epochs: 10...12, now: now)) == nil)
        #expect(refusal(try fixture.descriptor(SigningKey(), role: .mix, port: 4000, epochs: 10...12, now: now)) == .unregistered)
        #expect(refusal(try fixture.descriptor(mixKey, role: .provider, port: 4000, epochs: 10...12, now: now)) == .roleMismatch)
        #expect(refusal(try fixture.descriptor(mixKey, role: .mix, port: 4000, epochs: 10...12, now: now - 600)) == .stale)
        #expect(refusal(try fixture.descriptor(mixKey, role: .mix, port: 4000, epochs: 20...22, now: now)) == .noKeys)
        var forged = try fixture.descriptor(mixKey, role: .mix, port: 4000, epochs: 10...12, now: now)
        forged.descriptor.port = 4001
        #expect(refusal(forged) == .badSignature)
        #expect(refusal(try fixture.descriptor(mixKey, role: .mix, port: 0, epochs: 10...12, now: now)) == .malformed)
    }

    @Test("an epoch's document lists the nodes with a key for it, is re-signed under a higher serial when that changes, and the next one appears half an epoch ahead")
    func publication() throws {
        let fixture = AuthorityFixture(layers: 2)
        let nodes = try fixture.register(mixes: 3)
        let state = try fixture.state()
        let now = fixture.during(10)
        #expect(state.publish(now: now).unpublishable[10] != nil, "nothing to publish before any descriptor")
        for (index, (key, role)) in nodes.enumerated() {
            try state.accept(try fixture.descriptor(key, role: role, port: 4000 + 10 * index, epochs: 10...12, now: now), now: now)
        }
        #expect(state.publish(now: now).published == [10])
        let first = try #require(state.document(for: 10)?.document)
        #expect(first.nodes.count == 4)
        #expect(Set(first.nodes.filter { $0.role == .mix }.map(\.layer)) == [1, 2], "mixes are dealt out to every layer")
        #expect(state.publish(now: now + 1).published.isEmpty, "nothing changed, nothing re-signed")
        #expect(state.document(for: 11) == nil)
        #expect(state.publish(now: fixture.during(10, plus: 30)).published == [11], "the next epoch's from half an epoch ahead")

        // A node moves: the current document is re-issued with a higher serial.
        let (moved, role) = nodes[1]
        try state.accept(try fixture.descriptor(moved, role: role, port: 5000, epochs: 10...12, now: now + 31), now: now + 31)
        #expect(Set(state.publish(now: now + 32).published) == [10, 11])
        let second = try #require(state.document(for: 10)?.document)
        #expect(second.serial != state.document(for: 11)?.document.serial, "no two documents share a serial")
        #expect(second.serial > first.serial)
        #expect(second.nodes.first { $0.identity == moved.verifyingKey }?.port == 5000)
    }

    @Test("a restarted authority serves what it published and never reuses a serial")
    func restart() throws {
        let fixture = AuthorityFixture(layers: 1)
        let nodes = try fixture.register(mixes: 1)
        let now = fixture.during(10)
        var lastSerial: UInt64 = 0
        do {
            let state = try fixture.state()
            for (index, (key, role)) in nodes.enumerated() {
                try state.accept(try fixture.descriptor(key, role: role, port: 4000 + 10 * index, epochs: 10...12, now: now), now: now)
            }
            state.publish(now: now)
            lastSerial = try #require(state.document(for: 10)?.document.serial)
        }
        let reopened = try fixture.state()
        #expect(reopened.document(for: 10)?.document.serial == lastSerial)
        #expect(reopened.publish(now: fixture.during(10, plus: 31)).published == [11])
        #expect(try #require(reopened.document(for: 11)?.document.serial) > lastSerial)
    }
}

/// Hands a follower whatever documents a test puts in front of it.
final class ScriptedSource: DirectorySource, Sendable {
    let next = NIOLockedValueBox<Data?>(nil)
    func document(for epoch: UInt64?) async throws -> Data? { next.withLockedValue { $0 } }
    func upload(_ descriptor: SignedNodeDescriptor) async throws {}
    func schedule() async throws -> Data { throw DescriptorUploadError(cause: "none") }
}

@Suite("Directory follower")
struct FollowerTests {
    @Test("hostile documents are each refused and counted, and the last good one stays")
    func hostileDocuments() async throws {
        let fixture = AuthorityFixture(layers: 1)
        let nodes = try fixture.register(mixes: 1)
        let state = try fixture.state()
        let now = fixture.during(10)
        for (index, (key, role)) in nodes.enumerated() {
            try state.accept(try fixture.descriptor(key, role: role, port: 4000 + 10 * index, epochs: 9...12, now: now), now: now)
        }
        state.publish(now: now)
        let good = try #require(state.document(for: 10))
        state.publish(now: fixture.during(10, plus: 31))
        let next = try #require(state.document(for: 11))

        let registry = PrometheusCollectorRegistry()
        let source = ScriptedSource()
        let follower = try DirectoryFollower(trust: DirectoryTrust(authorities: [fixture.key.verifyingKey]), source: source,
                                             metrics: PrometheusMetricsFactory(registry: registry))
        func offer(_ signed: SignedDirectoryDocument) async {
            source.next.withLockedValue { $0 = try! signed.encoded() }
            await follower.fetch(epoch: 10, now: now)
        }
        func refused(_ cause: DirectoryRefusal) -> Double {
            MetricSamples(text: registry.emitToString())["loopix_directory_documents_refused_total{cause=\"\(cause.rawValue)\"}"]
        }
        await offer(next)
        await offer(good)
        #expect(follower.document(for: 10, now: now) == good.document)

        await offer(SignedDirectoryDocument(document: good.document))
        #expect(refused(.unsigned) == 1)
        // Self-signed: a node signs a document that lists only itself, to capture traffic.
        var capture = good.document
        capture.serial += 10
        await offer(try SignedDirectoryDocument(document: capture).signed(by: nodes[1].0))
        #expect(refused(.untrustedSigner) == 1)
        var wrong = try SignedDirectoryDocument(document: capture).signed(by: fixture.key)
        wrong.document.nodes[0].port = 9
        await offer(wrong)
        #expect(refused(.badSignature) == 1)
        var old = good.document
        old.epoch = 8
        old.validFrom = fixture.schedule.start(of: 8)
        old.validUntil = fixture.schedule.end(of: 8) + 5
        await offer(try SignedDirectoryDocument(document: old).signed(by: fixture.key))
        #expect(refused(.expired) == 1)
        var rollback = good.document
        rollback.serial -= 1
        await offer(try SignedDirectoryDocument(document: rollback).signed(by: fixture.key))
        #expect(refused(.rolledBack) == 1)
        source.next.withLockedValue { $0 = Data("{\"document\": 1}".utf8) }
        await follower.fetch(epoch: 10, now: now)
        #expect(refused(.malformed) == 1)

        #expect(follower.document(for: 10, now: now) == good.document, "the last good document stays")
        #expect(follower.document(for: 11, now: now) == next.document)
        #expect(MetricSamples(text: registry.emitToString())["loopix_directory_documents_accepted_total"] == 2)
        #expect(MetricSamples(text: registry.emitToString())["loopix_directory_serial"] == Double(next.document.serial))
    }

    @Test("over HTTP: a node's upload is taken, its document fetched and checked; an unregistered upload is refused and counted")
    func overHTTP() async throws {
        let fixture = AuthorityFixture(layers: 1)
        let nodes = try fixture.register(mixes: 1)
        let now = Date().timeIntervalSince1970
        // A schedule around the real clock, so that the server's own notion of now agrees.
        let schedule = EpochSchedule(genesis: (now / 60).rounded(.down) * 60, length: 60)
        let state = try AuthorityState(policy: AuthorityPolicy(schedule: schedule, parameters: fixture.parameters, grace: 5),
                                       key: fixture.key, folder: fixture.folder.appendingPathComponent("live"),
                                       registryPath: fixture.registryPath)
        let server = AuthorityServer(state: state, host: "127.0.0.1", port: 0)
        try await server.start()
        let port = try #require(server.localPort)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let source = HTTPDirectorySource(host: "127.0.0.1", port: port, group: group)
        let registry = PrometheusCollectorRegistry()
        let follower = try DirectoryFollower(trust: DirectoryTrust(authorities: [fixture.key.verifyingKey]), source: source,
                                             metrics: PrometheusMetricsFactory(registry: registry))
        let epoch = schedule.epoch(at: now)
        for (index, (key, role)) in nodes.enumerated() {
            let upload = try fixture.descriptor(key, role: role, port: 4000 + 10 * index, epochs: epoch...epoch + 2, now: now)
            #expect(await follower.upload(upload))
        }
        #expect(!(await follower.upload(try fixture.descriptor(SigningKey(), role: .mix, port: 4100, epochs: epoch...epoch + 2, now: now))))
        #expect(MetricSamples(text: server.registry.emitToString())["loopix_directory_descriptors_total{result=\"unregistered\"}"] == 1)
        server.publishDue()
        let document = try #require(await follower.fetch(epoch: nil))
        #expect((epoch...epoch + 1).contains(document.epoch), "the current epoch's (the minute may have turned since)")
        #expect(Set(document.nodes.map(\.identity)) == Set(nodes.map { $0.0.verifyingKey }))
        #expect(await follower.fetch(epoch: epoch + 5) == nil)

        await server.shutdown()
        #expect(await follower.fetch(epoch: document.epoch) == nil)
        #expect(MetricSamples(text: registry.emitToString())["loopix_directory_unreachable"] == 1)
        #expect(follower.document(for: document.epoch) == document, "an unreachable directory leaves the held document in place")
        try await group.shutdownGracefully()
    }
}
