// The `loopix` command-line tool: one binary for every role; each subcommand lives in its own file.
import ArgumentParser

@main
struct LoopixCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loopix",
        abstract: "Loopix mix network: nodes, clients, testnet, benchmarks and simulation.",
        subcommands: [
            DemoCommand.self, KeygenCommand.self, TopologyCommand.self, AuthorityCommand.self, MixCommand.self,
            ProviderCommand.self, ClientCommand.self, TestnetCommand.self, SimulateCommand.self, BenchCommand.self,
        ]
    )
}
