// Takes DELIVER packets from the node's event loops and commits them to the store in batches.
import Dispatch
import LoopixNode
import LoopixSphinx
import NIOConcurrencyHelpers
import NIOCore

/// The provider's delivery sink: copies each packet, queues it, and commits batches on its own
/// queue (one disk flush per batch). A bounded backlog: past it, packets are refused and counted.
public final class MailboxWriter: DeliverySink, Sendable {
    public let store: MailboxStore
    private let metrics: ProviderMetrics
    private let maxBatch: Int
    private let maxBacklog: Int
    private let queue = DispatchQueue(label: "loopix.mailbox-writer")
    private let pending = NIOLockedValueBox(Pending())

    private struct Pending {
        var items: [(mailbox: SphinxAddress, packet: [UInt8], queued: NIODeadline)] = []
        var flushScheduled = false
    }

    public init(store: MailboxStore, metrics: ProviderMetrics, maxBatch: Int = 256, maxBacklog: Int = 65_536) {
        self.store = store
        self.metrics = metrics
        self.maxBatch = maxBatch
        self.maxBacklog = maxBacklog
    }

    public func deliver(mailbox: SphinxAddress, packet: UnsafeRawBufferPointer) {
        let copy = Array(packet)
        let queued = NIODeadline.now()
        let schedule: Bool? = pending.withLockedValue { p in
            guard p.items.count < maxBacklog else { return nil }
            p.items.append((mailbox, copy, queued))
            if p.flushScheduled { return false }
            p.flushScheduled = true
            return true
        }
        switch schedule {
        case nil: metrics.refused[.backlog]?.increment()
        case true?: queue.async { self.flush() }
        case false?: break
        }
    }

    private func flush() {
        while true {
            let batch = pending.withLockedValue { p -> [(mailbox: SphinxAddress, packet: [UInt8], queued: NIODeadline)] in
                let n = min(maxBatch, p.items.count)
                let batch = Array(p.items.prefix(n))
                p.items.removeFirst(n)
                if batch.isEmpty { p.flushScheduled = false }
                return batch
            }
            metrics.backlog.record(pending.withLockedValue { $0.items.count })
            if batch.isEmpty { return }
            do {
                let outcomes = try store.store(batch.map { ($0.mailbox, $0.packet) })
                let committed = NIODeadline.now()
                for (item, outcome) in zip(batch, outcomes) {
                    switch outcome {
                    case .stored:
                        metrics.stored.increment()
                        metrics.commitDelay.recordNanoseconds((committed - item.queued).nanoseconds)
                    case .mailboxFull: metrics.refused[.mailboxFull]?.increment()
                    case .unknownMailbox: metrics.refused[.unknownMailbox]?.increment()
                    }
                }
            } catch {
                metrics.refused[.storeError]?.increment(by: batch.count)
            }
        }
    }

    /// Waits until everything queued so far is committed (graceful shutdown, tests).
    public func drain() {
        queue.sync {}
        while pending.withLockedValue({ !$0.items.isEmpty || $0.flushScheduled }) { queue.sync {} }
    }
}
