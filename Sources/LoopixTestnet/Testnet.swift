// A testnet's run from start to stop: the processes started, read every interval until a
// deadline, a stop request or a death, then the clients stopped before the nodes.
import Foundation

/// A running testnet: its files, its processes and its monitor.
public final class Testnet: Sendable {
    public let layout: TestnetLayout
    private let supervisor: TestnetSupervisor
    private let monitor: TestnetMonitor
    public let started = Date()

    /// Starts every process of `layout`.
    public init(layout: TestnetLayout) async throws {
        self.layout = layout
        supervisor = try await TestnetSupervisor(layout: layout)
        monitor = TestnetMonitor(layout: layout)
    }

    /// Why a run ended.
    public enum End: Sendable, Equatable {
        case durationReached
        case stopRequested
        /// A process exited by itself: its name and exit status.
        case processExited(name: String, status: Int32)
    }

    /// Reads the testnet every `interval` and hands each reading to `onSample` with the seconds
    /// since the start, until `duration` seconds have passed (nil: no limit), `stopRequested`
    /// holds, or a process exits.
    public func run(duration: Double?, interval: Duration = .seconds(1), stopRequested: @Sendable () -> Bool = { false },
                    onSample: (TestnetView, Double) -> Void) async -> End {
        while true {
            try? await Task.sleep(for: interval)
            onSample(await monitor.sample(), Date().timeIntervalSince(started))
            if let dead = supervisor.exited().first { return .processExited(name: dead.name, status: dead.status) }
            if let duration, Date().timeIntervalSince(started) >= duration { return .durationReached }
            if stopRequested() { return .stopRequested }
        }
    }

    /// Stops the clients, reads the quiet testnet, then stops the nodes and the authority: the
    /// last reading and the processes still running afterwards.
    public func stop() async -> (final: TestnetView, leftovers: [String]) {
        await supervisor.terminate(kinds: [.client])
        let final = await monitor.sample()
        await supervisor.terminate(kinds: [.provider, .mix])
        await supervisor.terminate(kinds: [.authority])
        return (final, supervisor.running())
    }
}
