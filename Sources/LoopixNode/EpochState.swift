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

    init(epoch: UInt64, topology: Topology, current: PacketProcessor, previous: PacketProcessor?,
         links: [NodeID: LinkHandle], allowedSenders: Set<NoisePublicKey> = [], hopDelayLimit: UInt32? = nil) {
        self.epoch = epoch
        self.topology = topology
        self.current = current
        self.previous = previous
        self.links = links
        self.allowedSenders = allowedSenders
        self.hopDelayLimit = hopDelayLimit ?? topology.parameters.hopDelayLimitMicroseconds
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
