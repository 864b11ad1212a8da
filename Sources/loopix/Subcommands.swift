// The list of `loopix` subcommands; each lives in its own file.
import ArgumentParser

extension LoopixCommand {
    static let allSubcommands: [any ParsableCommand.Type] = [
        DemoCommand.self,
        KeygenCommand.self,
        TopologyCommand.self,
        MixCommand.self,
        ProviderCommand.self,
        ClientCommand.self,
        TestnetCommand.self,
        SimulateCommand.self,
        BenchCommand.self,
    ]
}
