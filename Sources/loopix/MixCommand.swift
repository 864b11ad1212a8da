// `loopix mix`: run one mix from its configuration file until SIGTERM or SIGINT.
import ArgumentParser
import Logging
import LoopixNetwork
import LoopixNode
import LoopixSphinx

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
        let file = try NodeConfigurationFile.load(config)
        bootstrapLogging(file.logLevel)
        watchParentProcess()
        let topology = try loadTopology(file.topology, authority: file.authority)
        let keys = try KeyFile.load(path: file.key)
        guard let me = topology.nodes.first(where: { $0.publicKey == keys.sphinxKey.publicKey }), me.role == .mix else {
            throw ConfigurationError(file: config, field: "key", problem: "no mix of the topology has this key")
        }
        var logger = Logger(label: "loopix.mix")
        logger[metadataKey: "node"] = "\(me.id.hex.prefix(12))"
        let node = try MixNode(id: me.id, secretKey: keys.sphinxKey, topology: topology,
                               configuration: file.nodeConfiguration(entry: me), logger: logger)
        let replayReset = BenchReplayReset(node: node, logger: logger)  // off unless LOOPIX_BENCH_REPLAY_RESET=1
        try await node.runUntilTerminated(logger: logger)
        replayReset?.cancel()
    }
}
