// Starting the testnet's processes, noticing when one dies, and stopping them all.
import ChildProcesses
import Foundation
import LoopixMetrics
import LoopixNetwork

/// The testnet's child processes: started with their output in logs/, stopped with SIGTERM, then SIGKILL.
public final class TestnetSupervisor: Sendable {
    private let children: [(spec: TestnetProcessSpec, process: ChildProcess)]

    /// Starts every process of the layout: the authority, then the nodes (mixes, then
    /// providers), and the clients once the authority's current document lists every node and
    /// the nodes accept connections (or `nodesTimeout` seconds have passed).
    public init(layout: TestnetLayout, nodesTimeout: Double = 60) async throws {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let environment = [parentProcessVariable: "\(getpid())"]
        let ordered = [TestnetProcessSpec.Kind.authority, .mix, .provider, .client].flatMap { kind in
            layout.processes.filter { $0.kind == kind }
        }
        var children: [(spec: TestnetProcessSpec, process: ChildProcess)] = []
        var waited: Set<TestnetProcessSpec.Kind> = []
        for spec in ordered {
            if spec.kind == .mix, waited.insert(.mix).inserted {
                await Self.wait(until: Date().addingTimeInterval(10)) { acceptsConnections(port: layout.authorityPort) }
            }
            if spec.kind == .client, waited.insert(.client).inserted {
                let started = children
                await Self.waitForNodes(layout: layout, deadline: Date().addingTimeInterval(nodesTimeout)) {
                    started.contains { !$0.process.isRunning }
                }
            }
            let log = layout.directory.appendingPathComponent("logs/\(spec.name).log")
            children.append((spec, try await ChildProcess.start(executable, spec.arguments, environment: environment, log: log)))
        }
        self.children = children
    }

    /// Until the current document lists every node and each accepts connections, or a process died.
    private static func waitForNodes(layout: TestnetLayout, deadline: Date, died: () -> Bool) async {
        await wait(until: deadline) {
            let listed = await MetricSamples.scrape(port: layout.authorityPort, timeout: 0.5)?["loopix_directory_listed_nodes"] ?? 0
            return Int(listed) == layout.nodes.count || died()
        }
        for port in layout.nodes.flatMap({ [$0.port, $0.clientPort].compactMap { $0 } }) {
            await wait(until: deadline) { acceptsConnections(port: port) || died() }
        }
    }

    private static func wait(until deadline: Date, _ condition: () async -> Bool) async {
        while Date() < deadline, !(await condition()) { try? await Task.sleep(for: .milliseconds(100)) }
    }

    /// Processes that have exited on their own.
    public func exited() -> [(name: String, status: Int32)] {
        children.compactMap { child in child.process.exitStatus.map { (child.spec.name, $0) } }
    }

    /// Processes still running.
    public func running() -> [String] { children.filter { $0.process.isRunning }.map(\.spec.name) }

    /// SIGTERM to every running process of these kinds, SIGKILL to those still up after 8 seconds.
    public func terminate(kinds: Set<TestnetProcessSpec.Kind>) async {
        await withTaskGroup(of: Void.self) { group in
            for child in children where kinds.contains(child.spec.kind) {
                group.addTask { await child.process.stop() }
            }
        }
    }
}
