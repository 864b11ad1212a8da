// `loopix client`: a client from its configuration file, interactive or scripted (send, receive).
import ArgumentParser
import Foundation
import LoopixClient
import LoopixConfiguration
import LoopixSphinx

struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Run a client: interactively, or to send or receive from a script.",
        subcommands: [Interactive.self, Send.self, Receive.self, Address.self, Daemon.self],
        defaultSubcommand: Interactive.self)

    struct Options: ParsableArguments {
        @Option(help: "The client's configuration file (JSON).") var config: String
    }

    /// The client a configuration file describes, logging at its level (`quiet`: warnings and worse only).
    static func session(_ path: String, quiet: Bool = false) async throws -> ConfiguredClient {
        let file = try ClientConfigurationFile.load(path)
        bootstrapLogging(quiet ? "warning" : file.logLevel)
        return try await ConfiguredClient(file: file, path: path)
    }

    struct Address: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print this client's address (what others send to).")
        @OptionGroup var options: Options
        func run() throws {
            print(try ConfiguredClient.address(file: try ClientConfigurationFile.load(options.config)))
        }
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send one message and exit once it has left.")
        @OptionGroup var options: Options
        @Option(help: "The recipient's address (loopix1:…).") var to: String
        @Option(help: "The message text.") var message: String
        @Flag(help: "Attach a reply block so that the recipient can answer.") var replyBlock = false
        @Option(help: "Give up after this many seconds.") var timeout = 60.0

        func run() async throws {
            guard let recipient = RecipientAddress(to) else { throw ValidationError("--to is not a loopix1 address") }
            let session = try await ClientCommand.session(options.config)
            do {
                try session.client.send(Array(message.utf8), to: recipient, attachReplyBlock: replyBlock)
            } catch {
                await session.stop()
                throw ValidationError("\(error)")
            }
            session.client.start()
            let deadline = Date().addingTimeInterval(timeout)
            while session.client.statistics.sentReal == 0 && Date() < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let sent = session.client.statistics.sentReal > 0
            await session.stop()
            guard sent else { throw ValidationError("the message did not leave within \(timeout) s (is the provider up?)") }
            print("sent")
        }
    }

    struct Receive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print messages as they arrive (one per line).")
        @OptionGroup var options: Options
        @Option(help: "Exit after this many messages.") var count: Int?
        @Option(help: "Exit after this many seconds (failing if --count was not reached).") var timeout: Double?
        @Flag(help: "One JSON object per message.") var json = false

        func run() async throws {
            let session = try await ClientCommand.session(options.config)
            session.client.start()
            let client = session.client
            let received = Counter()
            // Prints every message until the stream ends: the stop below ends it only after the
            // last pull was acknowledged, so whatever that pull brought is printed too.
            let reader = Task {
                for await m in client.messages {
                    let text = String(decoding: m.body, as: UTF8.self)
                    if json {
                        let object: [String: Any] = ["body": text, "replyBlock": m.replyBlock != nil, "isReply": m.inReplyTo != nil]
                        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                        print(String(decoding: data, as: UTF8.self))
                    } else {
                        print(text)
                    }
                    flushOutput()
                    received.increment()
                }
            }
            let deadline = timeout.map { Date().addingTimeInterval($0) }
            while !(count.map { received.value >= $0 } ?? false) && !(deadline.map { Date() >= $0 } ?? false) {
                try? await Task.sleep(for: .milliseconds(20))
            }
            await session.stop()
            await reader.value
            if let count, received.value < count { throw ExitCode(1) }
        }
    }

    struct Interactive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read commands from the terminal: send ADDRESS TEXT, reply N TEXT, address, stats, quit.")
        @OptionGroup var options: Options

        func run() async throws {
            let session = try await ClientCommand.session(options.config, quiet: true)
            let client = session.client
            client.start()
            print("address: \(client.address)")
            print("commands: send ADDRESS TEXT | send+ ADDRESS TEXT (with a reply block) | reply N TEXT | address | stats | quit")
            let inbox = InboxPrinter()
            let printer = Task {
                for await m in client.messages {
                    let n = inbox.add(m)
                    let tag = m.replyLabel
                    print("\n[\(n)]\(tag) \(String(decoding: m.body, as: UTF8.self))\(m.replyBlock != nil ? "  (reply with: reply \(n) TEXT)" : "")")
                    print("> ", terminator: "")
                    flushOutput()
                }
            }
            print("> ", terminator: "")
            flushOutput()
            while let line = readLine() {
                let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
                switch parts.first ?? "" {
                case "send", "send+":
                    guard parts.count == 3, let to = RecipientAddress(parts[1]) else {
                        print("usage: send ADDRESS TEXT")
                        break
                    }
                    do {
                        try client.send(Array(parts[2].utf8), to: to, attachReplyBlock: parts[0] == "send+")
                        print("queued (\(client.pendingMessages) waiting)")
                    } catch { print("error: \(error)") }
                case "reply":
                    guard parts.count == 3, let n = Int(parts[1]), let block = inbox.replyBlock(n) else {
                        print("usage: reply N TEXT (N: a received message with a reply block)")
                        break
                    }
                    do { try client.reply(Array(parts[2].utf8), using: block); print("queued") } catch { print("error: \(error)") }
                case "address": print(client.address)
                case "stats":
                    let s = client.statistics
                    print("sent real \(s.sentReal) drop \(s.sentDrop) loop \(s.sentLoop); received \(s.messagesReceived), loops back \(s.loopsReturned), pulls \(s.pulls) (failed \(s.pullFailures))")
                case "quit", "exit":
                    await session.stop()
                    await printer.value
                    return
                case "": break
                default: print("unknown command")
                }
                print("> ", terminator: "")
                flushOutput()
            }
            await session.stop()
            await printer.value
        }
    }
}

extension ReceivedMessage {
    fileprivate var replyLabel: String { inReplyTo != nil ? " (reply)" : "" }
}

/// The messages shown in an interactive session, numbered from 1.
private final class InboxPrinter: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [ReceivedMessage] = []

    func add(_ m: ReceivedMessage) -> Int { lock.withLock { messages.append(m); return messages.count } }
    func replyBlock(_ n: Int) -> ReplyBlock? { lock.withLock { (1...messages.count).contains(n) ? messages[n - 1].replyBlock : nil } }
}

/// A count shared between the reader and the waiting loop.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}
