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
    let expired: CoreMetrics.Counter

    /// Why the store turned a packet away.
    enum StoreRefusal: String, CaseIterable {
        case mailboxFull = "mailbox_full"
        case unknownMailbox = "unknown_mailbox"
        case backlog = "store_backlog"
        case storeError = "store_error"
    }

    public init(registry: PrometheusCollectorRegistry) {
        let factory = PrometheusMetricsFactory(registry: registry)
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
        expired = CoreMetrics.Counter(label: "loopix_mailbox_expired_total", factory: factory)
        expired.increment(by: 0)
        for c in refused.values { c.increment(by: 0) }
        for c in pullRefused.values { c.increment(by: 0) }
    }

    func refusedPull(_ cause: String) { pullRefused[cause]?.increment() }
}

import LoopixNetwork
