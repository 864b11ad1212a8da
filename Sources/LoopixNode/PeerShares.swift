// Fair admission to the crypto queue between the peers that send to a node: each peer's packets
// in the queue are counted, so that a peer that floods takes its share of the admission limit
// and no more while others have packets waiting.
import Atomics
import LoopixNoise
import NIOConcurrencyHelpers

/// Who sent a packet, as admission counts it: a static key, or one connection on plaintext links.
enum PeerIdentity: Hashable, Sendable {
    case key(NoisePublicKey)
    case connection(ObjectIdentifier)
}

/// The queued packets of every inbound peer, by slot; lock-free on the packet path.
///
/// A slot is a peer's while it has links, and its counter is the number of queued packets that
/// carry the slot's number. A slot given to another peer keeps counting the old peer's packets
/// until they are taken (a millisecond or two), so the counters never go wrong, only a new
/// peer's first moments are judged with them.
final class PeerShares: Sendable {
    private let queued: [ManagedAtomic<Int>]
    private let active = ManagedAtomic<Int>(0)
    private let slots = NIOLockedValueBox(Slots())

    private struct Slots {
        var owners: [PeerIdentity: (slot: UInt32, links: Int)] = [:]
        var free: [UInt32] = []
    }

    /// Room for `capacity` peers at once (the node's inbound connection limit is enough).
    init(capacity: Int) {
        queued = (0...max(1, capacity)).map { _ in ManagedAtomic<Int>(0) }
        slots.withLockedValue { $0.free = (1...UInt32(max(1, capacity))).reversed() }
    }

    /// The slot of `peer` for one more of its links (slot 0, shared, if none is left).
    func join(_ peer: PeerIdentity) -> UInt32 {
        slots.withLockedValue { s in
            if let owner = s.owners[peer] {
                s.owners[peer] = (owner.slot, owner.links + 1)
                return owner.slot
            }
            guard let slot = s.free.popLast() else { return 0 }
            s.owners[peer] = (slot, 1)
            return slot
        }
    }

    /// One link of `peer` closed; its slot is free once its last link closed.
    func leave(_ peer: PeerIdentity) {
        slots.withLockedValue { s in
            guard let owner = s.owners[peer] else { return }
            if owner.links > 1 {
                s.owners[peer] = (owner.slot, owner.links - 1)
            } else {
                s.owners[peer] = nil
                s.free.append(owner.slot)
            }
        }
    }

    /// Packets of `slot` in the queue.
    @inline(__always)
    func queued(_ slot: UInt32) -> Int { queued[Int(slot)].load(ordering: .relaxed) }

    /// Peers with packets in the queue.
    @inline(__always)
    var activePeers: Int { active.load(ordering: .relaxed) }

    /// `count` packets of `slot` entered the queue.
    func added(_ slot: UInt32, count: Int) {
        guard count > 0 else { return }
        if queued[Int(slot)].wrappingIncrementThenLoad(by: count, ordering: .relaxed) == count {
            active.wrappingIncrement(ordering: .relaxed)
        }
    }

    /// A packet of `slot` left the queue.
    @inline(__always)
    func taken(_ slot: UInt32) {
        if queued[Int(slot)].wrappingDecrementThenLoad(ordering: .relaxed) == 0 {
            active.wrappingDecrement(ordering: .relaxed)
        }
    }
}

/// The admission rule, on plain numbers (`InboundPacketHandler` applies it to each arrival).
///
/// With one peer queued it is the plain rule: the limit, then the AQM's probability. With several,
/// each may hold `limit / active` packets (at least one) once the queue holds half the limit; a
/// peer over its share then is refused (`fair_share`, or `queue_full` when the queue is at its
/// limit), a peer under it is admitted even past the limit (the queue then holds at most twice
/// the limit), and the AQM's early drops fall only on peers that hold at least half their
/// share: a peer sending at a modest rate keeps its packets while another floods. Below half
/// the limit there is room for everyone, and shares are not enforced: a peer whose burst
/// arrives while the workers are briefly off their cores is not refused while the queue is
/// short (a testnet run refused one such packet).
enum FairAdmission {
    /// `length`: packets queued and read ahead of this one; `mine`: this peer's part of them;
    /// `active`: peers with packets queued, this one counted; `limit`: the admission limit.
    static func judge(length: Int, mine: Int, active: Int, limit: Int, earlyDrop: () -> Bool) -> DropCause? {
        if active <= 1 {
            if length >= limit { return .queueFull }
            if length >= 2 && earlyDrop() { return .aqm }
            return nil
        }
        let share = max(1, limit / active)
        if mine >= share && 2 * length >= limit { return length >= limit ? .queueFull : .fairShare }
        if length >= 2 * limit { return .queueFull }
        if mine >= share / 2 && length >= 2 && earlyDrop() { return .aqm }
        return nil
    }
}
