// Which network a client builds its packets for: one fixed topology, or the directory's
// document of the epoch in which each packet is sent.
import Foundation
import LoopixDirectory
import LoopixNetwork

/// The network as a client sees it at one instant.
public protocol NetworkView: Sendable {
    /// The epoch and topology to build a packet with now.
    func current() throws(ClientError) -> (epoch: UInt64, topology: Topology)
}

/// A network that never changes (tests, a single signed topology file).
public struct StaticNetwork: NetworkView {
    public let topology: Topology

    public init(_ topology: Topology) { self.topology = topology }

    public func current() -> (epoch: UInt64, topology: Topology) { (0, topology) }
}

/// The directory's view: the document of the epoch running `lag` seconds ago
/// (`EpochSchedule.senderLag`). Clocks differ by a little; building with the epoch that ended
/// less than `lag` ago (well within the nodes' grace period) keeps a client whose clock runs
/// ahead from using keys the nodes do not use yet.
public struct DirectoryNetwork: NetworkView {
    public let follower: DirectoryFollower
    public let lag: Double

    public init(follower: DirectoryFollower, lag: Double = EpochSchedule.senderLag) {
        self.follower = follower
        self.lag = lag
    }

    public func current() throws(ClientError) -> (epoch: UInt64, topology: Topology) {
        let now = Date().timeIntervalSince1970
        guard let schedule = follower.schedule else { throw .topology("no directory document yet") }
        let epoch = schedule.epoch(at: now - lag)
        guard let document = follower.document(for: epoch, now: now) ?? follower.document(for: epoch + 1, now: now) else {
            throw .topology("no directory document for epoch \(epoch)")
        }
        return (document.epoch, document.topology)
    }
}
