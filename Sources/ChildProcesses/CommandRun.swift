// Running a command to completion and collecting what it printed, with a time limit.
import Foundation
import Subprocess
import SystemPackage

/// What a finished command printed, and how it ended.
public struct CommandOutput: Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String
}

extension ChildProcess {
    /// Runs `executable arguments…` in `directory` with `input` on its standard input, to completion,
    /// and returns its output; after
    /// `timeout` seconds it is sent SIGTERM, then SIGKILL a second later. The output is read
    /// through swift-subprocess's own I/O thread, so a chatty child never blocks on a full pipe
    /// and no thread of the cooperative pool waits on a read.
    public static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil, input: String = "",
                           timeout: Double = 60) async throws -> CommandOutput {
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .seconds(1))]
        let configuration = Configuration(
            executable: .path(FilePath(executable)), arguments: Arguments(arguments),
            workingDirectory: directory.map { FilePath($0.path) }, platformOptions: options)
        let limit = 64 << 20
        let run = Task {
            try await Subprocess.run(configuration, input: .string(input), output: .string(limit: limit), error: .string(limit: limit))
        }
        let watchdog = Task {
            try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
            run.cancel()
        }
        defer { watchdog.cancel() }
        let result = try await run.value
        return CommandOutput(status: result.terminationStatus.exitStatus, standardOutput: result.standardOutput,
                             standardError: result.standardError)
    }
}
