// `loopix client daemon`: a client that runs unattended, sends demonstration messages to peers and
// writes its status to a file (what `loopix testnet` starts for each client).
import ArgumentParser
import Foundation
import LoopixClient
import LoopixSphinx

/// What a client daemon reports in its status file.
struct ClientStatus: Codable {
    var address: String
    var statistics: ClientStatistics
    var demoSent: Int
    var demoReceived: Int
    var repliesSent: Int
    var repliesReceived: Int
    /// End-to-end latencies of received demonstration messages, seconds (the most recent 512).
    var latencies: [Double]
    var updated: Double
}

extension ClientCommand {
    struct Daemon: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run unattended: send demonstration messages to peers, write a status file, stop on SIGTERM/SIGINT.")
        @OptionGroup var options: ClientCommand.Options
        @Option(help: "Write the status (JSON) here every second.") var statusFile: String
        @Option(help: "A file of peer addresses, one per line, to send demonstration messages to.") var peers: String?
        @Option(help: "Seconds between demonstration messages (0: none).") var demoInterval = 2.0
        @Option(help: "A name for this client in its messages.") var name = "client"

        func run() async throws {
            let session = try ClientCommand.Session(options.config)
            watchParentProcess()
            let client = session.client
            let me = client.address.description
            let peerAddresses = try peers.map {
                try String(contentsOfFile: $0, encoding: .utf8).split(separator: "\n").compactMap { RecipientAddress(String($0)) }
                    .filter { $0.description != me }
            } ?? []
            let state = DaemonState()
            client.start()

            let sender = Task {
                guard demoInterval > 0, !peerAddresses.isEmpty else { return }
                var seq = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(demoInterval))
                    seq += 1
                    let body = "demo|\(name)|\(seq)|\(Date().timeIntervalSince1970)"
                    if (try? client.send(Array(body.utf8), to: peerAddresses.randomElement()!, attachReplyBlock: seq % 4 == 0)) != nil {
                        state.update { $0.demoSent += 1 }
                    }
                }
            }
            let reader = Task {
                for await m in client.messages {
                    let text = String(decoding: m.body, as: UTF8.self)
                    let fields = text.split(separator: "|")
                    if m.inReplyTo != nil {
                        state.update { $0.repliesReceived += 1 }
                    } else if fields.count == 4, fields[0] == "demo", let sent = Double(fields[3]) {
                        let latency = Date().timeIntervalSince1970 - sent
                        state.update {
                            $0.demoReceived += 1
                            $0.latencies.append(latency)
                            if $0.latencies.count > 512 { $0.latencies.removeFirst() }
                        }
                    }
                    if let block = m.replyBlock, (try? client.reply(Array("reply|\(name)|\(fields.count > 2 ? fields[2] : "")".utf8), using: block)) != nil {
                        state.update { $0.repliesSent += 1 }
                    }
                }
            }
            let writer = Task {
                while !Task.isCancelled {
                    write(state: state, client: client)
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            _ = await waitForTerminationSignal()
            sender.cancel()
            writer.cancel()
            await session.stop()
            await reader.value  // the stream ends once stopped; messages already acknowledged are still counted
            write(state: state, client: client)
        }

        private func write(state: DaemonState, client: LoopixClient) {
            let s = state.snapshot
            let status = ClientStatus(address: client.address.description, statistics: client.statistics, demoSent: s.demoSent,
                                      demoReceived: s.demoReceived, repliesSent: s.repliesSent, repliesReceived: s.repliesReceived,
                                      latencies: s.latencies, updated: Date().timeIntervalSince1970)
            if let data = try? JSONEncoder().encode(status) {
                try? data.write(to: URL(fileURLWithPath: statusFile), options: .atomic)
            }
        }
    }
}

/// Counters of a client daemon's demonstration traffic.
private final class DaemonState: @unchecked Sendable {
    struct Values {
        var demoSent = 0
        var demoReceived = 0
        var repliesSent = 0
        var repliesReceived = 0
        var latencies: [Double] = []
    }
    private let lock = NSLock()
    private var values = Values()
    func update(_ body: (inout Values) -> Void) { lock.withLock { body(&values) } }
    var snapshot: Values { lock.withLock { values } }
}
