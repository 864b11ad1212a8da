// `loopix testnet`: a whole Loopix network on loopback, one process per node and client, with a live view.
import ArgumentParser
import ChildProcesses
import Foundation
import LoopixSphinx
import LoopixTestnet

struct TestnetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "testnet",
        abstract: "Start a whole network on loopback (separate processes), show it working, stop it all on Ctrl-C.",
        discussion: """
            Generates keys, a directory authority's registry and a configuration per process in --dir, starts \
            the authority, the mixes and providers (they announce their epoch keys and are listed) and the \
            clients, shows the key epoch, packets per second, messages delivered, loops returned, drops and \
            latency, and prints a summary (--json for machines) when stopped or after --duration seconds.
            """)

    @Option(help: "Working directory (created; an earlier testnet's files there are replaced).")
    var dir = ".loopix-testnet"
    @Option(help: "Mix layers.") var layers = 3
    @Option(help: "Mixes per layer.") var mixesPerLayer = 2
    @Option(help: "Providers.") var providers = 2
    @Option(help: "Clients.") var clients = 4
    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).") var duration: Double?
    @Option(help: "Mean per-hop delay in milliseconds (1/µ).") var meanDelayMs = 20.0
    @Option(help: "λP: client payload rate per second.") var payloadRate = 4.0
    @Option(help: "λL: client loop rate per second.") var loopRate = 2.0
    @Option(help: "λD: client drop rate per second.") var dropRate = 2.0
    @Option(help: "λM: loops per second of each mix.") var mixLoopRate = 2.0
    @Option(help: "K: packets in every pull answer.") var pullSize = 8
    @Option(help: "Seconds between a client's pulls.") var pullInterval = 0.5
    @Option(help: "Seconds between each client's demonstration messages (0: none).") var demoInterval = 2.0
    @Option(help: "Crypto workers per node.") var workers = 1
    @Option(help: "Packet suite of the whole network: v1 or kem (one X25519 per hop).") var suite = PacketSuite.v1
    @Option(help: "Seconds per key epoch (epochs start at whole multiples of it).") var epochSeconds = 20.0
    @Flag(help: "Print the final summary as JSON on standard output (the live view goes to standard error).")
    var json = false
    @Flag(help: "No live view; a line of progress every few seconds.") var quiet = false

    func validate() throws {
        guard (1...8).contains(layers) else { throw ValidationError("--layers must be 1...8") }
        guard layers + 3 <= 6 else { throw ValidationError("--layers must be at most 3 with the standard geometry (6 hops)") }
        guard (1...16).contains(mixesPerLayer) else { throw ValidationError("--mixes-per-layer must be 1...16") }
        guard (1...16).contains(providers) else { throw ValidationError("--providers must be 1...16") }
        guard (1...64).contains(clients) else { throw ValidationError("--clients must be 1...64") }
        guard meanDelayMs > 0 else { throw ValidationError("--mean-delay-ms must be positive") }
        guard payloadRate >= 0, loopRate >= 0, dropRate >= 0, mixLoopRate >= 0 else {
            throw ValidationError("rates must not be negative")
        }
        guard pullInterval > 0, (1...1024).contains(pullSize) else { throw ValidationError("--pull-interval > 0, --pull-size 1...1024") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
        guard epochSeconds >= 5 else { throw ValidationError("--epoch-seconds must be at least 5") }
    }

    func run() async throws {
        let directory = URL(fileURLWithPath: dir).standardizedFileURL
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let layout = try TestnetLayout.create(in: directory, options: .init(
            layers: layers, mixesPerLayer: mixesPerLayer, providers: providers, clients: clients, meanDelayMs: meanDelayMs,
            payloadRate: payloadRate, loopRate: loopRate, dropRate: dropRate, mixLoopRate: mixLoopRate, pullSize: pullSize,
            pullInterval: pullInterval, demoInterval: demoInterval, workers: workers, suite: suite,
            epochSeconds: epochSeconds))
        let out = Output(toStandardError: json)
        out.line("testnet in \(directory.path): \(layers) layers × \(mixesPerLayer) mixes, \(providers) providers, \(clients) clients, \(suite) packets")
        out.line("directory authority: http://127.0.0.1:\(layout.authorityPort), \(Int(epochSeconds)) s epochs; logs in \(directory.appendingPathComponent("logs").path)")

        let testnet = try await Testnet(layout: layout)
        let interactive = !quiet && isatty(json ? 2 : 1) != 0
        // Stop on Ctrl-C/SIGTERM, at --duration, or if a process dies.
        let signalled = StopFlag()
        let stop = Task {
            _ = await waitForTerminationSignal()
            signalled.set()
        }
        var lastLine = Date.distantPast
        let end = await testnet.run(duration: duration, stopRequested: { signalled.isSet }) { view, elapsed in
            if interactive {
                out.screen(view.render(elapsed: elapsed, epochLength: epochSeconds))
            } else if Date().timeIntervalSince(lastLine) >= 5 {
                out.line(view.progressLine(elapsed: elapsed))
                lastLine = Date()
            }
        }
        stop.cancel()
        let (final, leftovers) = await testnet.stop()
        let reason = switch end {
        case .durationReached: "duration reached"
        case .stopRequested: "stopped by signal"
        case .processExited(let name, let status): "\(name) exited unexpectedly (status \(status)); see logs/\(name).log"
        }
        let summary = final.summary(elapsed: Date().timeIntervalSince(testnet.started), reason: reason, processesLeft: leftovers.count)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            out.line(summary.text)
        }
        flushOutput()
        if case .processExited = end { throw ExitCode(1) }
        if !leftovers.isEmpty { throw ExitCode(1) }
    }
}

/// A flag one task sets and another polls.
final class StopFlag: @unchecked Sendable {
    // `@unchecked Sendable`: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// Where the live view and the messages go.
struct Output {
    let toStandardError: Bool
    func line(_ text: String) { write(text + "\n") }
    func screen(_ text: String) { write("\u{1B}[H\u{1B}[2J" + text + "\n") }
    private func write(_ text: String) {
        FileHandle(fileDescriptor: toStandardError ? 2 : 1).write(Data(text.utf8))
    }
}
