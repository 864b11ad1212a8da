// Takes a node through key epochs as the directory publishes them: keys made ahead and
// announced, the next epoch installed at its boundary, the previous one retired after its grace
// period, and the node kept on the documents it has while the directory cannot be reached.
import Foundation
import Logging
import LoopixDirectory
import LoopixNetwork
import LoopixSphinx
import NIOConcurrencyHelpers
import ServiceLifecycle

/// A node that moves between key epochs (a mix, or a provider around one).
public protocol EpochNode: Service, Sendable {
    /// The key epoch it processes packets in now.
    var epoch: UInt64 { get }
    /// A later epoch, or a re-issued document of the current one (see `MixNode.install`).
    func install(_ setup: NodeEpochSetup) throws
    /// Ends the previous epoch's grace period.
    func retirePrevious()
}

extension MixNode: EpochNode {}

/// What a node says about itself in its descriptor.
public struct NodeAnnouncement: Sendable {
    public var identity: SigningKey
    public var role: NodeRole
    public var host: String
    public var port: Int
    public var clientPort: Int?

    public init(identity: SigningKey, role: NodeRole, host: String, port: Int, clientPort: Int? = nil) {
        self.identity = identity
        self.role = role
        self.host = host
        self.port = port
        self.clientPort = clientPort
    }

    public var id: NodeID { NodeID.forIdentity(identity.verifyingKey) }
}

/// Drives one node through the epochs of the directory it follows. Keys are made for the current
/// epoch and the two after it, announced, and retired (files shredded) once their grace period
/// is over; the node is built on the first document that lists it, and from then on every
/// boundary, grace end and announcement happens at its absolute time.
public final class EpochDriver: Service, Sendable {
    /// How many epochs ahead keys exist and are announced (the current one plus these).
    public static let keysAhead: UInt64 = 2

    private let announcement: NodeAnnouncement
    private let follower: DirectoryFollower
    private let keys: EpochKeyStore
    private let replayFilters: EpochReplayFilters
    private let graceOverride: Double?
    private let makeNode: @Sendable (NodeEpochSetup) throws -> any EpochNode
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        var node: (any EpochNode)?
        /// The serial of the document the node runs on now.
        var installedSerial: UInt64?
        var retireAt: Double?
        var announcedThrough: UInt64?
        /// Epochs whose key must not be used: their replay filter could not be opened as it was.
        var refused: Set<UInt64> = []
        /// When the current document was last asked for while waiting to be listed.
        var lastListingCheck = -Double.infinity
        /// A refused or failed upload is retried from this time on, after a wait that doubles up to 30 s.
        var announceRetryAt = -Double.infinity
        var announceBackoff = 1.0
    }

    /// `makeNode`: builds the node on its first epoch.
    public init(announcement: NodeAnnouncement, follower: DirectoryFollower, keys: EpochKeyStore, grace: Double? = nil,
                replayFilters: EpochReplayFilters, makeNode: @escaping @Sendable (NodeEpochSetup) throws -> any EpochNode,
                logger: Logger = Logger(label: "loopix.epochs")) {
        self.announcement = announcement
        self.follower = follower
        self.keys = keys
        self.replayFilters = replayFilters
        self.graceOverride = grace
        self.makeNode = makeNode
        self.logger = logger
    }

    /// The node, once the directory listed it.
    public var node: (any EpochNode)? { state.withLockedValue { $0.node } }

    /// The grace period of `document`'s epoch: the node's own setting, else the one the
    /// authority published (how long the document stays valid after its epoch), so that a
    /// key lives exactly as long as the document that lists it.
    private func grace(_ document: DirectoryDocument) -> Double {
        graceOverride ?? max(0, document.validUntil - document.schedule.end(of: document.epoch))
    }

    /// Runs until graceful shutdown: follows the directory, builds the node when a document lists
    /// it and runs it, and moves it from epoch to epoch; the node's own graceful shutdown ends it.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.follower.follow { _ in } }
            group.addTask { try? await self.tickAtBoundaries() }
            var node = self.node
            while node == nil && !Task.isShuttingDownGracefully && !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                node = self.node
            }
            if let node { try await node.run() }
            group.cancelAll()
        }
        // The node has stopped processing: its filters can be made durable and clean.
        do { try replayFilters.closeAll() } catch {
            logger.error("cannot close the replay filters", metadata: ["error": "\(error)"])
        }
    }

    /// Steps at every epoch boundary, grace end and whole second of the wall clock (mapped onto
    /// the monotonic clock each time, so a wall-clock step does not stall it). The one caller of
    /// `step()` while running, so steps never overlap.
    private func tickAtBoundaries() async throws {
        let clock = ContinuousClock()
        while !Task.isCancelled {
            // One reading of the clock for the step and for the next wake-up: a step that saw the
            // moment just before a boundary must wake again at the boundary, not a second later.
            let now = Date().timeIntervalSince1970
            await step(now: now)
            var wake = (now + 1).rounded(.down)
            if let schedule = follower.schedule { wake = min(wake, schedule.end(of: schedule.epoch(at: now))) }
            if let retireAt = state.withLockedValue({ $0.retireAt }), retireAt > now { wake = min(wake, retireAt) }
            let wait = max(1, (wake - Date().timeIntervalSince1970) * 1000)
            try await Task.sleep(until: clock.now.advanced(by: .milliseconds(Int64(wait.rounded(.up)))), clock: clock)
        }
    }

    /// Does whatever is due now: announce keys, build or move the node, retire the previous key.
    /// Not to be called concurrently with itself (tests call it directly, with `now`).
    public func step(now: Double = Date().timeIntervalSince1970) async {
        guard let schedule = follower.schedule else { return }
        let current = schedule.epoch(at: now)
        // The switch first: nothing (an upload to a slow authority) may hold it past its time.
        do {
            try advance(to: current, now: now)
        } catch {
            logger.error("cannot run epoch", metadata: ["epoch": "\(current)", "error": "\(error)"])
        }
        retireIfDue(now: now)
        prepare(epoch: current + 1, now: now)
        await announce(through: current + Self.keysAhead, from: current, now: now)
        await checkListing(epoch: current, now: now)
    }

    /// Until a document lists this node, asks for the current one every two seconds once the
    /// keys are announced: the follower alone refreshes it eight times per epoch, which with
    /// hour-long epochs would keep a newly admitted node waiting for minutes.
    private func checkListing(epoch: UInt64, now: Double) async {
        let due = state.withLockedValue { s in
            guard s.node == nil, s.announcedThrough != nil, now >= s.lastListingCheck + 2 else { return false }
            s.lastListingCheck = now
            return true
        }
        if due { await follower.fetch(epoch: epoch, now: now) }
    }

    /// Makes sure keys exist for `first...last` and uploads a descriptor naming them, once per new
    /// last epoch (retried until the authority takes it, at first every step, then less often, so
    /// that a node its authority does not know yet does not flood it and the logs).
    private func announce(through last: UInt64, from first: UInt64, now: Double) async {
        guard (state.withLockedValue { s in (s.announcedThrough.map { $0 < last } ?? true) && now >= s.announceRetryAt }) else {
            return
        }
        do {
            let epochKeys = try keys.prepare(first...last)
            let body = NodeDescriptorBody(identity: announcement.identity.verifyingKey, role: announcement.role,
                                          host: announcement.host, port: announcement.port,
                                          clientPort: announcement.clientPort, epochKeys: epochKeys, issuedAt: now)
            if await follower.upload(try SignedNodeDescriptor(body, identity: announcement.identity)) {
                state.withLockedValue {
                    $0.announcedThrough = last
                    $0.announceRetryAt = -.infinity
                    $0.announceBackoff = 1
                }
                logger.info("keys announced", metadata: ["epochs": "\(first)...\(last)"])
            } else {
                state.withLockedValue {
                    $0.announceRetryAt = now + $0.announceBackoff
                    $0.announceBackoff = min($0.announceBackoff * 2, 30)
                }
            }
        } catch {
            logger.error("cannot prepare epoch keys", metadata: ["error": "\(error)"])
        }
    }

    /// Builds the node on `epoch`'s document, or moves it there, or takes a re-issued document.
    private func advance(to epoch: UInt64, now: Double) throws {
        guard let document = follower.document(for: epoch, now: now),
            document.nodes.contains(where: { $0.identity == announcement.identity.verifyingKey })
        else { return }
        let (node, serial, refused) = state.withLockedValue { ($0.node, $0.installedSerial, $0.refused.contains(epoch)) }
        if refused { return }
        if let node, node.epoch == epoch, serial == document.serial { return }
        if let node, node.epoch > epoch { return }
        let filter: ReplayFilter
        do {
            filter = try replayFilters.filter(for: epoch, lifetime: document.schedule.length + grace(document))
        } catch {
            // Using this key with a filter that may have lost tags would let replays through.
            state.withLockedValue { _ = $0.refused.insert(epoch) }
            logger.critical("the replay filter of this epoch cannot be used; its key will not be used again", metadata: [
                "epoch": "\(epoch)", "error": "\(error)",
            ])
            return
        }
        let setup = NodeEpochSetup(epoch: epoch, topology: document.topology, key: try keys.key(for: epoch),
                                   replayFilter: filter)
        if let node {
            let moving = node.epoch < epoch
            try node.install(setup)
            if moving {
                logger.info("moved to epoch", metadata: [
                    "epoch": "\(epoch)", "afterBoundaryMs": "\(Int((now - document.schedule.start(of: epoch)) * 1000))",
                ])
            }
            state.withLockedValue {
                $0.installedSerial = document.serial
                if moving { $0.retireAt = document.schedule.start(of: epoch) + grace(document) }
            }
        } else {
            // A node that starts just after a boundary serves the epoch before it through its
            // grace too, as a node that had been running would: senders lag behind the boundary,
            // and their packets carry that epoch's key (without it they were refused as bad_mac).
            let node: any EpochNode
            if epoch > 0, let earlier = startingSetup(for: epoch - 1, now: now) {
                node = try makeNode(earlier)
                try node.install(setup)
                state.withLockedValue { $0.retireAt = document.schedule.start(of: epoch) + grace(document) }
            } else {
                node = try makeNode(setup)
            }
            state.withLockedValue {
                $0.node = node
                $0.installedSerial = document.serial
            }
            logger.notice("listed by the directory; starting", metadata: ["epoch": "\(epoch)", "serial": "\(document.serial)"])
        }
    }

    /// The setup of `epoch` for a node starting after its end, if that epoch's grace still runs,
    /// its document lists this node with the key this node still holds on disk, and its filter opens.
    private func startingSetup(for epoch: UInt64, now: Double) -> NodeEpochSetup? {
        guard let document = follower.document(for: epoch, now: now), now < document.schedule.end(of: epoch) + grace(document),
            let listed = document.nodes.first(where: { $0.identity == announcement.identity.verifyingKey }),
            keys.epochsOnDisk.contains(epoch), !state.withLockedValue({ $0.refused.contains(epoch) }),
            let key = try? keys.key(for: epoch), key.publicKey == listed.sphinxKey.key,
            let filter = try? replayFilters.filter(for: epoch, lifetime: document.schedule.length + grace(document))
        else { return nil }
        return NodeEpochSetup(epoch: epoch, topology: document.topology, key: key, replayFilter: filter)
    }

    /// Opens the next epoch's replay filter ahead of its boundary (making its file takes disk
    /// flushes), so that the switch itself is a swap of what is already there.
    private func prepare(epoch: UInt64, now: Double) {
        guard let document = follower.document(for: epoch, now: now),
            !state.withLockedValue({ $0.refused.contains(epoch) })
        else { return }
        do { _ = try replayFilters.filter(for: epoch, lifetime: document.schedule.length + grace(document)) } catch {
            state.withLockedValue { _ = $0.refused.insert(epoch) }
            logger.critical("the replay filter of the next epoch cannot be used; its key will not be used", metadata: [
                "epoch": "\(epoch)", "error": "\(error)",
            ])
        }
    }

    /// After the grace period: the previous key leaves the node and its file is shredded.
    private func retireIfDue(now: Double) {
        let due: (any EpochNode)? = state.withLockedValue { s in
            guard let retireAt = s.retireAt, now >= retireAt, let node = s.node else { return nil }
            s.retireAt = nil
            return node
        }
        guard let node = due else { return }
        node.retirePrevious()
        keys.retire(before: node.epoch)
        replayFilters.retire(before: node.epoch)
    }
}
