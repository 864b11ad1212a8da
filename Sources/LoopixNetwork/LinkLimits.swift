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
        var pending: [String: Int] = [:]
        var links: [NoisePublicKey: Int] = [:]
    }

    public init(maxPendingPerAddress: Int, maxLinksPerPeer: Int) {
        self.maxPendingPerAddress = maxPendingPerAddress
        self.maxLinksPerPeer = maxLinksPerPeer
    }

    /// Counts a handshake from `address`; false (and nothing counted) beyond the limit.
    func beginHandshake(from address: String) -> Bool {
        state.withLockedValue { s in
            let n = s.pending[address, default: 0]
            guard n < maxPendingPerAddress else { return false }
            s.pending[address] = n + 1
            return true
        }
    }

    func endHandshake(from address: String) {
        state.withLockedValue { s in
            let n = s.pending[address, default: 0]
            s.pending[address] = n > 1 ? n - 1 : nil
        }
    }

    /// Counts a link of `peer`; false (and nothing counted) beyond the limit.
    func admit(_ peer: NoisePublicKey) -> Bool {
        state.withLockedValue { s in
            let n = s.links[peer, default: 0]
            guard n < maxLinksPerPeer else { return false }
            s.links[peer] = n + 1
            return true
        }
    }

    func release(_ peer: NoisePublicKey) {
        state.withLockedValue { s in
            let n = s.links[peer, default: 0]
            s.links[peer] = n > 1 ? n - 1 : nil
        }
    }

    /// Addresses with unfinished handshakes and peers with links (tests: nothing may leak).
    public var counts: (pendingAddresses: Int, peers: Int) {
        state.withLockedValue { ($0.pending.count, $0.links.count) }
    }
}
