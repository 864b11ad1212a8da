// The `loopix` command-line tool: one binary for every role.
import ArgumentParser

@main
struct LoopixCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loopix",
        abstract: "Loopix mix network: nodes, clients, testnet, benchmarks and simulation.",
        subcommands: LoopixCommand.allSubcommands
    )
}
