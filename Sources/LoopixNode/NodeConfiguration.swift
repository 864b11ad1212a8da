// Everything an operator can tune on a node, with defaults for a small server.
import LoopixNetwork
import LoopixNoise
import NIOCore

/// How a node's links are protected.
public enum LinkSecurity: Sendable {
    /// Every link over Noise XK, authenticated with this static key: the X25519 form of the
    /// node's identity (`SigningKey.linkKey()`), which the directory lists.
    case noise(NoiseSecretKey)
    /// Plain TCP, unauthenticated: only for the node benchmark's own node process
    /// (`loopix bench serve-node --plaintext-links`), to measure what link encryption costs.
    /// `loopix mix` and `loopix provider` never run so.
    case plaintextForBenchmark
}

/// The run-time settings of one node (the network-wide parameters come from the topology).
public struct NodeConfiguration: Sendable {
    /// Address to listen on for packets; port 0 picks a free port (tests).
    public var listenHost: String = "0.0.0.0"
    public var listenPort: Int = 0
    /// Address of the Prometheus endpoint; nil disables it.
    public var metricsHost: String = "127.0.0.1"
    public var metricsPort: Int? = nil

    /// Crypto worker threads; default: one per core.
    public var workers: Int = System.coreCount
    /// Event loop threads for I/O; default: one per four cores (at least one). A loop spends
    /// about a fifth of a worker's time per packet, so one keeps up with four workers; fewer
    /// loops also mean that a packet's read and its write share one thread's wake-ups.
    public var eventLoops: Int = NodeConfiguration.defaultEventLoops(cores: System.coreCount)
    /// Scheduling slice the event loop threads ask the kernel for, in microseconds (Linux 6.12+,
    /// at least 100); shorter than the default lets a loop that wakes preempt a busy crypto
    /// worker instead of waiting out the worker's slice. nil keeps the kernel's default. Applied
    /// only to an event loop group the node makes itself.
    public var eventLoopSliceMicroseconds: Int? = 100

    /// The crypto queue's admission control, in its shape: its durations are scaled to the
    /// target in force (`resolvedAQM`), so `aqm` sets the proportions, the gains and the limit.
    public var aqm = AQMConfiguration()
    /// The AQM's target sojourn in seconds; nil: from the network's mean per-hop delay
    /// (`AQMConfiguration.defaultTarget(meanHopDelay:)`, 10 ms at the default µ).
    public var aqmTarget: Double? = nil

    /// The admission control a node of a network with per-hop delay rate `mixDelayRate` runs.
    public func resolvedAQM(mixDelayRate: Double) -> AQMConfiguration {
        aqm.scaled(toTarget: aqmTarget ?? AQMConfiguration.defaultTarget(meanHopDelay: 1 / mixDelayRate))
    }

    /// Packet buffers, the node's whole packet memory: queue, delays and outbound queues share it.
    public var packetBuffers: Int = 16384
    /// Packets held per next hop while it is unreachable or slow; beyond, they are dropped.
    public var outboundQueueLimit: Int = 1024
    /// Reconnect backoff to a next hop: first wait and cap, in seconds, doubled per failure.
    public var reconnectInitialBackoff: Double = 0.05
    public var reconnectMaxBackoff: Double = 5
    /// A peer must complete a frame this often or be cut off (slow senders), in seconds.
    public var frameTimeout: Double = 10
    /// Idle outbound links send a keep-alive this often, in seconds (below the peer's frame timeout).
    public var keepAliveInterval: Double = 3
    /// Inbound connections beyond this are closed at once.
    public var maxInboundConnections: Int = 1024
    /// Link handshakes, rekeying and age (docs/noise.md).
    public var links = LinkSettings()
    /// Unfinished handshakes one source address may have open on the packet port.
    public var maxPendingHandshakesPerAddress: Int = 16
    /// Links one static key (a peer node or a client) may hold open on the packet port.
    public var maxLinksPerPeer: Int = 4

    /// Replay filter: tags it must hold per key epoch (expected packets per epoch), false-positive rate.
    public var replayCapacity: UInt64 = 10_000_000
    public var replayFalsePositiveRate: Double = 1e-6

    /// Mix loops: the window over which the return ratio is judged and the slack allowed for
    /// a loop to come back, in seconds; the alarm needs at least `loopMinimumSamples` loops.
    public var loopWindow: Double = 60
    public var loopGrace: Double = 2
    public var loopMinimumSamples: Int = 10
    /// Countermeasure while the alarm is raised: the loop (cover) rate is multiplied by this.
    public var loopAlarmRateMultiplier: Double = 3
    /// Whether this node sends loops at all (λM from the topology).
    public var sendLoops: Bool = true

    /// On shutdown, how long to wait for packets still in their delay, in seconds.
    public var drainTimeout: Double = 2

    public init() {}

    /// The default number of event loops on a machine with `cores` cores.
    public static func defaultEventLoops(cores: Int) -> Int {
        max(1, cores / 4)
    }
}
