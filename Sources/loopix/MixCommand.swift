// `loopix mix`: run one mix from its configuration file until SIGTERM or SIGINT.
import ArgumentParser
import ChildProcesses
import LoopixConfiguration

struct MixCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mix",
        abstract: "Run a mix node until SIGTERM or SIGINT.",
        discussion: """
            The configuration file names the key file (from `loopix keygen`) and either a directory to \
            follow (its identity is the key file's signing key; epoch keys and replay filters go under \
            `state`) or a signed topology and its authority key (it finds its entry by its Sphinx key), \
            and optional settings: docs/operations.md.
            """)

    @Option(help: "The mix's configuration file (JSON).")
    var config: String

    func run() async throws {
        try await ConfiguredNode(file: try startNodeProcess(config), path: config, role: .mix).runUntilTerminated()
    }
}

/// What every node process does first: read its configuration, set up its logging, and end
/// with the testnet or benchmark that started it.
func startNodeProcess(_ config: String) throws -> NodeConfigurationFile {
    let file = try NodeConfigurationFile.load(config)
    bootstrapLogging(file.logLevel)
    watchParentProcess()
    return file
}
