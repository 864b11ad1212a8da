// How many connections one source may hold on a listener: unfinished handshakes per address
// (before anyone is authenticated) and links per static key (after).
import LoopixNoise
import NIOConcurrencyHelpers

/// The per-address and per-peer connection counts of one listener; thread-safe.
public final class LinkLimits: Sendable {
    /// Unfinished handshakes one address may have open at once.
    public let maxPendingPerAddress: Int
    /// Established links one static key may hold at once.
    public let maxLinksPerPeer: Int
    private let state = NIOLockedValueBox(State())

    private struct State {
        var pending = BoundedCounts<String>()
        var links = BoundedCounts<NoisePublicKey>()
    }

    public init(maxPendingPerAddress: Int, maxLinksPerPeer: Int) {
        self.maxPendingPerAddress = maxPendingPerAddress
        self.maxLinksPerPeer = maxLinksPerPeer
    }

    /// Counts a handshake from `address`; false (and nothing counted) beyond the limit.
    func beginHandshake(from address: String) -> Bool {
        state.withLockedValue { $0.pending.take(address, limit: maxPendingPerAddress) }
    }

    func endHandshake(from address: String) {
        state.withLockedValue { $0.pending.give(address) }
    }

    /// Counts a link of `peer`; false (and nothing counted) beyond the limit.
    func admit(_ peer: NoisePublicKey) -> Bool {
        state.withLockedValue { $0.links.take(peer, limit: maxLinksPerPeer) }
    }

    func release(_ peer: NoisePublicKey) {
        state.withLockedValue { $0.links.give(peer) }
    }

    /// Addresses with unfinished handshakes and peers with links (tests: nothing may leak).
    public var counts: (pendingAddresses: Int, peers: Int) {
        state.withLockedValue { ($0.pending.keys, $0.links.keys) }
    }
}

/// How many of something each key holds, below a limit; a key that holds none is forgotten.
private struct BoundedCounts<Key: Hashable & Sendable>: Sendable {
    private var counts: [Key: Int] = [:]

    /// Counts one more for `key`; false (and nothing counted) when it already holds `limit`.
    mutating func take(_ key: Key, limit: Int) -> Bool {
        let n = counts[key, default: 0]
        guard n < limit else { return false }
        counts[key] = n + 1
        return true
    }

    mutating func give(_ key: Key) {
        let n = counts[key, default: 0]
        counts[key] = n > 1 ? n - 1 : nil
    }

    /// Keys holding at least one.
    var keys: Int { counts.count }
}
