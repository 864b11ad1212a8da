// What a client remembers of the packets it read, so that one served twice (its provider
// re-sends what was pulled but not acknowledged before a crash) is read once.
import LoopixSphinx
import NIOConcurrencyHelpers

/// Replay tags per epoch of reception: a packet is new when no kept filter holds its tag. The
/// filters of the current and the previous epoch are kept (a re-sent packet comes back at the
/// next pull, long before that); older ones are dropped, so the state never fills up in a
/// long-lived client. A filter that is full refuses to record: the caller then must not
/// acknowledge the packet (it stays in the mailbox and is read again later) and says so.
public final class ClientReplayState: Sendable {
    /// Why a tag could not be judged new.
    public enum Outcome: Sendable, Equatable {
        case new
        case seen
        /// The current epoch's filter is full: the tag was not recorded.
        case full
    }

    public let capacityPerEpoch: UInt64
    private let filters = NIOLockedValueBox<[(epoch: UInt64, filter: ReplayFilter)]>([])

    public init(capacityPerEpoch: UInt64 = 100_000) {
        self.capacityPerEpoch = capacityPerEpoch
    }

    /// Records `tag` under `epoch` unless a kept filter holds it already.
    public func record(_ tag: ReplayTag, epoch: UInt64) throws -> Outcome {
        try filters.withLockedValue { filters in
            if filters.last.map({ $0.epoch < epoch }) ?? true {
                filters.append((epoch, try ReplayFilter(capacity: capacityPerEpoch, epoch: epoch)))
                filters = Array(filters.suffix(2))
            }
            guard !filters.contains(where: { $0.filter.contains(tag) }) else { return .seen }
            do {
                try filters.last!.filter.insert(tag)
                return .new
            } catch SphinxError.replay {
                return .seen
            } catch {
                return .full
            }
        }
    }

    /// Epochs whose filters are kept.
    public var epochs: [UInt64] { filters.withLockedValue { $0.map(\.epoch) } }
}
