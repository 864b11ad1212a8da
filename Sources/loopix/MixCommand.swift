// `loopix mix`: run one mix (or relaying provider) node from a topology document and a key file.
import ArgumentParser
import Foundation
import Logging
import LoopixNetwork
import LoopixNode
import LoopixSphinx

struct MixCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mix",
        abstract: "Run a mix node until SIGTERM or SIGINT.",
        discussion: "The node finds itself in the topology by the public key of its secret key.")

    @Option(help: "Topology document (JSON).")
    var topology: String

    @Option(help: "File holding the node's X25519 secret key as 64 hex digits.")
    var key: String

    @Option(help: "Address to listen on; the port defaults to the topology's.")
    var listen: String = "0.0.0.0"

    @Option(help: "Port to listen on, overriding the topology's.")
    var port: Int?

    @Option(help: "Port of the Prometheus endpoint (GET /metrics); off if not given.")
    var metricsPort: Int?

    @Option(help: "Address of the Prometheus endpoint.")
    var metricsHost: String = "127.0.0.1"

    @Option(help: "Crypto worker threads (default: the core count).")
    var workers: Int?

    @Option(help: "Target sojourn of the crypto queue, in milliseconds.")
    var aqmTarget: Double?

    @Option(help: "Packet buffers: the node's whole packet memory.")
    var buffers: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "loopix.mix")

        let document = try JSONDecoder().decode(Topology.self, from: Data(contentsOf: URL(fileURLWithPath: topology)))
        let keyText = try String(contentsOfFile: key, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let keyBytes = [UInt8](hexString: keyText) else { throw ValidationError("the key file must hold 64 hex digits") }
        let secret = try SecretKey(bytes: keyBytes)
        guard let me = document.nodes.first(where: { $0.publicKey == secret.publicKey }) else {
            throw ValidationError("no node of the topology has this key's public key \(secret.publicKey)")
        }

        var configuration = NodeConfiguration()
        configuration.listenHost = listen
        configuration.listenPort = port ?? me.port
        configuration.metricsHost = metricsHost
        configuration.metricsPort = metricsPort
        if let workers { configuration.workers = workers }
        if let aqmTarget { configuration.aqm.targetDelay = aqmTarget / 1000 }
        if let buffers { configuration.packetBuffers = buffers }

        let node = try MixNode(id: me.id, secretKey: secret, topology: document, configuration: configuration, logger: logger)
        try await node.runUntilTerminated(logger: logger)
    }
}
