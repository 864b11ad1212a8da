// `loopix authority`: run the directory authority; admit nodes to its registry; show its state.
import ArgumentParser
import ChildProcesses
import Foundation
import LoopixConfiguration
import LoopixNetwork

struct AuthorityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authority",
        abstract: "Run the directory authority until SIGTERM or SIGINT; admit nodes; show the registry and documents.",
        discussion: """
            The configuration file names the authority's key file, listenHost and port (documents, \
            descriptors and GET /metrics), the state folder, the registry file, epochLength (default \
            3600 s), genesis (default 0), the network's parameters, and optionally grace and logLevel.
            """,
        subcommands: [Run.self, Register.self, Show.self],
        defaultSubcommand: Run.self)

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the authority (the default).")
        @Option(help: "The authority's configuration file (JSON).") var config: String

        func run() async throws {
            let file = try AuthorityConfigurationFile.load(config)
            bootstrapLogging(file.logLevel)
            watchParentProcess()
            try await ConfiguredAuthority(file: file).runUntilTerminated()
        }
    }

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Admit a node by its identity (its key file's signing public key), or change its entry.")
        @Option(help: "The authority's configuration file.") var config: String
        @Option(help: "The node's signing public key, hex (`loopix keygen` prints it).") var identity: String
        @Option(help: "mix or provider.") var role: String
        @Option(help: "Mixes: the layer (default: the authority keeps layers even).") var layer: Int?
        @Option(help: "A name for people (logs, views).") var name: String?

        func run() throws {
            guard let role = NodeRole(rawValue: role) else { throw ValidationError("--role must be mix or provider") }
            let node = try ConfiguredAuthority.register(identity: identity, role: role, layer: layer, name: name,
                                                        file: try AuthorityConfigurationFile.load(config), path: config)
            print("registered \(node.role.rawValue) \(node.identity.hex.prefix(16))…\(node.layer.map { " in layer \($0)" } ?? "")")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the registry and the current and next documents.")
        @Option(help: "The authority's configuration file.") var config: String

        func run() throws {
            let o = try ConfiguredAuthority.overview(file: try AuthorityConfigurationFile.load(config))
            print("registry: \(o.registry.nodes.count) nodes")
            for n in o.registry.nodes {
                print("  \(n.role.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) layer \(o.layers[n.identity].map(String.init) ?? "-")  \(n.identity.hex)  \(n.name ?? "")")
            }
            for (label, document) in [("current", o.current), ("next", o.next)] {
                guard let d = document else { print("\(label) epoch: no document"); continue }
                print("\(label) epoch \(d.epoch) (from \(Int(d.validFrom)), valid until \(Int(d.validUntil))): serial \(d.serial), \(d.nodes.count) nodes")
                for n in d.nodes { print("  \(n.role.rawValue) \(n.layer) \(n.host):\(n.port)  \(n.identity.hex.prefix(16))…") }
            }
        }
    }
}
