// What the crypto workers need for one key epoch, swapped whole at each epoch boundary so that a
// worker always sees a key, its replay filter and the next hops that belong together.
import Atomics
import LoopixNetwork
import LoopixNoise
import LoopixSphinx

/// One epoch as the workers see it: the node's key (with its replay filter), the previous
/// epoch's key during its grace period, the document's topology, and the links to every peer of
/// this epoch and of the previous one. Immutable; a new one replaces it.
final class EpochState: AtomicReference, Sendable {
    /// The epoch number (0 for a node on a single, static topology).
    let epoch: UInt64
    let topology: Topology
    let current: PacketProcessor
    /// The previous epoch's key: tried only when the current key's MAC check fails, until the
    /// grace period ends.
    let previous: PacketProcessor?
    let links: [NodeID: LinkHandle]
    /// The link keys of the nodes allowed to send to this node: this epoch's senders, and the
    /// previous epoch's during its grace period.
    let allowedSenders: Set<NoisePublicKey>
    /// The longest delay a packet may ask of this node, in microseconds (the larger of the two
    /// epochs' limits during a grace period).
    let hopDelayLimit: UInt32
    /// The previous epoch's topology while its key is held.
    let previousTopology: Topology?
    /// When this epoch became the node's current one (`monotonicNanoseconds()`).
    let startedNanos: UInt64

    init(epoch: UInt64, topology: Topology, current: PacketProcessor, previous: PacketProcessor?,
         previousTopology: Topology? = nil, startedNanos: UInt64 = monotonicNanoseconds(),
         links: [NodeID: LinkHandle], allowedSenders: Set<NoisePublicKey> = [], hopDelayLimit: UInt32? = nil) {
        self.epoch = epoch
        self.topology = topology
        self.current = current
        self.previous = previous
        self.previousTopology = previous == nil ? nil : previousTopology
        self.startedNanos = startedNanos
        self.links = links
        self.allowedSenders = allowedSenders
        self.hopDelayLimit = hopDelayLimit ?? topology.parameters.hopDelayLimitMicroseconds
    }
}

extension EpochState {
    /// The topology the packets this node builds at `now` use: for `EpochSchedule.senderLag`
    /// after the switch, the previous epoch's (its key is still held everywhere), as clients do,
    /// so that a next hop that switches a little later does not refuse them as bad_mac.
    func topologyForSending(now: UInt64 = monotonicNanoseconds()) -> Topology {
        guard let previousTopology, now &- startedNanos < UInt64(EpochSchedule.senderLag * 1e9) else { return topology }
        return previousTopology
    }

    /// Unwraps one layer with the current key or, when its MAC check fails during the grace
    /// period, with the previous one (a packet built with last epoch's key and still on its way).
    /// Also says whether the previous key did it.
    @inline(__always)
    func unwrap(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(SphinxError)
        -> (processed: ProcessedPacket, previousKey: Bool)
    {
        do {
            return (try current.process(input, into: output), false)
        } catch .badMAC where previous != nil {
            return (try previous!.process(input, into: output), true)
        }
    }
}

/// The node's current `EpochState`, read lock-free by every worker for every packet.
final class EpochStates: Sendable {
    private let state: ManagedAtomic<EpochState>

    init(_ initial: EpochState) {
        state = ManagedAtomic(initial)
    }

    /// The state to process the next packet with.
    @inline(__always)
    var current: EpochState { state.load(ordering: .acquiring) }

    func replace(with next: EpochState) {
        state.store(next, ordering: .releasing)
    }
}

/// The per-packet work of the epoch machinery, exactly as a worker does it (the epoch state read
/// lock-free, the current key tried, the previous one on a MAC failure), for the benchmarks that
/// judge what epochs cost against a bare `PacketProcessor`.
public final class EpochUnwrapProbe: Sendable {
    private let states: EpochStates

    public init(processor: PacketProcessor, previous: PacketProcessor? = nil, topology: Topology) {
        states = EpochStates(EpochState(epoch: 1, topology: topology, current: processor, previous: previous, links: [:]))
    }

    public func unwrap(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(SphinxError)
        -> ProcessedPacket
    {
        try states.current.unwrap(input, into: output).processed
    }
}
