// When a crypto worker wakes an event loop for the packets it left in that loop's inbox: the
// one place this is decided (`DelayScheduler` applies it, `CryptoWorkerPool` and
// `InboundPacketHandler` call it at the three moments below).

/// The wake-up policy between the crypto workers and the delay schedulers.
///
/// A wake-up costs a cross-thread `eventfd` write and, on the loop, a wake from `epoll`: several
/// microseconds of CPU, about as much as a tenth of the crypto. So results are gathered where
/// that costs them no latency, and never left behind:
/// 1. **A worker hands a result over** (`DelayScheduler.handOver`): while the crypto queue is
///    short the loop is woken at once, since the result would otherwise wait for nothing. Behind
///    a longer backlog it is woken only once `threshold(backlog:)` results wait: each of them
///    waited far longer than that in the queue, and one wake-up and one socket write serve them
///    all.
/// 2. **A worker runs out of work** (`DelayScheduler.wakeIfWaiting`, from the pool): it wakes
///    every loop that has anything waiting, so that no result waits for a wake-up that the
///    next packet would have brought.
/// 3. **A loop is awake anyway** after handling a read burst (`DelayScheduler.takeInbox`, from
///    the inbound handler): it takes in its inbox without being woken.
enum WakePolicy {
    /// The most results that wait in an inbox before a worker wakes its loop.
    static let maxUnwoken = 16

    /// How many results may wait in an inbox before the loop is woken, with `backlog` packets
    /// still in the crypto queue: 1 (at once) for a short backlog, a quarter of it for a longer
    /// one, never more than `maxUnwoken`.
    @inline(__always)
    static func threshold(backlog: Int) -> Int {
        min(maxUnwoken, max(1, backlog / 4))
    }
}
