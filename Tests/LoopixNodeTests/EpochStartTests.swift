// A node that starts just after an epoch boundary, driven at chosen instants (no waiting for a
// real boundary): it must also serve the epoch before, whose packets are still on their way.
import Foundation
import LoopixDirectory
import LoopixNetwork
@testable import LoopixNode
import LoopixSphinx
import LoopixTestSupport
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Prometheus
import Testing

/// An authority in the test's own process, read and written at the instant the test sets.
final class ClockedAuthoritySource: DirectorySource, Sendable {
    let state: AuthorityState
    let key: SigningKey
    let now: NIOLockedValueBox<Double>

    init(state: AuthorityState, key: SigningKey, now: Double) {
        self.state = state
        self.key = key
        self.now = NIOLockedValueBox(now)
    }

    func document(for epoch: UInt64?) async throws -> Data? {
        let epoch = epoch ?? state.policy.schedule.epoch(at: now.withLockedValue { $0 })
        return try state.document(for: epoch)?.encoded()
    }

    func upload(_ descriptor: SignedNodeDescriptor) async throws {
        do { try state.accept(descriptor, now: now.withLockedValue { $0 }) } catch {
            throw DescriptorUploadError(cause: error.rawValue)
        }
    }

    func schedule() async throws -> Data {
        try CanonicalJSON.readable(try SignedEpochSchedule(schedule: state.policy.schedule).signed(by: key))
    }
}

@Suite("A node starting just after an epoch boundary")
struct EpochStartTests {
    @Test("it holds the previous epoch's key through its grace: a packet built for that epoch is delivered, and refused after it")
    func startsAfterBoundary() async throws {
        let length = 30.0, grace = 20.0
        let folder = makeTemporaryDirectory("epoch-start")
        // Epoch 100 starts at the whole second before now: every instant the test sets below lies
        // in 99 or at the start of 100, and the real clock stays inside 100's first seconds
        // (its documents' windows are checked against it too).
        let genesis = Date().timeIntervalSince1970.rounded(.down) - 100 * length
        let schedule = EpochSchedule(genesis: genesis, length: length)
        let epoch: UInt64 = 100
        let network = try TwoNodeAuthority(folder: folder, schedule: schedule, grace: grace)
        let (authority, parameters, trust) = (network.state, network.parameters, network.trust)
        let (mixIdentity, providerIdentity) = (network.mixIdentity, network.providerIdentity)
        let source = ClockedAuthoritySource(state: authority, key: network.key, now: schedule.start(of: epoch - 1) + 1)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let sink = FinalLog()

        func party(_ identity: SigningKey, _ role: NodeRole, final: (any FinalSink)?) throws -> EpochParty {
            try EpochParty(identity, role, final: final, trust: trust, source: source, folder: folder, grace: grace, group: group)
        }
        let mix = try party(mixIdentity, .mix, final: nil), provider = try party(providerIdentity, .provider, final: sink)
        let (mixDriver, mixFollower, mixMetrics) = (mix.driver, mix.follower, mix.metrics)
        let (providerDriver, providerFollower, providerMetrics) = (provider.driver, provider.follower, provider.metrics)
        let drivers = [mixDriver, providerDriver], followers = [mixFollower, providerFollower]

        // During epoch 99: the nodes make and announce their keys (99 to 101); the authority then
        // publishes 99's document and, just before the boundary, 100's.
        let during99 = schedule.start(of: epoch - 1) + 1
        for follower in followers { #expect(await follower.fetchSchedule()) }
        for driver in drivers { await driver.step(now: during99) }
        #expect(drivers.allSatisfy { $0.node == nil }, "a node started before any document listed it")
        authority.publish(now: during99)
        authority.publish(now: schedule.start(of: epoch) - 1)
        let document99 = try #require(authority.document(for: epoch - 1)?.document)
        let document100 = try #require(authority.document(for: epoch)?.document)
        #expect(document99.nodes.count == 2 && document100.nodes.count == 2)

        // A tenth of a second into epoch 100, the nodes start for the first time.
        let start = schedule.start(of: epoch) + 0.1
        source.now.withLockedValue { $0 = start }
        for follower in followers {
            _ = await follower.fetch(epoch: epoch - 1, now: start)
            _ = await follower.fetch(epoch: epoch, now: start)
        }
        for driver in drivers { await driver.step(now: start) }
        let nodes = try drivers.map { try #require($0.node as? MixNode) }
        #expect(nodes.allSatisfy { $0.epoch == epoch })
        let runs = nodes.map { node in Task { try await node.run() } }
        #expect(await eventually(within: 10) { nodes.allSatisfy { $0.localPort != nil } }, "the nodes did not start listening")

        /// A packet mix → provider (FINAL) with `document`'s keys.
        func packet(_ document: DirectoryDocument) throws -> [UInt8] {
            let topology = document.topology
            let mix = try #require(topology.node(NodeID.forIdentity(mixIdentity.verifyingKey)))
            let provider = try #require(topology.node(NodeID.forIdentity(providerIdentity.verifyingKey)))
            return try Sphinx.createPacket(geometry: parameters.geometry, route: [
                RouteHop(publicKey: mix.publicKey, command: .relay(next: provider.id, delayMicroseconds: 0)),
                RouteHop(publicKey: provider.publicKey, command: .final(messageID: .random())),
            ], message: [])
        }
        // Sent as the provider (the one that may send to layer 1): one packet a sender built in
        // epoch 99, one built in 100.
        let mixPort = try #require(nodes[0].localPort)
        let channel = try await openLink(to: mixPort, responderKey: mixIdentity.verifyingKey.linkKey!,
                                         localKey: providerIdentity.linkKey(), group: group)
        try await channel.writeAndFlush(packetFrame(try packet(document99)))
        try await channel.writeAndFlush(packetFrame(try packet(document100)))
        let dropped = { "mix drops: \(mixMetrics.dropSummary); provider drops: \(providerMetrics.dropSummary)" }
        #expect(await eventually(within: 10) { sink.count == 2 }, "\(sink.count) of 2 arrived; \(dropped())")
        for metrics in [mixMetrics, providerMetrics] {
            #expect(MetricSamples(text: metrics.render())["loopix_packets_previous_key_total"] == 1, "\(dropped())")
        }

        // Once the grace is over the previous key is gone: the same kind of packet is undecryptable.
        let afterGrace = schedule.start(of: epoch) + grace + 0.1
        source.now.withLockedValue { $0 = afterGrace }
        for driver in drivers { await driver.step(now: afterGrace) }
        try await channel.writeAndFlush(packetFrame(try packet(document99)))
        #expect(await eventually { mixMetrics.drops(.badMAC) == 1 }, "\(dropped())")
        #expect(sink.count == 2)

        try await channel.close()
        for run in runs { run.cancel() }
        for run in runs { _ = await run.result }
        try await group.shutdownGracefully()
    }

    @Test("a node's own packets use the previous epoch's keys for a second after its switch, while it holds them")
    func sendersLag() throws {
        func topology(layers: Int) -> Topology {
            var parameters = NetworkParameters()
            parameters.layers = layers
            return Topology(parameters: parameters, nodes: [])
        }
        let (old, new) = (topology(layers: 1), topology(layers: 2))
        let processor = try PacketProcessor(geometry: NetworkParameters().geometry, secretKey: .generate(), replayFilter: nil)
        let second: UInt64 = 1_000_000_000
        let now = monotonicNanoseconds()
        let switched = EpochState(epoch: 2, topology: new, current: processor, previous: processor, previousTopology: old,
                                  startedNanos: now, links: [:])
        #expect(switched.topologyForSending(now: now + second / 2) == old)
        #expect(switched.topologyForSending(now: now + 2 * second) == new)
        // Without the previous key (a node that started inside the epoch, or after the grace) there is nothing to lag on.
        let alone = EpochState(epoch: 2, topology: new, current: processor, previous: nil, previousTopology: old,
                               startedNanos: now, links: [:])
        #expect(alone.topologyForSending(now: now + second / 2) == new)
    }
}
