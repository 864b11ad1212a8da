// The provider's own counters (mailboxes and pulls), in the node's Prometheus registry.
import CoreMetrics
import Metrics
import Prometheus

/// Metric handles of a provider's mailbox store and pull service; thread-safe.
public final class ProviderMetrics: Sendable {
    let stored: CoreMetrics.Counter
    let refused: [StoreRefusal: CoreMetrics.Counter]
    let backlog: CoreMetrics.Gauge
    let pulls: CoreMetrics.Counter
    let pullRefused: [String: CoreMetrics.Counter]
    let pulledStored: CoreMetrics.Counter
    let pulledDummies: CoreMetrics.Counter
    let acknowledged: CoreMetrics.Counter
    /// From a packet's hand-over to the writer until its batch committed: the time a delivered
    /// packet cannot yet be pulled (the end-to-end model counts it).
    let commitDelay: Metrics.Timer
    let expired: CoreMetrics.Counter
    /// Connections open on the pull port within its connection limit, handshaking or pulling.
    let pullConnections: CoreMetrics.Gauge

    /// Why the store turned a packet away.
    enum StoreRefusal: String, CaseIterable {
        case mailboxFull = "mailbox_full"
        case unknownMailbox = "unknown_mailbox"
        case backlog = "store_backlog"
        case storeError = "store_error"
    }

    public init(registry: PrometheusCollectorRegistry) {
        var factory = PrometheusMetricsFactory(registry: registry)
        // A commit waits for the disk (fsync at `full` durability): 0.1 ms to a second.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(3), .milliseconds(5), .milliseconds(7), .milliseconds(10), .milliseconds(15),
            .milliseconds(20), .milliseconds(30), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        stored = CoreMetrics.Counter(label: "loopix_mailbox_stored_total", factory: factory)
        refused = Dictionary(uniqueKeysWithValues: StoreRefusal.allCases.map {
            ($0, CoreMetrics.Counter(label: "loopix_mailbox_refused_total", dimensions: [("cause", $0.rawValue)], factory: factory))
        })
        backlog = CoreMetrics.Gauge(label: "loopix_mailbox_store_backlog", factory: factory)
        pulls = CoreMetrics.Counter(label: "loopix_pulls_total", factory: factory)
        let causes = PullRefusal.allCases.map(\.cause) + ["pull_framing", "pull_timeout", "pull_connection_limit"]
            + NoiseLinkError.responderCauses.map { "pull_link_" + $0 }
        pullRefused = Dictionary(uniqueKeysWithValues: causes.map {
            ($0, CoreMetrics.Counter(label: "loopix_pull_refused_total", dimensions: [("cause", $0)], factory: factory))
        })
        pulledStored = CoreMetrics.Counter(label: "loopix_pull_packets_total", dimensions: [("kind", "stored")], factory: factory)
        pulledDummies = CoreMetrics.Counter(label: "loopix_pull_packets_total", dimensions: [("kind", "dummy")], factory: factory)
        acknowledged = CoreMetrics.Counter(label: "loopix_mailbox_acknowledged_total", factory: factory)
        commitDelay = Metrics.Timer(label: "loopix_mailbox_commit_delay_seconds", factory: factory)
        expired = CoreMetrics.Counter(label: "loopix_mailbox_expired_total", factory: factory)
        expired.increment(by: 0)
        pullConnections = CoreMetrics.Gauge(label: "loopix_pull_connections", factory: factory)
        pullConnections.record(0)
        for c in refused.values { c.increment(by: 0) }
        for c in pullRefused.values { c.increment(by: 0) }
    }

    func refusedPull(_ cause: String) { pullRefused[cause]?.increment() }
}

import LoopixNetwork
