// Starting the testnet's processes, noticing when one dies, and stopping them all.
import Foundation
import LoopixNetwork

/// The testnet's child processes: started with their output in logs/, stopped with SIGTERM, then SIGKILL.
final class Supervisor: @unchecked Sendable {
    struct Child {
        let spec: TestnetProcessSpec
        let process: Process
    }

    private(set) var children: [Child] = []
    private var stopping = false

    /// Starts every process of the layout: nodes first (mixes, then providers), clients last.
    init(layout: TestnetLayout) throws {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var environment = ProcessInfo.processInfo.environment
        environment["LOOPIX_PARENT_PID"] = "\(getpid())"
        let ordered = layout.processes.filter { $0.kind == .mix } + layout.processes.filter { $0.kind == .provider }
            + layout.processes.filter { $0.kind == .client }
        for spec in ordered {
            if spec.kind == .client, !children.isEmpty {
                // Give the nodes a moment to bind before clients connect.
                waitForNodes(layout: layout, timeout: 10)
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = spec.arguments
            process.environment = environment
            let log = layout.directory.appendingPathComponent("logs/\(spec.name).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
            children.append(Child(spec: spec, process: process))
        }
    }

    private var nodesReady = false
    private func waitForNodes(layout: TestnetLayout, timeout: Double) {
        guard !nodesReady else { return }
        nodesReady = true
        let deadline = Date().addingTimeInterval(timeout)
        for node in layout.topology.nodes {
            while Date() < deadline, !acceptsConnections(port: node.port) { Thread.sleep(forTimeInterval: 0.05) }
        }
    }

    /// Processes that have exited on their own.
    func exited() -> [(name: String, status: Int32)] {
        children.filter { !$0.process.isRunning }.map { ($0.spec.name, $0.process.terminationStatus) }
    }

    /// Processes still running.
    func running() -> [String] { children.filter { $0.process.isRunning }.map(\.spec.name) }

    /// SIGTERM to every running process of these kinds; SIGKILL to those still up after 8 seconds.
    func terminate(kinds: Set<TestnetProcessSpec.Kind>) async {
        let targets = children.filter { kinds.contains($0.spec.kind) && $0.process.isRunning }
        for c in targets { kill(c.process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(8)
        while Date() < deadline, targets.contains(where: { $0.process.isRunning }) {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for c in targets where c.process.isRunning {
            kill(c.process.processIdentifier, SIGKILL)
            c.process.waitUntilExit()
        }
    }
}
