// Pulls on a fixed grid of deadlines: the period is the interval whatever a pull costs, and an
// overrun skips deadlines instead of bunching pulls.
import Foundation
import LoopixClient
import LoopixNetwork
import LoopixTestSupport
import NIOConcurrencyHelpers
import Testing

@Suite("Pull schedule")
struct PullScheduleTests {
    @Test("after a pull that ends within its slot, the next deadline is the following grid point")
    func withinSlot() {
        let s = PullSchedule(start: 10, interval: 0.5)
        // Deadline 0 (t = 10) served; the pull ended at 10.03.
        #expect(s.nextSlot(after: 0, now: 10.03) == 1)
        #expect(s.deadline(1) == 10.5)
        // Deadline 7 (t = 13.5) served; the pull ended at 13.9.
        #expect(s.nextSlot(after: 7, now: 13.9) == 8)
        #expect(s.deadline(8) == 14)
    }

    @Test("a pull that overruns its slot skips the missed deadlines rather than pulling at once")
    func overrun() {
        let s = PullSchedule(start: 0, interval: 0.05)
        // Deadline 3 (t = 0.15) served; the pull ended at 0.26, past deadlines 4 (0.2) and 5 (0.25).
        #expect(s.nextSlot(after: 3, now: 0.26) == 6)
        #expect(abs(s.deadline(6) - 0.3) < 1e-12)
        // Ending exactly on a deadline: that deadline is still due.
        #expect(s.nextSlot(after: 3, now: 0.25) == 5)
    }

    @Test("a deadline is never served twice, even if the clock reads before it")
    func monotone() {
        let s = PullSchedule(start: 5, interval: 1)
        #expect(s.nextSlot(after: 4, now: 8.5) == 5)
        #expect(s.nextSlot(after: 4, now: 9) == 5)
    }
}

/// A mailbox that answers every pull after `cost` seconds, recording when each pull began.
final class SlowMailbox: ClientTransport, @unchecked Sendable {
    let cost: Double
    private let starts = NIOLockedValueBox([Date]())
    init(cost: Double) { self.cost = cost }

    func send(_ packet: [UInt8]) async throws {}
    func pull(_ receive: @Sendable ([[UInt8]]) async -> [Bool]) async throws {
        starts.withLockedValue { $0.append(Date()) }
        try await Task.sleep(for: .milliseconds(Int(cost * 1000)))
        _ = await receive([])
    }
    func close() async {}
    var pullStarts: [Date] { starts.withLockedValue { $0 } }
}

@Suite("Pull timing")
struct PullTimingTests {
    /// The gaps between successive pull starts of a client with this interval and pull cost.
    func gaps(interval: Double, cost: Double, seconds: Double) async throws -> (gaps: [Double], missed: Int) {
        let net = try MemoryNetwork()
        let identity = ClientIdentity.generate(provider: net.topology.providers[0].id)
        let mailbox = SlowMailbox(cost: cost)
        let client = LoopixClient(core: try ClientCore(identity: identity, topology: net.topology),
                                  rates: ClientRates(payload: 0, loop: 0, drop: 0, pullInterval: interval),
                                  transport: mailbox, eventLoop: clientLoops.next())
        client.start()
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        await client.stop()
        let starts = mailbox.pullStarts
        return (zip(starts.dropFirst(), starts).map { $0.timeIntervalSince($1) }, client.statistics.pullDeadlinesMissed)
    }

    /// The middle value of `values`.
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    @Test("pulls start every interval even when each pull takes 40 % of it")
    func periodIsTheInterval() async throws {
        let (gaps, missed) = try await gaps(interval: 0.1, cost: 0.04, seconds: 2.05)
        // Sleeping the interval after each pull, as before, gives gaps of 0.14 s and 15 pulls.
        #expect(gaps.count >= 17, "\(gaps.count + 1) pulls in 2 s")
        let mean = gaps.reduce(0, +) / Double(max(gaps.count, 1))
        #expect(abs(mean - 0.1) < 0.02, "mean gap \(mean) s")
        #expect(abs(median(gaps) - 0.1) < 0.01, "median gap \(median(gaps)) s")
        // A host that stalls the process can make a pull overrun now and then.
        #expect(missed <= 2)
    }

    @Test("a pull that overruns its slot is followed by the next deadline ahead, not at once")
    func overrunSkips() async throws {
        // Each pull takes 1.3 intervals: it starts on every second deadline (gaps of 0.2 s; pulling
        // at once after an overrun would give 0.13 s, sleeping after each pull 0.23 s).
        let (gaps, missed) = try await gaps(interval: 0.1, cost: 0.13, seconds: 2.05)
        #expect(gaps.count >= 7)
        #expect(abs(median(gaps) - 0.2) < 0.015, "gaps \(gaps)")
        #expect(missed >= gaps.count)
    }
}
