// The node `loopix bench node` measures: its keys, topology and configuration, the process it
// runs in (`loopix bench serve-node`), and the replay epochs that let the benchmark resend its
// pre-built packets.
import ChildProcesses
import Dispatch
import Foundation
import LoopixConfiguration
import LoopixMetrics
import LoopixNetwork
import LoopixNode
import LoopixNoise
import LoopixSphinx

/// Keys, a signed two-node topology (the node as a mix, the sink as a provider) on one packet
/// geometry and suite, and configurations.
public struct NodeBenchSetup: Sendable {
    public let directory: URL
    public let nodeKey: SecretKey
    public let sinkID: NodeID
    public let sinkPort: Int
    public let nodePort: Int
    /// The sink's link key: the generator sends as the sink (a provider, which a mix of layer 1
    /// takes packets from), and the sink answers the node's links with it.
    public let sinkLinkKey: NoiseSecretKey
    /// The node's link key, which the generator's links expect.
    public let nodeLinkKey: NoisePublicKey
    private let authority: String
    private let eventLoops: Int?
    private let eventLoopSliceUs: Int?
    /// The node's AQM target: its default for the benchmark network's per-hop delay (the
    /// configuration sets none).
    public let aqmTarget: Double
    /// The packets built for the node (`rig`); its replay filter holds as many tags. A new
    /// replay epoch comes every half pool, so such a filter is never full, while the node's
    /// default (ten million tags, 48 MB) made each new epoch clear 48 MB under the filter's
    /// locks: 4 ms in which the workers stood still, a pause a production node, whose filters are
    /// made ahead of their epoch, never has.
    public let poolPackets: Int

    public init(directory: URL, eventLoops: Int?, eventLoopSliceUs: Int?, geometry: Geometry = .standard,
                poolPackets: Int) throws {
        self.directory = directory
        self.poolPackets = poolPackets
        self.eventLoops = eventLoops
        self.eventLoopSliceUs = eventLoopSliceUs
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let authorityKey = KeyFile.generate()
        let node = KeyFile.generate(), sink = KeyFile.generate()
        try node.write(to: directory.appendingPathComponent("node.key").path)
        nodeKey = node.sphinxKey
        sinkLinkKey = sink.signingKey.linkKey()
        nodeLinkKey = node.signingKey.linkKey().publicKey
        nodePort = try freeLoopbackPort()
        sinkPort = try freeLoopbackPort()
        sinkID = .random()
        var parameters = NetworkParameters(geometry: geometry)
        parameters.layers = 1
        parameters.mixLoopRate = 0
        aqmTarget = AQMConfiguration.defaultTarget(meanHopDelay: 1 / parameters.mixDelayRate)
        let topology = Topology(parameters: parameters, nodes: [
            NodeDescriptor(id: .random(), role: .mix, layer: 1, host: "127.0.0.1", port: nodePort, publicKey: node.sphinxKey.publicKey,
                           signingKey: node.signingKey.verifyingKey, clientPort: nil),
            NodeDescriptor(id: sinkID, role: .provider, layer: 0, host: "127.0.0.1", port: sinkPort, publicKey: sink.sphinxKey.publicKey,
                           signingKey: sink.signingKey.verifyingKey, clientPort: try freeLoopbackPort()),
        ])
        try SignedTopology.sign(topology, with: authorityKey.signingKey).write(to: directory.appendingPathComponent("topology.json").path)
        authority = authorityKey.signingKey.verifyingKey.hex
    }

    /// The node's configuration for `workers`, as `loopix mix` would read it.
    public func configuration(workers: Int, metricsPort: Int) -> NodeConfigurationFile {
        var config = NodeConfigurationFile(topology: "topology.json", key: "node.key", authority: authority)
        config.listenHost = "127.0.0.1"
        config.metricsPort = metricsPort
        config.workers = workers
        config.sendLoops = false
        config.logLevel = "warning"
        config.eventLoops = eventLoops
        config.eventLoopSliceUs = eventLoopSliceUs
        // Every sender of the benchmark holds the sink's key and connects from 127.0.0.1, up to a
        // thousand links at once, all handshaking together when a step starts.
        config.maxLinksPerPeer = 1000
        config.maxPendingHandshakes = 1000
        config.replayCapacity = UInt64(max(poolPackets, 1000))
        return config
    }

    /// Writes the node's configuration for `workers` and starts it, with Noise links unless
    /// `plaintextLinks`; returns once it listens.
    public func startNode(workers: Int, log: URL, plaintextLinks: Bool = false) async throws -> BenchNode {
        let metricsPort = try freeLoopbackPort()
        let path = directory.appendingPathComponent("node-w\(workers).json")
        try writeConfiguration(configuration(workers: workers, metricsPort: metricsPort), to: path)
        let node = try await BenchNode(config: path.path, log: log, workers: workers, port: nodePort, metricsPort: metricsPort,
                                       links: plaintextLinks ? nil : (sinkLinkKey, nodeLinkKey))
        try await node.waitReady()
        return node
    }

    /// Runs `body` against a node started for it, and stops the node however `body` ends.
    public func withNode<T>(workers: Int, log: URL, plaintextLinks: Bool = false,
                            _ body: (BenchNode) async throws -> T) async throws -> T {
        try await Self.with([try await startNode(workers: workers, log: log, plaintextLinks: plaintextLinks)]) { try await body($0[0]) }
    }

    /// Starts the relay floor (`relay_floor --relay`) with `workers` beside the node, on a port
    /// of its own, forwarding to the sink over plain TCP (with the links' AEAD on its loop if
    /// `links` is sealed); returns once it listens.
    public func startFloor(links: FloorLinks, workers: Int, packetBytes: Int, log: URL) async throws -> BenchNode {
        let port = try freeLoopbackPort(), metricsPort = try freeLoopbackPort()
        let floor = try await BenchNode(floorExecutable: try BenchNode.relayFloorExecutable(), workers: workers, port: port,
                                        forwardPort: sinkPort, metricsPort: metricsPort, packetBytes: packetBytes,
                                        sealedLinks: links == .sealed, log: log)
        try await floor.waitReady()
        return floor
    }

    /// Runs `body` against one relay floor per kind of `links` (in that order), started for it,
    /// and stops them however `body` ends.
    public func withFloors<T>(_ links: [FloorLinks], workers: Int, packetBytes: Int, log: (FloorLinks) -> URL,
                              _ body: ([BenchNode]) async throws -> T) async throws -> T {
        var floors: [BenchNode] = []
        do {
            for kind in links { floors.append(try await startFloor(links: kind, workers: workers, packetBytes: packetBytes, log: log(kind))) }
        } catch {
            for floor in floors { await floor.stop() }
            throw error
        }
        return try await Self.with(floors) { try await body($0) }
    }

    private static func with<T>(_ nodes: [BenchNode], _ body: ([BenchNode]) async throws -> T) async throws -> T {
        do {
            let result = try await body(nodes)
            for node in nodes { await node.stop() }
            return result
        } catch {
            for node in nodes { await node.stop() }
            throw error
        }
    }
}

/// The node under test: a `loopix bench serve-node` child process; or in its place the relay
/// floor (`relay_floor --relay`), driven and measured the same way.
public final class BenchNode: Sendable {
    let process: ChildProcess
    /// "node" or "relay floor", for messages.
    let name: String
    public let workers: Int
    public let port: Int
    public let metricsPort: Int
    /// The key senders link with and the node's key; nil: the node runs plaintext links.
    let links: (sender: NoiseSecretKey, node: NoisePublicKey)?
    /// Whether packets leave as they came (the relay floor), not unwrapped.
    let passesPacketsThrough: Bool
    /// Which of the process's threads (by kernel name) are its workers, and which its event
    /// loop (nil: not told apart; the node's loop is everything outside its workers).
    private let isWorkerThread: @Sendable (String) -> Bool
    private let isLoopThread: (@Sendable (String) -> Bool)?
    /// Where the node acknowledges each new replay epoch (nil: the relay floor).
    private let replayEpochFile: String?
    var pid: Int32 { process.processIdentifier }

    /// The benchmark's own node (`loopix bench serve-node`), with Noise links unless `links` is nil.
    convenience init(config: String, log: URL, workers: Int, port: Int, metricsPort: Int,
                     links: (sender: NoiseSecretKey, node: NoisePublicKey)?) async throws {
        let acknowledgements = config + ".replay-epoch"
        try? FileManager.default.removeItem(atPath: acknowledgements)
        try await self.init(arguments: ["bench", "serve-node", "--config", config, "--replay-epoch-file", acknowledgements]
                                + (links == nil ? ["--plaintext-links"] : []),
                            log: log, workers: workers, port: port, metricsPort: metricsPort, links: links,
                            replayEpochFile: acknowledgements)
    }

    /// Starts this executable with `arguments` (a node command and its configuration); `links`:
    /// the key the generator links with and the node's key (nil: the node runs plaintext links).
    convenience init(arguments: [String], log: URL, workers: Int, port: Int, metricsPort: Int,
                     links: (sender: NoiseSecretKey, node: NoisePublicKey)?, replayEpochFile: String? = nil) async throws {
        // The workers are the threads of Dispatch's user-initiated pool, which in a node process
        // only the crypto queue uses (their kernel name is the pool's, cut to 15 characters).
        try await self.init(name: "node", executable: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
                            arguments: arguments, environment: [parentProcessVariable: "\(getpid())"], log: log, workers: workers,
                            port: port, metricsPort: metricsPort, links: links, passesPacketsThrough: false,
                            isWorkerThread: { $0.hasSuffix("initiated-qos") }, isLoopThread: nil, replayEpochFile: replayEpochFile)
    }

    /// The relay floor at `floorExecutable`: relays 127.0.0.1:`port` to 127.0.0.1:`forwardPort`
    /// with `workers` (threads `floor-worker0`, … beside the loop `floor-loop`), plain links.
    convenience init(floorExecutable: String, workers: Int, port: Int, forwardPort: Int, metricsPort: Int, packetBytes: Int,
                     sealedLinks: Bool, log: URL) async throws {
        let arguments = ["--relay", "--listen", "\(port)", "--forward", "\(forwardPort)", "--workers", "\(workers)",
                         "--metrics-port", "\(metricsPort)", "--packet-bytes", "\(packetBytes)"] + (sealedLinks ? ["--seal-links"] : [])
        try await self.init(name: "relay floor", executable: floorExecutable, arguments: arguments, environment: [:], log: log,
                            workers: workers, port: port, metricsPort: metricsPort, links: nil, passesPacketsThrough: true,
                            isWorkerThread: { $0.hasPrefix("floor-worker") }, isLoopThread: { $0 == "floor-loop" }, replayEpochFile: nil)
    }

    private init(name: String, executable: String, arguments: [String], environment: [String: String], log: URL, workers: Int,
                 port: Int, metricsPort: Int, links: (sender: NoiseSecretKey, node: NoisePublicKey)?, passesPacketsThrough: Bool,
                 isWorkerThread: @escaping @Sendable (String) -> Bool, isLoopThread: (@Sendable (String) -> Bool)?,
                 replayEpochFile: String?) async throws {
        self.name = name
        self.replayEpochFile = replayEpochFile
        self.links = links
        self.workers = workers
        self.port = port
        self.metricsPort = metricsPort
        self.passesPacketsThrough = passesPacketsThrough
        self.isWorkerThread = isWorkerThread
        self.isLoopThread = isLoopThread
        process = try await ChildProcess.start(executable, arguments, environment: environment, log: log)
    }

    /// Where the relay floor is: `LOOPIX_RELAY_FLOOR` if set, else `relay_floor` in the folder of
    /// this executable, where SwiftPM builds it with `loopix` (and with the bench tests).
    static func relayFloorExecutable() throws -> String {
        if let path = ProcessInfo.processInfo.environment["LOOPIX_RELAY_FLOOR"], !path.isEmpty { return path }
        let me = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        let path = me.deletingLastPathComponent().appendingPathComponent("relay_floor").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw BenchError("no relay floor at \(path): `swift build --product loopix` builds it beside loopix (or set "
                             + "LOOPIX_RELAY_FLOOR to one built by `make -C CSources out/relay_floor`; --no-floor skips the phase)")
        }
        return path
    }

    /// Returns once the node serves metrics and accepts connections, by `deadline` (Unix seconds;
    /// default 20 s from now).
    func waitReady(until deadline: Double = Date().timeIntervalSince1970 + 20) async throws {
        let deadline = Date(timeIntervalSince1970: deadline)
        while Date() < deadline {
            if let status = process.exitStatus { throw BenchError("the \(name) exited at start (status \(status)); see its log") }
            if await MetricSamples.scrape(port: metricsPort, timeout: 0.5) != nil, let fd = connectLoopback(port: port) {
                close(fd)
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError("the \(name) did not start listening in time; see its log")
    }

    /// Asks the node for a new replay epoch, without waiting (the generator, halfway through the pool).
    func requestReplayEpoch() { process.send(ReplayEpochs.signal) }

    /// Asks the node for a new replay epoch, so that the pool's packets pass again, and waits (up
    /// to a second) until the node says it is in force. The relay floor keeps no replay state.
    func startReplayEpoch() async throws {
        guard let path = replayEpochFile else { return process.send(ReplayEpochs.signal) }
        let before = ReplayEpochs.acknowledged(at: path)
        process.send(ReplayEpochs.signal)
        let deadline = benchNanoseconds() + 1_000_000_000
        while ReplayEpochs.acknowledged(at: path) <= before && benchNanoseconds() < deadline {
            try await Task.sleep(for: .microseconds(200))
        }
    }
    var cpuSeconds: Double { ProcessProbe.cpuSeconds(pid: pid) ?? 0 }
    /// CPU seconds of the workers so far.
    var workerCPUSeconds: Double { cpuSeconds(ofThreads: isWorkerThread) }
    /// CPU seconds of the event loop thread so far, where it is told apart (the floor's).
    var loopCPUSeconds: Double? { isLoopThread.map { cpuSeconds(ofThreads: $0) } }

    /// CPU seconds so far of the process's threads whose kernel name `matches`.
    private func cpuSeconds(ofThreads matches: (String) -> Bool) -> Double {
        ProcessProbe.threadCPUSeconds(pid: pid).filter { matches($0.name) }.reduce(0) { $0 + $1.seconds }
    }
    var residentMB: Double { Double(ProcessProbe.residentBytes(pid: pid) ?? 0) / 1_048_576 }
    func metrics() async -> MetricSamples { await MetricSamples.scrape(port: metricsPort, timeout: 2) ?? MetricSamples() }

    public func stop() async { await process.stop() }
}

/// In the benchmark's node process only (`loopix bench serve-node`; `loopix mix` never installs
/// it): SIGUSR1 starts a new replay epoch. That forgets every tag under the same key, which
/// would let anyone replay packets; the benchmark needs it to resend its pre-built packets.
public final class ReplayEpochs: @unchecked Sendable {
    // `@unchecked Sendable`: `source` is set once in init; Dispatch sources may be cancelled from any thread.
    public static let signal = SIGUSR1
    private let source: any DispatchSourceSignal

    /// `acknowledgeTo`: a file that gets each new epoch's number once the node uses it, so that
    /// the benchmark resends its packets only then (sent before, they would meet the old epoch's
    /// tags and be dropped as replays).
    public init(node: MixNode, acknowledgeTo path: String? = nil) {
        Foundation.signal(Self.signal, SIG_IGN)
        let epochs = EpochCounter()
        source = DispatchSource.makeSignalSource(signal: Self.signal, queue: .global())
        source.setEventHandler {
            let epoch = epochs.next()
            node.rotateReplayFilter(toEpoch: epoch)
            if let path { try? Data("\(epoch)".utf8).write(to: URL(fileURLWithPath: path), options: .atomic) }
        }
        source.resume()
    }

    /// The epoch last written to `path` by a node (0: none yet).
    static func acknowledged(at path: String) -> UInt64 {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { UInt64($0) } ?? 0
    }

    public func cancel() { source.cancel() }
}

private final class EpochCounter: @unchecked Sendable {
    // `@unchecked Sendable`: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value: UInt64 = 0
    func next() -> UInt64 { lock.withLock { value += 1; return value } }
}

/// A benchmark that cannot go on; the message says why.
public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
