// Two nodes driven through key epochs by a real directory authority over HTTP, with 4-second
// epochs: packets built with an epoch's keys are delivered across boundaries (those still on
// their way use the previous key, counted), a captured packet is refused as a replay in its
// epoch and during the grace period, and as undecryptable once the grace period is over.
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

/// Collects the message ids of FINAL packets.
final class FinalLog: FinalSink, Sendable {
    let ids = NIOLockedValueBox<[SphinxAddress]>([])
    func receive(messageID: SphinxAddress, message: UnsafeRawBufferPointer?) {
        ids.withLockedValue { $0.append(messageID) }
    }
    var count: Int { ids.withLockedValue { $0.count } }
}

@Suite("Key epochs driven by the directory")
struct EpochDriverTests {
    @Test("packets cross epoch boundaries, the previous key serves in grace, replays are refused in and after their epoch")
    func epochs() async throws {
        let length = 4.0, grace = 2.0
        let folder = makeTemporaryDirectory("epochs")
        let now = Date().timeIntervalSince1970
        let schedule = EpochSchedule(genesis: now.rounded(.down) - 100 * length, length: length)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let sink = FinalLog()

        // The two nodes' identities, registered with the authority.
        let network = try TwoNodeAuthority(folder: folder, schedule: schedule, grace: grace)
        let (state, parameters, trust) = (network.state, network.parameters, network.trust)
        let (mixIdentity, providerIdentity) = (network.mixIdentity, network.providerIdentity)
        let authority = AuthorityServer(state: state, host: "127.0.0.1", port: 0)
        let authorityRun = Task { try await authority.run() }
        #expect(await eventually { authority.localPort != nil })
        let authorityPort = try #require(authority.localPort)

        let source = HTTPDirectorySource(host: "127.0.0.1", port: authorityPort, group: group)
        let mix = try EpochParty(mixIdentity, .mix, final: nil, trust: trust, source: source, folder: folder, grace: grace, group: group)
        let provider = try EpochParty(providerIdentity, .provider, final: sink, trust: trust, source: source, folder: folder,
                                      grace: grace, group: group)
        let (mixDriver, mixMetrics, mixPort) = (mix.driver, mix.metrics, mix.port)
        let providerDriver = provider.driver
        let runs = [Task { try await mixDriver.run() }, Task { try await providerDriver.run() }]

        // The sender's own view of the directory.
        let registry = PrometheusCollectorRegistry()
        let view = try DirectoryFollower(trust: trust, source: HTTPDirectorySource(host: "127.0.0.1", port: authorityPort, group: group),
                                         metrics: PrometheusMetricsFactory(registry: registry))
        #expect(await eventually(within: 10) {
            guard let doc = await view.fetch(epoch: nil) ?? view.document(for: schedule.currentEpoch()) else { return false }
            return doc.nodes.count == 2
        }, "the authority never listed both nodes")
        #expect(await eventually(within: 10) {
            [mixDriver, providerDriver].allSatisfy { ($0.node as? MixNode)?.localPort != nil }
        }, "the nodes did not start listening")

        /// A packet mix → provider (FINAL) with `document`'s keys.
        func packet(_ document: DirectoryDocument, id: SphinxAddress) throws -> [UInt8] {
            let topology = document.topology
            let mix = try #require(topology.node(NodeID.forIdentity(mixIdentity.verifyingKey)))
            let provider = try #require(topology.node(NodeID.forIdentity(providerIdentity.verifyingKey)))
            return try Sphinx.createPacket(geometry: parameters.geometry, route: [
                RouteHop(publicKey: mix.publicKey, command: .relay(next: provider.id, delayMicroseconds: 0)),
                RouteHop(publicKey: provider.publicKey, command: .final(messageID: id)),
            ], message: [])
        }
        // The mix of layer 1 takes packets from providers: the test sends as the provider.
        let channel = try await openLink(to: mixPort, responderKey: mixIdentity.verifyingKey.linkKey!,
                                         localKey: providerIdentity.linkKey(), group: group)
        func send(_ bytes: [UInt8]) async throws { try await channel.writeAndFlush(packetFrame(bytes)) }

        // Continuously, for three epochs: a packet every 100 ms built with the current epoch's keys.
        var sent = 0
        let end = Date().timeIntervalSince1970 + 3 * length
        var captured: (packet: [UInt8], epoch: UInt64)?
        var stale: (packet: [UInt8], epoch: UInt64)?
        while Date().timeIntervalSince1970 < end {
            // As a client does: the epoch of a moment ago, so that a node a little behind the
            // test's clock never sees a key it does not hold yet.
            let epoch = schedule.epoch(at: Date().timeIntervalSince1970 - 0.5)
            _ = await view.fetch(epoch: epoch + 1)
            guard let document = view.document(for: epoch) else {
                _ = await view.fetch(epoch: epoch)
                continue
            }
            let bytes = try packet(document, id: .random())
            if captured == nil { captured = (bytes, epoch) }
            // Built just before a boundary, sent just after it: the previous key's work.
            if stale == nil && schedule.end(of: epoch) - Date().timeIntervalSince1970 < 0.3 {
                stale = (bytes, epoch)
                continue
            }
            try await send(bytes)
            sent += 1
            // Half a second into the next epoch: the nodes have switched keys, the grace (2 s) runs.
            if let held = stale, Date().timeIntervalSince1970 > schedule.end(of: held.epoch) + 0.5 {
                try await send(held.packet)
                sent += 1
                stale = nil
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let providerMetrics = try #require(providerDriver.node as? MixNode).metrics
        #expect(await eventually(within: 5) { sink.count == sent },
                "\(sink.count) of \(sent) arrived; mix drops: \(mixMetrics.dropSummary); provider drops: \(providerMetrics.dropSummary)")
        #expect(MetricSamples(text: mixMetrics.render())["loopix_epoch_switches_total"] >= 2)
        #expect(MetricSamples(text: mixMetrics.render())["loopix_packets_previous_key_total"] >= 1,
                "no packet used the previous key during its grace period")

        // The first packet, resent long after its epoch and grace: undecryptable, not a replay.
        let (first, firstEpoch) = try #require(captured)
        #expect(schedule.currentEpoch() > firstEpoch + 1)
        let before = mixMetrics.drops(.badMAC)
        try await send(first)
        #expect(await eventually { mixMetrics.drops(.badMAC) == before + 1 })

        // A packet of this epoch, sent twice now and once more after the boundary (in grace).
        let epoch = schedule.currentEpoch()
        _ = await view.fetch(epoch: epoch)
        let fresh = try packet(try #require(view.document(for: epoch)), id: .random())
        let replays = mixMetrics.drops(.replay)
        try await send(fresh)
        try await send(fresh)
        #expect(await eventually { mixMetrics.drops(.replay) == replays + 1 })
        let wait = schedule.end(of: epoch) + 0.3 - Date().timeIntervalSince1970
        if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
        try await send(fresh)
        #expect(await eventually { mixMetrics.drops(.replay) == replays + 2 }, "a replay in the grace period got through")

        try await channel.close()
        // Cancelling a driver ends its node's run (a graceful stop) and its directory follower.
        for run in runs { run.cancel() }
        for run in runs { _ = await run.result }
        authorityRun.cancel()
        _ = await authorityRun.result
        try await group.shutdownGracefully()
    }
}
