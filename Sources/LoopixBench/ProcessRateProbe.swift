// The reference every node efficiency is judged against: `lsx_process` on one core of this
// machine, measured before a run and, in small samples, all through each measured step.
import Foundation
import LoopixNetwork
import LoopixNode
import LoopixSphinx

/// `PacketProcessor.process` (the node's call: replay filter on, fresh packets) on the calling
/// thread, over packets built once, so that it can be measured again and again in a run. The
/// one measurement of the core's speed: `bench sphinx` times it, `bench node` and `bench aqm`
/// take their reference from it. Built with the backend in force (`Sphinx.setBackend`), for
/// one geometry and so one packet suite.
public final class ProcessRateProbe {
    private let packets: [[UInt8]]
    private let filter: ReplayFilter
    private let unwrap: (UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) throws(SphinxError) -> ProcessedPacket
    private var out: [UInt8]
    private var epoch: UInt64 = 0
    private var next = 0

    /// How a probe unwraps: as `PacketProcessor` alone with a filter in memory (the node's call
    /// without key epochs), or through the epoch machinery a worker runs with a file-backed
    /// filter whose working copy is in `liveDirectory` (as a node with key epochs runs).
    public enum Path: Sendable {
        case processor
        case epochMachinery(filterFile: String, liveDirectory: String)
    }

    public init(packets count: Int, geometry: Geometry = .standard, path: Path = .processor) throws {
        let key = SecretKey.generate()
        let route = [RouteHop(publicKey: key.publicKey, command: .relay(next: .random(), delayMicroseconds: 0))]
        packets = try (0..<count).map { _ in try Sphinx.createPacket(geometry: geometry, route: route, message: []) }
        switch path {
        case .processor:
            filter = try ReplayFilter(capacity: UInt64(4 * count))
            let processor = try PacketProcessor(geometry: geometry, secretKey: key, replayFilter: filter)
            unwrap = { (input, output) throws(SphinxError) in try processor.process(input, into: output) }
        case .epochMachinery(let file, let live):
            filter = try ReplayFilter(file: file, liveDirectory: live, capacity: UInt64(4 * count), epoch: 1)
            let processor = try PacketProcessor(geometry: geometry, secretKey: key, replayFilter: filter)
            let probe = EpochUnwrapProbe(processor: processor, topology: Topology(parameters: NetworkParameters(), nodes: []))
            unwrap = { (input, output) throws(SphinxError) in try probe.unwrap(input, into: output) }
        }
        out = [UInt8](repeating: 0, count: geometry.packetBytes)
    }

    /// Median over `rounds` passes over every packet of the wall time of one process call.
    public func secondsPerPacket(rounds: Int) -> Double {
        var times: [Double] = []
        for _ in 0..<rounds {
            next = 0
            let start = benchNanoseconds()
            processNext(packets.count)
            times.append(Double(benchNanoseconds() - start) / 1e9 / Double(packets.count))
        }
        return Statistics.median(times)
    }

    /// The calling thread's CPU seconds per process call over the next `count` packets, after
    /// one unmeasured call that brings code and tables back into the caches: time the thread
    /// spends descheduled does not count, time the machine runs slower does.
    public func cpuSecondsPerPacket(count: Int) -> Double {
        processNext(1)
        let start = ProcessProbe.threadCPUSeconds()
        processNext(count)
        return (ProcessProbe.threadCPUSeconds() - start) / Double(count)
    }

    /// Processes `count` packets from where the last call stopped, starting a new replay epoch
    /// whenever it starts over.
    public func processNext(_ count: Int) {
        for _ in 0..<count {
            if next == 0 {
                epoch += 1
                filter.rotate(toEpoch: epoch)
            }
            packets[next].withUnsafeBytes { input in out.withUnsafeMutableBytes { _ = try? unwrap(input, $0) } }
            next = (next + 1) % packets.count
        }
    }
}

extension ProcessRateProbe {
    /// The single-core time of lsx_process (Swift API, replay filter on) over fresh 1-hop
    /// packets of `geometry`, median of five short rounds.
    public static func secondsPerPacket(packets count: Int = 1500, geometry: Geometry = .standard) throws -> Double {
        try ProcessRateProbe(packets: count, geometry: geometry).secondsPerPacket(rounds: 5)
    }

    /// What the epoch machinery adds to a packet, as a fraction of process: the median over
    /// `rounds` of the thread CPU time of `count` packets through a worker's epoch path (state
    /// read, previous-key fallback, a file-backed filter with its working copy on /dev/shm)
    /// over the same for `PacketProcessor` alone, the two alternating round by round.
    public static func epochMachineryShare(packets count: Int = 1500, rounds: Int = 15) throws -> Double {
        let (epochs, scratch) = try throughEpochMachinery(packets: count, label: "node")
        defer { for path in scratch { try? FileManager.default.removeItem(atPath: path) } }
        let bare = try ProcessRateProbe(packets: count)
        let ratios = (0..<rounds).map { _ in epochs.cpuSecondsPerPacket(count: count) / bare.cpuSecondsPerPacket(count: count) }
        return Statistics.median(ratios) - 1
    }

    /// A probe through the epoch machinery as a node with key epochs runs it, its filter file in
    /// a scratch folder and the filter's working copy on the memory filesystem (/dev/shm) where
    /// there is one; `scratch` are the folders to remove after use.
    static func throughEpochMachinery(packets count: Int, geometry: Geometry = .standard, label: String) throws -> (probe: ProcessRateProbe, scratch: [String]) {
        let name = "loopix-epoch-probe-\(getpid())-\(label)"
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        let live = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/" + name : base
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let probe = try ProcessRateProbe(packets: count, geometry: geometry, path: .epochMachinery(filterFile: base + "/replay-1.filter", liveDirectory: live))
        return (probe, [base, live])
    }
}

/// Samples the reference while a step runs: every `interval` a thread of the benchmark
/// processes `packetsPerSample` packets and records its CPU seconds per packet. The host this
/// project runs on changes its speed within seconds without reporting it; a reference taken
/// all through the step's window slows and speeds up with the node it is compared with. It
/// takes about 1 % of one core.
public final class ConcurrentReference: @unchecked Sendable {
    // `@unchecked Sendable`: `probe` is used only by the sampling thread between `start` and
    // `stop`; `samples` and `running` are guarded by `lock`.
    private let probe: ProcessRateProbe
    private let interval: Double
    private let packetsPerSample: Int
    private let lock = NSLock()
    private var samples: [Double] = []
    private var running = false
    private let finished = DispatchSemaphore(value: 0)

    public init(probe: ProcessRateProbe, interval: Double = 0.2, packetsPerSample: Int = 16) {
        self.probe = probe
        self.interval = interval
        self.packetsPerSample = packetsPerSample
    }

    public func start() {
        lock.withLock {
            samples.removeAll()
            running = true
        }
        let thread = Thread { [self] in
            while lock.withLock({ running }) {
                let sample = probe.cpuSecondsPerPacket(count: packetsPerSample)
                lock.withLock { samples.append(sample) }
                usleep(UInt32(interval * 1e6))
            }
            finished.signal()
        }
        thread.start()
    }

    /// Stops sampling; the median CPU seconds per packet over the samples, nil if none was taken.
    public func stop() -> Double? {
        lock.withLock { running = false }
        finished.wait()
        let taken = lock.withLock { samples }
        return taken.isEmpty ? nil : Statistics.median(taken)
    }
}
