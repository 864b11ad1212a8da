// Key epochs: the network's time cut into numbered periods of one length from a genesis instant.
import Foundation

/// The epoch clock every node, client and authority of a network shares. Epoch `n` runs from
/// `genesis + n × length` (inclusive) to `genesis + (n + 1) × length` (exclusive), in Unix
/// seconds; a node's Sphinx key, its replay filter and the directory document all belong to
/// one epoch. Clocks must agree within a few seconds (NTP); the grace period absorbs the rest.
public struct EpochSchedule: Sendable, Hashable, Codable {
    /// Unix time (seconds) at which epoch 0 starts.
    public var genesis: Double
    /// Seconds per epoch.
    public var length: Double

    public init(genesis: Double, length: Double) {
        self.genesis = genesis
        self.length = length
    }

    /// The default epoch length, as Katzenpost and Nym operators know it: one hour.
    public static let defaultLength: Double = 3600

    /// How long after a boundary a sender (a client, or a mix building its loops) keeps building
    /// packets with the epoch before, in seconds. Every node still holds that key (its grace
    /// period is longer), while a next hop whose clock, or whose switch, runs a little behind
    /// does not hold the new one yet.
    public static let senderLag: Double = 1

    /// A schedule is usable when it starts at or after the Unix epoch and its epochs last at
    /// least a second.
    public func validate() throws(TopologyError) {
        guard genesis.isFinite, genesis >= 0, length.isFinite, length >= 1 else {
            throw .badParameters("an epoch schedule needs genesis >= 0 and an epoch length of at least 1 s")
        }
    }

    /// The epoch that contains Unix time `time`; epoch 0 before genesis.
    public func epoch(at time: Double) -> UInt64 {
        guard time > genesis else { return 0 }
        return UInt64(((time - genesis) / length).rounded(.down))
    }

    /// The epoch running now.
    public func currentEpoch(now: Date = Date()) -> UInt64 {
        epoch(at: now.timeIntervalSince1970)
    }

    /// Unix time at which `epoch` starts.
    public func start(of epoch: UInt64) -> Double {
        genesis + Double(epoch) * length
    }

    /// Unix time at which `epoch` ends (the next one starts).
    public func end(of epoch: UInt64) -> Double {
        start(of: epoch + 1)
    }
}

extension NetworkParameters {
    /// How long after an epoch ends its keys are still honoured, by default: a packet sent at the
    /// last moment crosses its provider, the layers and the recipient's provider, each holding it
    /// for a delay from Exp(µ); ten mean delays per hop leave out about one packet in 20,000 per
    /// hop, and two seconds more absorb clock differences and the network.
    public var defaultGrace: Double {
        Double(layers + 2) * 10 / mixDelayRate + 2
    }
}
