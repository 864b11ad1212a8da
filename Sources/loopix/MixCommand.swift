// `loopix mix`: run one mix from its configuration file until SIGTERM or SIGINT.
import ArgumentParser
import ChildProcesses
import LoopixConfiguration

struct MixCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mix",
        abstract: "Run a mix node until SIGTERM or SIGINT.",
        discussion: """
            The configuration file names the signed topology, the key file (from `loopix keygen`) and \
            optional settings (listenHost, port, metricsPort, workers, eventLoops, packetBuffers, \
            aqmTargetMs, aqmQueueLimit, replayCapacity, sendLoops, logLevel). The mix finds its entry \
            in the topology by the public key of its Sphinx key.
            """)

    @Option(help: "The mix's configuration file (JSON).")
    var config: String

    func run() async throws {
        let mix = try ConfiguredMix(file: try startNodeProcess(config), path: config)
        try await mix.node.runUntilTerminated(logger: mix.logger)
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
