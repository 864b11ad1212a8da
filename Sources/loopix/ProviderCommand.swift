// `loopix provider`: run a provider from its configuration file; register clients in its store.
import ArgumentParser
import LoopixConfiguration

struct ProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provider",
        abstract: "Run a provider (mailboxes and pulls) until SIGTERM or SIGINT.",
        subcommands: [Run.self, Register.self],
        defaultSubcommand: Run.self)

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the provider (the default).")
        @Option(help: "The provider's configuration file (JSON).") var config: String

        func run() async throws {
            try await ConfiguredNode(file: try startNodeProcess(config), path: config, role: .provider).runUntilTerminated()
        }
    }

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a client in the provider's mailbox file (works while the provider runs).")
        @Option(help: "The provider's configuration file.") var config: String
        @Option(help: "The client's mailbox id, hex.") var mailbox: String
        @Option(help: "The client's signing public key, hex.") var signingKey: String

        func run() async throws {
            try await ConfiguredProvider.register(mailbox: mailbox, signingKey: signingKey, file: try NodeConfigurationFile.load(config),
                                                  path: config)
            print("registered mailbox \(mailbox.prefix(16))…")
        }
    }
}
