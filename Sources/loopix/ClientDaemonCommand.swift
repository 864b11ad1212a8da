// `loopix client daemon`: a client that runs unattended, sends demonstration messages to peers and
// writes its status to a file (what `loopix testnet` starts for each client).
import ArgumentParser
import ChildProcesses
import Foundation
import LoopixClient
import LoopixTestnet

extension ClientCommand {
    struct Daemon: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run unattended: send demonstration messages to peers, write a status file, stop on SIGTERM/SIGINT.")
        @OptionGroup var options: ClientCommand.Options
        @Option(help: "Write the status (JSON) here every second.") var statusFile: String
        @Option(help: "Write a line per demonstration message sent and received here.") var journal: String?
        @Option(help: "A file of peer addresses, one per line, to send demonstration messages to.") var peers: String?
        @Option(help: "Seconds between demonstration messages (0: none).") var demoInterval = 2.0
        @Option(help: "A name for this client in its messages.") var name = "client"

        func run() async throws {
            let session = try await ClientCommand.session(options.config)
            watchParentProcess()
            let peerAddresses = try peers.map {
                try String(contentsOfFile: $0, encoding: .utf8).split(separator: "\n").compactMap { RecipientAddress(String($0)) }
            } ?? []
            let demo = try DemoClient(client: session.client, peers: peerAddresses, interval: demoInterval, name: name,
                                      statusFile: URL(fileURLWithPath: statusFile), journal: journal.map(URL.init(fileURLWithPath:)))
            _ = await waitForTerminationSignal()
            await demo.stop { await session.stop() }
        }
    }
}
