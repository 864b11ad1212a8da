// The list of `loopix` subcommands; each lives in its own file.
import ArgumentParser

extension LoopixCommand {
    static let allSubcommands: [any ParsableCommand.Type] = [
        DemoCommand.self,
        MixCommand.self,
    ]
}
