// Starting the testnet's processes, noticing when one dies, and stopping them all.
import ChildProcesses
import Foundation
import LoopixNetwork

/// The testnet's child processes: started with their output in logs/, stopped with SIGTERM, then SIGKILL.
public final class TestnetSupervisor: Sendable {
    private let children: [(spec: TestnetProcessSpec, process: ChildProcess)]

    /// Starts every process of the layout: nodes first (mixes, then providers), clients once
    /// the nodes accept connections.
    public init(layout: TestnetLayout) async throws {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let environment = [parentProcessVariable: "\(getpid())"]
        let ordered = layout.processes.filter { $0.kind == .mix } + layout.processes.filter { $0.kind == .provider }
            + layout.processes.filter { $0.kind == .client }
        var children: [(spec: TestnetProcessSpec, process: ChildProcess)] = []
        var nodesReady = false
        for spec in ordered {
            if spec.kind == .client, !nodesReady {
                nodesReady = true
                await Self.waitForNodes(layout: layout, timeout: 10)
            }
            let log = layout.directory.appendingPathComponent("logs/\(spec.name).log")
            children.append((spec, try await ChildProcess.start(executable, spec.arguments, environment: environment, log: log)))
        }
        self.children = children
    }

    private static func waitForNodes(layout: TestnetLayout, timeout: Double) async {
        let deadline = Date().addingTimeInterval(timeout)
        for node in layout.topology.nodes {
            while Date() < deadline, !acceptsConnections(port: node.port) { try? await Task.sleep(for: .milliseconds(50)) }
        }
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
