// Every counter, gauge and histogram of one node, in its own Prometheus registry so that several
// nodes can share a process (tests, the testnet) and each exports only its own numbers.
import CoreMetrics
import Metrics
import LoopixNetwork
import Prometheus

/// The metric handles of one node; thread-safe.
public final class NodeMetrics: Sendable {
    /// The registry the node's HTTP endpoint renders.
    public let registry: PrometheusCollectorRegistry

    let packetsIn: CoreMetrics.Counter
    let relayed: CoreMetrics.Counter
    let delivered: CoreMetrics.Counter
    let coverDropped: CoreMetrics.Counter
    let loopsSent: CoreMetrics.Counter
    let loopsReturned: CoreMetrics.Counter
    let loopAlarms: CoreMetrics.Counter
    let previousKey: CoreMetrics.Counter
    let epochSwitches: CoreMetrics.Counter
    let epoch: CoreMetrics.Gauge
    private let dropped: [CoreMetrics.Counter]

    let cryptoQueueLength: CoreMetrics.Gauge
    let scheduledPackets: CoreMetrics.Gauge
    let outboundQueued: CoreMetrics.Gauge
    let buffersInUse: CoreMetrics.Gauge
    let dropProbability: CoreMetrics.Gauge
    let loopReturnRatio: CoreMetrics.Gauge
    let loopAlarm: CoreMetrics.Gauge
    let connectionsOpen: CoreMetrics.Gauge
    /// Inbound links refused or cut by the link layer, by cause.
    private let linksRefused: [String: CoreMetrics.Counter]
    /// Outbound links whose handshake failed, by cause.
    private let linkFailures: [String: CoreMetrics.Counter]
    let linksEstablished: CoreMetrics.Counter

    let sojourn: Metrics.Timer
    let schedulerLateness: Metrics.Timer
    let hopOverhead: Metrics.Timer

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        // Sub-millisecond work and the AQM's range: buckets from 10 µs to 1 s, dense from 1 ms to
        // 100 ms, where the AQM's targets (10–50 ms) and their doubles lie.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100),
            .microseconds(250), .microseconds(500), .microseconds(750), .milliseconds(1),
            .microseconds(1500), .milliseconds(2), .milliseconds(3), .milliseconds(5), .microseconds(7500),
            .milliseconds(10), .microseconds(12500), .milliseconds(15), .microseconds(17500), .milliseconds(20),
            .milliseconds(25), .milliseconds(30), .milliseconds(40), .milliseconds(50), .milliseconds(75),
            .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        packetsIn = CoreMetrics.Counter(label: "loopix_packets_in_total", factory: factory)
        relayed = CoreMetrics.Counter(label: "loopix_packets_out_total", dimensions: [("kind", "relay")], factory: factory)
        delivered = CoreMetrics.Counter(label: "loopix_packets_out_total", dimensions: [("kind", "deliver")], factory: factory)
        coverDropped = CoreMetrics.Counter(label: "loopix_cover_discarded_total", factory: factory)
        loopsSent = CoreMetrics.Counter(label: "loopix_loops_sent_total", factory: factory)
        loopsReturned = CoreMetrics.Counter(label: "loopix_loops_returned_total", factory: factory)
        loopAlarms = CoreMetrics.Counter(label: "loopix_loop_alarms_total", factory: factory)
        previousKey = CoreMetrics.Counter(label: "loopix_packets_previous_key_total", factory: factory)
        epochSwitches = CoreMetrics.Counter(label: "loopix_epoch_switches_total", factory: factory)
        epoch = CoreMetrics.Gauge(label: "loopix_epoch", factory: factory)
        dropped = DropCause.allCases.map {
            CoreMetrics.Counter(label: "loopix_packets_dropped_total", dimensions: [("cause", $0.rawValue)], factory: factory)
        }
        cryptoQueueLength = CoreMetrics.Gauge(label: "loopix_crypto_queue_length", factory: factory)
        scheduledPackets = CoreMetrics.Gauge(label: "loopix_scheduled_packets", factory: factory)
        outboundQueued = CoreMetrics.Gauge(label: "loopix_outbound_queue_length", factory: factory)
        buffersInUse = CoreMetrics.Gauge(label: "loopix_packet_buffers_in_use", factory: factory)
        dropProbability = CoreMetrics.Gauge(label: "loopix_aqm_drop_probability", factory: factory)
        loopReturnRatio = CoreMetrics.Gauge(label: "loopix_loop_return_ratio", factory: factory)
        loopAlarm = CoreMetrics.Gauge(label: "loopix_loop_alarm", factory: factory)
        connectionsOpen = CoreMetrics.Gauge(label: "loopix_inbound_connections", factory: factory)
        linksRefused = Dictionary(uniqueKeysWithValues: (NoiseLinkError.responderCauses + ["revoked"]).map {
            ($0, CoreMetrics.Counter(label: "loopix_links_refused_total", dimensions: [("cause", $0)], factory: factory))
        })
        linkFailures = Dictionary(uniqueKeysWithValues: NoiseLinkError.initiatorCauses.map {
            ($0, CoreMetrics.Counter(label: "loopix_outbound_link_failures_total", dimensions: [("cause", $0)], factory: factory))
        })
        linksEstablished = CoreMetrics.Counter(label: "loopix_links_established_total", factory: factory)
        for counter in Array(linksRefused.values) + Array(linkFailures.values) { counter.increment(by: 0) }
        sojourn = Metrics.Timer(label: "loopix_crypto_sojourn_seconds", factory: factory)
        schedulerLateness = Metrics.Timer(label: "loopix_scheduler_lateness_seconds", factory: factory)
        hopOverhead = Metrics.Timer(label: "loopix_hop_overhead_seconds", factory: factory)
        for counter in dropped + [previousKey, epochSwitches] { counter.increment(by: 0) }
    }

    /// Counts `count` drops of one cause.
    @inline(__always)
    func drop(_ cause: DropCause, count: Int = 1) {
        dropped[cause.index].increment(by: count)
    }

    /// Counts an inbound link the link layer refused or cut.
    func refusedLink(_ cause: String) {
        linksRefused[cause]?.increment()
    }

    /// Counts an outbound link whose handshake failed.
    func failedLink(_ cause: String) {
        linkFailures[cause]?.increment()
    }

    /// The Prometheus text exposition of this node's metrics.
    public func render() -> String {
        registry.emitToString()
    }
}
