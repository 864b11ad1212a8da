// `loopix bench node`'s epochs phase: a mix as `loopix mix` runs it in directory mode, fed at its
// measured capacity through several short key epochs, with fresh packets built for each epoch's
// key. What it shows: no packet refused for a full replay filter (each epoch's filter is sized
// from the node's rated throughput, here its measured capacity), packets built for the previous
// key still served in grace, and memory flat across the changes (old keys and filters retired).
import Foundation
import LoopixConfiguration
import LoopixDirectory
import LoopixMetrics
import LoopixNetwork
import LoopixNode
import LoopixSphinx
import LoopixTestnet

/// One measured key epoch.
public struct EpochStep: Codable, Sendable {
    public var epoch: UInt64
    public var offered: Int
    /// Packets the sink received during the epoch.
    public var relayed: Int
    /// The node's drops during the epoch, by cause.
    public var drops: [String: Double]
    /// Packets the node unwrapped with the previous epoch's key during this epoch.
    public var previousKey: Double
    /// The node's largest resident set during the epoch, and at its end.
    public var rssMaxMB: Double
    public var rssEndMB: Double

    public init(epoch: UInt64, offered: Int, relayed: Int, drops: [String: Double], previousKey: Double, rssMaxMB: Double,
                rssEndMB: Double) {
        self.epoch = epoch
        self.offered = offered
        self.relayed = relayed
        self.drops = drops
        self.previousKey = previousKey
        self.rssMaxMB = rssMaxMB
        self.rssEndMB = rssEndMB
    }
}

public struct EpochsPhaseResult: Codable, Sendable {
    public var epochSeconds: Double
    public var grace: Double
    public var rate: Double
    public var ratedPacketsPerSecond: Double
    public var steps: [EpochStep]

    public init(epochSeconds: Double, grace: Double, rate: Double, ratedPacketsPerSecond: Double, steps: [EpochStep]) {
        self.epochSeconds = epochSeconds
        self.grace = grace
        self.rate = rate
        self.ratedPacketsPerSecond = ratedPacketsPerSecond
        self.steps = steps
    }

    /// Drops for a full replay filter over the whole phase.
    public var replayFilterFull: Double { steps.reduce(0) { $0 + ($1.drops["replay_filter_full"] ?? 0) } }
    /// The largest change of the end-of-epoch RSS between consecutive measured epochs after the first.
    public var rssDriftMB: Double {
        let ends = steps.dropFirst().map(\.rssEndMB)
        return zip(ends, ends.dropFirst()).map { abs($1 - $0) }.max() ?? 0
    }

    /// The phase as `loopix bench node` prints it.
    public var report: String {
        var lines = [String(format: "key epochs of %.0f s (grace %.0f s) at %.0f packets/s, the node rated at that rate, in directory mode:",
                            epochSeconds, grace, rate)]
        for s in steps {
            lines.append(String(format: "  epoch %d: %d offered, %d relayed, %.0f under the previous key, RSS max %.1f end %.1f MB, drops: %@",
                                s.epoch, s.offered, s.relayed, s.previousKey, s.rssMaxMB, s.rssEndMB,
                                dropsText(s.drops.mapValues { Int($0) })))
        }
        return lines.joined(separator: "\n")
    }
}

/// Runs the phase: its own authority (in this process), its own sink, and `loopix mix` as a child.
struct EpochsAtCapacity {
    let directory: URL
    let workers: Int
    /// The offered rate, and the node's rated throughput (its replay filters are sized from it).
    let rate: Double
    let epochSeconds: Double
    let epochs: Int
    /// Grace after each epoch: short, so that keys and filters are retired within the phase.
    var grace: Double { max(1, epochSeconds / 5) }

    /// The first measured epoch; the node starts two or three epochs earlier.
    private static let firstMeasured: UInt64 = 4

    func run(progress: BenchProgress) async throws -> EpochsPhaseResult {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let nodeKey = KeyFile.generate(), sinkKey = KeyFile.generate(), authorityKey = KeyFile.generate()
        try nodeKey.write(to: path("node.key"))
        let measured = Self.firstMeasured..<(Self.firstMeasured + UInt64(epochs))
        let lastKey = measured.upperBound + EpochDriver.keysAhead

        // The node's epoch keys, made here before it starts (it reads them from its state folder as
        // it would read its own), so that every measured epoch's packets can be built in advance.
        let state = path("node-state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let keys = try EpochKeyStore(folder: URL(fileURLWithPath: state).appendingPathComponent("keys"))
        _ = try keys.prepare(1...lastKey)
        let sinkID = NodeID.forIdentity(sinkKey.signingKey.verifyingKey)
        let perEpoch = Int(rate * epochSeconds * 1.1) + 1000
        var pools: [UInt64: PacketPool] = [:]
        for epoch in measured {
            let built = pools.count
            pools[epoch] = try PacketPool(count: perEpoch, geometry: .standard, nodeKey: try keys.key(for: epoch), next: sinkID) { done in
                progress.update("epochs: building packets for epoch \(built + 1)/\(epochs): \(done)/\(perEpoch)")
            }
        }

        // The schedule starts now: the first measured epoch begins once the node has had time to
        // join (it asks for the current document every 2 s until listed).
        let lead = max(15, 2.5 * epochSeconds)
        let schedule = EpochSchedule(genesis: Date().timeIntervalSince1970 + lead - Double(Self.firstMeasured) * epochSeconds,
                                     length: epochSeconds)
        var parameters = NetworkParameters()
        parameters.layers = 1
        parameters.mixLoopRate = 0
        let registryPath = path("registry.json")
        try AuthorityRegistry(nodes: [RegisteredNode(identity: nodeKey.signingKey.verifyingKey, role: .mix, layer: 1),
                                      RegisteredNode(identity: sinkKey.signingKey.verifyingKey, role: .provider)])
            .write(to: registryPath)
        let authorityState = try AuthorityState(
            policy: AuthorityPolicy(schedule: schedule, parameters: parameters, grace: grace, publishAhead: epochSeconds / 2),
            key: authorityKey.signingKey, folder: URL(fileURLWithPath: path("authority")), registryPath: registryPath)

        let sink = try FrameSink(pool: nil, sendTimes: nil)
        sink.expectLinks(as: sinkKey.signingKey.linkKey())
        sink.start()
        defer { sink.stop() }
        // The sink is listed as the provider the node forwards to; it announces keys it never uses.
        let now = Date().timeIntervalSince1970
        let sinkDescriptor = NodeDescriptorBody(
            identity: sinkKey.signingKey.verifyingKey, role: .provider, host: "127.0.0.1", port: sink.port,
            clientPort: try freeLoopbackPort(),
            epochKeys: (1...lastKey).map { EpochPublicKey(epoch: $0, sphinxKey: SecretKey.generate().publicKey) }, issuedAt: now)
        try authorityState.accept(try SignedNodeDescriptor(sinkDescriptor, identity: sinkKey.signingKey), now: now)
        let authority = AuthorityServer(state: authorityState, host: "127.0.0.1", port: 0)
        let authorityRun = Task { try await authority.run() }
        defer { authorityRun.cancel() }
        try await authority.start()
        guard let authorityPort = authority.localPort else { throw BenchError("the epochs phase's authority did not listen") }

        let nodePort = try freeLoopbackPort(), metricsPort = try freeLoopbackPort()
        var config = NodeConfigurationFile(
            directory: DirectoryAccess(host: "127.0.0.1", port: authorityPort, authorities: [authorityKey.signingKey.verifyingKey.hex]),
            key: "node.key", state: "node-state", port: nodePort)
        config.listenHost = "127.0.0.1"
        config.ratedPacketsPerSecond = rate
        config.metricsPort = metricsPort
        config.workers = workers
        config.sendLoops = false
        config.logLevel = "notice"
        let configPath = directory.appendingPathComponent("node.json")
        try writeConfiguration(config, to: configPath)
        progress.update("epochs: starting the node in directory mode")
        // The generator sends as the sink, the provider a mix of layer 1 takes packets from.
        let node = try await BenchNode(arguments: ["mix", "--config", configPath.path], log: directory.appendingPathComponent("node.log"),
                                       workers: workers, port: nodePort, metricsPort: metricsPort,
                                       links: (sinkKey.signingKey.linkKey(), nodeKey.signingKey.linkKey().publicKey))
        do {
            let result = try await measure(node: node, sink: sink, pools: pools, schedule: schedule, measured: measured, progress: progress)
            await node.stop()
            return result
        } catch {
            await node.stop()
            throw error
        }
    }

    private func measure(node: BenchNode, sink: FrameSink, pools: [UInt64: PacketPool], schedule: EpochSchedule,
                         measured: Range<UInt64>, progress: BenchProgress) async throws -> EpochsPhaseResult {
        let firstStart = schedule.start(of: measured.lowerBound)
        try await node.waitReady(until: firstStart - 0.5)
        var steps: [EpochStep] = []
        // Each epoch's packets are sent from a moment after its boundary to the same moment after
        // the next one, as by senders whose clocks or queues lag: the first part of every epoch
        // after the first is served with the previous key, in its grace period.
        let lag = min(0.3, grace / 2)
        for epoch in measured {
            let start = schedule.start(of: epoch) + lag, end = start + epochSeconds
            while Date().timeIntervalSince1970 < start { try await Task.sleep(for: .milliseconds(2)) }
            // A connection per epoch: the node closes one that stays idle for long (as while waiting).
            guard let fd = connectLoopback(port: node.port) else { throw BenchError("cannot connect to the node") }
            defer { close(fd) }
            let link = try node.links.map { try BenchLinkSender(fd: fd, localKey: $0.sender, responderKey: $0.node) }
            let metrics0 = await node.metrics(), received0 = sink.count
            let pool = pools[epoch]!
            let generator = LoadGenerator(pool: pool, sendTimes: SendTimes(count: pool.count), connections: [fd], links: [link], rate: rate,
                                          seconds: end - Date().timeIntervalSince1970 - 0.05, seed: epoch) {
                // Built with room to spare: a pool that ran out would resend its packets as replays.
                benchLog("epochs: the pool of epoch \(epoch) ran out")
            }
            generator.start()
            var rss: [Double] = []
            while Date().timeIntervalSince1970 < end - 0.3 {
                rss.append(node.residentMB)
                progress.update(String(format: "epochs: epoch %d at %.0f/s, %d relayed", epoch, rate, sink.count - received0))
                try await Task.sleep(for: .milliseconds(250))
            }
            let g = await generator.finished()
            while Date().timeIntervalSince1970 < end { try await Task.sleep(for: .milliseconds(2)) }
            let metrics1 = await node.metrics()
            rss.append(node.residentMB)
            let drops1 = metrics1.byLabel("loopix_packets_dropped_total", "cause")
            let drops0 = metrics0.byLabel("loopix_packets_dropped_total", "cause")
            steps.append(EpochStep(
                epoch: epoch, offered: g.sent, relayed: sink.count - received0,
                drops: drops1.reduce(into: [:]) { $0[$1.key] = $1.value - (drops0[$1.key] ?? 0) }.filter { $0.value != 0 },
                previousKey: metrics1.total("loopix_packets_previous_key_total") - metrics0.total("loopix_packets_previous_key_total"),
                rssMaxMB: rss.max() ?? 0, rssEndMB: rss.last ?? 0))
            benchLog(String(format: "epochs: epoch %d: %d offered, %d relayed, %.0f under the previous key, drops %@, RSS %.1f MB",
                            epoch, g.sent, steps.last!.relayed, steps.last!.previousKey, "\(steps.last!.drops)", steps.last!.rssEndMB))
        }
        return EpochsPhaseResult(epochSeconds: epochSeconds, grace: grace, rate: rate, ratedPacketsPerSecond: rate, steps: steps)
    }
}
