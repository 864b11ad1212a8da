// One node of the epoch tests: its directory follower, its epoch driver (keys and replay filters
// in the test's folder) and its metrics, as `loopix mix` and `loopix provider` put them together.
import Foundation
import LoopixDirectory
import LoopixNetwork
@testable import LoopixNode
import LoopixSphinx
import LoopixTestSupport
import NIOPosix
import Prometheus

struct EpochParty {
    let driver: EpochDriver
    let follower: DirectoryFollower
    let metrics: NodeMetrics
    let port: Int

    /// `final`: where the node hands FINAL packets (a provider's mailboxes in a test).
    init(_ identity: SigningKey, _ role: NodeRole, final: (any FinalSink)?, trust: DirectoryTrust, source: any DirectorySource,
         folder: URL, grace: Double, group: MultiThreadedEventLoopGroup) throws {
        let port = try freeLoopbackPort()
        let metrics = NodeMetrics()
        let follower = try DirectoryFollower(trust: trust, source: source, metrics: PrometheusMetricsFactory(registry: metrics.registry))
        let configuration = testConfiguration(port: port)
        driver = EpochDriver(
            announcement: NodeAnnouncement(identity: identity, role: role, host: "127.0.0.1", port: port),
            follower: follower,
            keys: try EpochKeyStore(folder: folder.appendingPathComponent("keys-\(role.rawValue)")), grace: grace,
            replayFilters: try EpochReplayFilters(folder: folder.appendingPathComponent("replay-\(role.rawValue)"),
                                                  ratedPacketsPerSecond: 100),
            makeNode: { setup in
                try MixNode(id: NodeID.forIdentity(identity.verifyingKey), epoch: setup, links: .noise(identity.linkKey()),
                            configuration: configuration, finalSink: final, eventLoopGroup: group, metrics: metrics)
            })
        self.follower = follower
        self.metrics = metrics
        self.port = port
    }
}

/// The authority of the epoch tests' two-node network (a layer-1 mix and a provider, no loops),
/// with both identities registered.
struct TwoNodeAuthority {
    let key = SigningKey()
    let mixIdentity = SigningKey(), providerIdentity = SigningKey()
    let parameters: NetworkParameters
    let state: AuthorityState
    var trust: DirectoryTrust { DirectoryTrust(authorities: [key.verifyingKey]) }

    init(folder: URL, schedule: EpochSchedule, grace: Double) throws {
        var parameters = NetworkParameters()
        parameters.layers = 1
        parameters.mixLoopRate = 0
        self.parameters = parameters
        let registryPath = folder.appendingPathComponent("registry.json").path
        try AuthorityRegistry(nodes: [RegisteredNode(identity: mixIdentity.verifyingKey, role: .mix, layer: 1),
                                      RegisteredNode(identity: providerIdentity.verifyingKey, role: .provider)])
            .write(to: registryPath)
        state = try AuthorityState(policy: AuthorityPolicy(schedule: schedule, parameters: parameters, grace: grace,
                                                           publishAhead: schedule.length / 2),
                                   key: key, folder: folder.appendingPathComponent("authority"), registryPath: registryPath)
    }
}
