// What `loopix client daemon` does for the testnet: demonstration messages to peers, replies to
// those that carry a reply block, and a status file the testnet's monitor reads.
import Foundation
import LoopixClient
import LoopixSphinx

/// What a client daemon reports in its status file.
public struct ClientStatus: Codable, Sendable {
    public var address: String
    public var statistics: ClientStatistics
    public var demoSent: Int
    public var demoReceived: Int
    public var repliesSent: Int
    public var repliesReceived: Int
    /// End-to-end latencies of received demonstration messages, seconds (the most recent 512).
    public var latencies: [Double]
    public var updated: Double
}

/// Sends a demonstration message to a random peer every `interval` seconds (every fourth with
/// a reply block), answers reply blocks, and writes the status every second. With a journal,
/// each demonstration message sent and received is a line there (`sent|received <name>|<n> <time>`,
/// and `stopping <time>` when the stop begins), so that a run can be checked message by message.
public final class DemoClient: Sendable {
    private let client: LoopixClient
    private let statusFile: URL
    private let state = DemoCounters()
    private let tasks: [Task<Void, Never>]
    private let journal: DemoJournal?

    /// Starts the client and the demonstration; `peers` may include this client's own address.
    public init(client: LoopixClient, peers: [RecipientAddress], interval: Double, name: String, statusFile: URL,
                journal: URL? = nil) throws {
        self.client = client
        self.statusFile = statusFile
        let journal = try journal.map { try DemoJournal(url: $0) }
        self.journal = journal
        let me = client.address.description
        let peers = peers.filter { $0.description != me }
        let state = self.state
        client.start()
        let sender = Task {
            guard interval > 0, !peers.isEmpty else { return }
            var sequence = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(interval))
                sequence += 1
                let body = "demo|\(name)|\(sequence)|\(Date().timeIntervalSince1970)"
                if (try? client.send(Array(body.utf8), to: peers.randomElement()!, attachReplyBlock: sequence % 4 == 0)) != nil {
                    state.update { $0.demoSent += 1 }
                    journal?.record("sent \(name)|\(sequence)")
                }
            }
        }
        let reader = Task {
            for await m in client.messages {
                let fields = String(decoding: m.body, as: UTF8.self).split(separator: "|")
                if m.inReplyTo != nil {
                    state.update { $0.repliesReceived += 1 }
                } else if fields.count == 4, fields[0] == "demo", let sent = Double(fields[3]) {
                    journal?.record("received \(fields[1])|\(fields[2])")
                    let latency = Date().timeIntervalSince1970 - sent
                    state.update {
                        $0.demoReceived += 1
                        $0.latencies.append(latency)
                        if $0.latencies.count > 512 { $0.latencies.removeFirst() }
                    }
                }
                if let block = m.replyBlock,
                    (try? client.reply(Array("reply|\(name)|\(fields.count > 2 ? fields[2] : "")".utf8), using: block)) != nil {
                    state.update { $0.repliesSent += 1 }
                }
            }
        }
        tasks = [sender, reader]
        let writer = Task { [statusFile] in
            while !Task.isCancelled {
                Self.write(state: state, client: client, to: statusFile)
                try? await Task.sleep(for: .seconds(1))
            }
        }
        // The writer is the last task; `stop` cancels it with the sender.
        writerTask = writer
    }

    private let writerTask: Task<Void, Never>

    /// Stops sending, lets `stopClient` end the client (its message stream then ends, after the
    /// last acknowledged pull), counts what that brought, and writes the final status.
    public func stop(stopClient: () async -> Void) async {
        journal?.record("stopping")
        tasks[0].cancel()
        writerTask.cancel()
        await stopClient()
        await tasks[1].value
        Self.write(state: state, client: client, to: statusFile)
    }

    private static func write(state: DemoCounters, client: LoopixClient, to url: URL) {
        let s = state.snapshot
        let status = ClientStatus(address: client.address.description, statistics: client.statistics, demoSent: s.demoSent,
                                  demoReceived: s.demoReceived, repliesSent: s.repliesSent, repliesReceived: s.repliesReceived,
                                  latencies: s.latencies, updated: Date().timeIntervalSince1970)
        if let data = try? JSONEncoder().encode(status) { try? data.write(to: url, options: .atomic) }
    }
}

/// Counters of a client daemon's demonstration traffic.
private final class DemoCounters: @unchecked Sendable {
    // `@unchecked Sendable`: `values` is only touched under `lock`.
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

/// The journal file of a demonstration client: one line per event, each ending with its Unix time.
private final class DemoJournal: Sendable {
    private let handle: FileHandle
    private let lock = NSLock()

    init(url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
        handle = try FileHandle(forWritingTo: url)
    }

    func record(_ event: String) {
        let line = Data("\(event) \(Date().timeIntervalSince1970)\n".utf8)
        lock.withLock { handle.write(line) }
    }
}
