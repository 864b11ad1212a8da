// The node benchmark's traffic: a pool of ready-framed packets for the node under test, a load
// generator that only writes them (open loop, Poisson), and a sink that receives what the node
// forwards and matches each packet to its send time.
import Atomics
import Dispatch
import Foundation
import LoopixSim
import LoopixNetwork
import LoopixNoise
import LoopixRandom
import LoopixSphinx

#if canImport(Glibc)
import Glibc
#endif

/// Packets for one node, each a RELAY with zero delay to `next`, framed for the wire
/// (length, version, type, packet) back to back in one buffer, so that a run of consecutive
/// packets goes out in one `send`. The packet each becomes after the node's unwrap is
/// computed here too (with the node's key), and named by 8 bytes of its new header. The relay
/// floor passes packets on as they came (it writes only their last 8 bytes), so each packet is
/// also named by the same 8 bytes of its own header, in a table of its own.
public final class PacketPool: @unchecked Sendable {
    // `@unchecked Sendable`: written only in init, read-only afterwards.
    public let count: Int
    public let frameBytes: Int
    /// Where in a forwarded packet its 8-byte name is: the end of the new beta, just before the
    /// 16-byte MAC, which the node's header stream wrote over the padding and so differs from
    /// packet to packet in both suites (a KEM packet leaving the last hop of its route, as
    /// these do, has an all-zero encapsulation where a version 1 packet has its group element).
    private let keyOffset: Int
    public let frames: UnsafeMutableRawBufferPointer
    private let keys: [UInt64: Int32]
    private let passedThroughKeys: [UInt64: Int32]

    public init(count: Int, geometry: Geometry, nodeKey: SecretKey, next: SphinxAddress,
                progress: @escaping @Sendable (Int) -> Void = { _ in }) throws {
        self.count = count
        let packetBytes = geometry.packetBytes
        frameBytes = 6 + packetBytes
        let keyOffset = geometry.headerBytes - 16 - 8
        self.keyOffset = keyOffset
        frames = UnsafeMutableRawBufferPointer.allocate(byteCount: count * frameBytes, alignment: 16)
        // Each chunk writes only its own slots of these two buffers.
        nonisolated(unsafe) let outputKeys = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: count)
        defer { outputKeys.deallocate() }
        let processor = try PacketProcessor(geometry: geometry, secretKey: nodeKey, replayFilter: nil)
        let route = [RouteHop(publicKey: nodeKey.publicKey, command: .relay(next: next, delayMicroseconds: 0))]
        let chunk = 500
        let chunks = (count + chunk - 1) / chunk
        nonisolated(unsafe) let frames = self.frames
        let frameBytes = self.frameBytes
        let failures = ManagedAtomic<Int>(0)
        let done = ManagedAtomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let out = UnsafeMutableRawBufferPointer.allocate(byteCount: packetBytes, alignment: 16)
            defer { out.deallocate() }
            for i in (c * chunk)..<min(count, (c + 1) * chunk) {
                let frame = UnsafeMutableRawBufferPointer(rebasing: frames[(i * frameBytes)..<((i + 1) * frameBytes)])
                frame.storeBytes(of: UInt32(2 + packetBytes).bigEndian, toByteOffset: 0, as: UInt32.self)
                frame[4] = 0x01  // version
                frame[5] = 0x01  // packet
                let packet = UnsafeMutableRawBufferPointer(rebasing: frame[6...])
                do {
                    try Sphinx.createPacket(geometry: geometry, route: route, message: [], into: packet)
                    _ = try processor.process(UnsafeRawBufferPointer(packet), into: out)
                    outputKeys[i] = out.loadUnaligned(fromByteOffset: keyOffset, as: UInt64.self)
                } catch {
                    failures.wrappingIncrement(ordering: .relaxed)
                }
            }
            progress(done.wrappingIncrementThenLoad(by: min(chunk, count - c * chunk), ordering: .relaxed))
        }
        guard failures.load(ordering: .relaxed) == 0 else { throw SphinxError.invalidRoute }
        var keys = [UInt64: Int32](minimumCapacity: count), passedThroughKeys = [UInt64: Int32](minimumCapacity: count)
        for i in 0..<count {
            keys[outputKeys[i]] = Int32(i)
            passedThroughKeys[frames.loadUnaligned(fromByteOffset: i * frameBytes + 6 + keyOffset, as: UInt64.self)] = Int32(i)
        }
        self.keys = keys
        self.passedThroughKeys = passedThroughKeys
    }

    deinit { frames.deallocate() }

    /// The pool index of a packet the node forwarded, from its bytes.
    @inline(__always)
    public func index(ofForwarded packet: UnsafeRawBufferPointer) -> Int? {
        keys[packet.loadUnaligned(fromByteOffset: keyOffset, as: UInt64.self)].map(Int.init)
    }

    /// The pool index of a packet the relay floor passed on unchanged, from its bytes.
    @inline(__always)
    public func index(ofPassedThrough packet: UnsafeRawBufferPointer) -> Int? {
        passedThroughKeys[packet.loadUnaligned(fromByteOffset: keyOffset, as: UInt64.self)].map(Int.init)
    }
}

/// When each pool packet was last handed to the kernel (monotonic ns), shared by generator and sink.
public final class SendTimes: @unchecked Sendable {
    // Aligned 64-bit stores and loads; the sink reads a slot only after the packet it names
    // came back through the node, long after the generator wrote it.
    let times: UnsafeMutableBufferPointer<UInt64>
    public init(count: Int) {
        times = .allocate(capacity: count)
        times.initialize(repeating: 0)
    }
    deinit { times.deallocate() }
}

/// Accepts the node's outbound connections and records, per forwarded packet, when it came
/// back and when it had been sent.
public final class FrameSink: @unchecked Sendable {
    public let port: Int
    private let listener: Int32
    private let pool: PacketPool?
    private let sendTimes: SendTimes?
    private let stopFlag = ManagedAtomic<Bool>(false)
    private let lock = NSLock()
    private var receivedAt: [UInt64] = []
    private var sentAt: [UInt64] = []
    private var unknown = 0
    private var retain = true
    private var total = 0
    private var thread: Thread?
    /// The sink's link key while the node under test runs encrypted links; nil: plain bytes.
    private var linkKey: NoiseSecretKey?
    /// Whether what arrives was passed through unchanged (the relay floor) rather than unwrapped.
    private var passedThrough = false
    private let cpuSeconds = ManagedAtomic<UInt64>(0)  // thread CPU, as Double bits

    /// Binds 127.0.0.1:`port` (0: any) now, so the node can be told where it is.
    public init(port: Int = 0, pool: PacketPool?, sendTimes: SendTimes?) throws {
        self.pool = pool
        self.sendTimes = sendTimes
        (listener, self.port) = try listenOnLoopback(port: port)
    }

    /// Connections accepted from now on answer Noise handshakes as `key` (nil: plain bytes).
    public func expectLinks(as key: NoiseSecretKey?) { lock.withLock { linkKey = key } }

    /// Packets on connections accepted from now on are matched as the relay floor passes them
    /// on (`true`: unchanged), or as the node forwards them (`false`, the default). Each
    /// connection keeps the choice it was accepted with, so the node's packets are looked up
    /// in the node's table only.
    public func expectPassedThrough(_ on: Bool) { lock.withLock { passedThrough = on } }

    public func start() {
        let t = Thread { [self] in loop() }
        t.name = "bench-sink"
        t.start()
        thread = t
    }

    public func stop() {
        stopFlag.store(true, ordering: .relaxed)
        while thread?.isFinished == false { usleep(1000) }
        close(listener)
    }

    /// Forgets what was recorded; with `retain` false only counts are kept (long soaks).
    public func reset(retain: Bool = true) {
        lock.withLock {
            receivedAt.removeAll(keepingCapacity: true)
            sentAt.removeAll(keepingCapacity: true)
            unknown = 0
            total = 0
            self.retain = retain
        }
    }

    /// Everything received since the last reset: receive and send times (ns), packets the pool
    /// does not know, and the total count.
    public func snapshot() -> (received: [UInt64], sent: [UInt64], unknown: Int, total: Int) {
        lock.withLock { (receivedAt, sentAt, unknown, total) }
    }

    public var count: Int { lock.withLock { total } }

    /// CPU seconds of the sink's thread so far.
    public var threadCPUSeconds: Double { Double(bitPattern: cpuSeconds.load(ordering: .relaxed)) }

    private func loop() {
        var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
        var buffers: [Int32: ReceiveBuffer] = [:]
        var receivedBatch: [UInt64] = [], sentBatch: [UInt64] = []
        var unknownBatch = 0
        while !stopFlag.load(ordering: .relaxed) {
            cpuSeconds.store(ProcessProbe.threadCPUSeconds().bitPattern, ordering: .relaxed)
            guard poll(&fds, nfds_t(fds.count), 50) > 0 else { continue }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let fd = accept(listener, nil, nil)
                if fd >= 0 {
                    fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
                    let (key, passedThrough) = lock.withLock { (linkKey, self.passedThrough) }
                    if let buffer = try? ReceiveBuffer(frameLimit: pool?.frameBytes ?? 8192, linkKey: key, passedThrough: passedThrough) {
                        buffers[fd] = buffer
                    }
                }
            }
            var closed: Set<Int32> = []
            for i in fds.indices.dropFirst() where fds[i].revents != 0 {
                let fd = fds[i].fd
                guard let buffer = buffers[fd] else { continue }
                let n = buffer.read(fd)
                let now = benchNanoseconds()
                if n <= 0 { closed.insert(fd); continue }
                let intact = buffer.frames(fd) { type, body in
                    guard type == 0x01 else { return }
                    guard let pool, let sendTimes,
                          let index = buffer.passedThrough ? pool.index(ofPassedThrough: body) : pool.index(ofForwarded: body)
                    else { unknownBatch += 1; return }
                    receivedBatch.append(now)
                    sentBatch.append(sendTimes.times[index])
                }
                if !intact { closed.insert(fd) }
            }
            if !receivedBatch.isEmpty || unknownBatch > 0 {
                lock.withLock {
                    total += receivedBatch.count + unknownBatch
                    unknown += unknownBatch
                    if retain {
                        receivedAt.append(contentsOf: receivedBatch)
                        sentAt.append(contentsOf: sentBatch)
                    }
                }
                receivedBatch.removeAll(keepingCapacity: true)
                sentBatch.removeAll(keepingCapacity: true)
                unknownBatch = 0
            }
            if !closed.isEmpty {
                for fd in closed { close(fd); buffers[fd] = nil }
                fds.removeAll { closed.contains($0.fd) }
            }
        }
        for fd in fds.dropFirst() { close(fd.fd) }
    }
}

/// One connection's bytes, parsed into wire frames as they arrive (opened first on an encrypted link).
private final class ReceiveBuffer {
    private var storage: UnsafeMutableRawBufferPointer
    private var filled = 0
    private let link: BenchLinkReceiver?
    /// Packets arrive as the relay floor passed them on, not unwrapped by a node.
    let passedThrough: Bool

    init(frameLimit: Int, linkKey: NoiseSecretKey?, passedThrough: Bool = false) throws {
        self.passedThrough = passedThrough
        storage = .allocate(byteCount: max(1 << 20, 64 * frameLimit), alignment: 16)
        link = try linkKey.map { try BenchLinkReceiver(localKey: $0) }
    }

    deinit { storage.deallocate() }

    func read(_ fd: Int32) -> Int {
        let n = recv(fd, storage.baseAddress! + filled, storage.count - filled, 0)
        if n > 0 { filled += n }
        return n
    }

    /// Calls `body` for each complete frame, then keeps the unfinished tail; false once an
    /// encrypted link broke (its handshake or a message failed).
    func frames(_ fd: Int32, _ body: (UInt8, UnsafeRawBufferPointer) -> Void) -> Bool {
        var offset = 0
        defer {
            if offset > 0 {
                if filled > offset { memmove(storage.baseAddress!, storage.baseAddress! + offset, filled - offset) }
                filled -= offset
            }
        }
        if let link {
            while filled - offset >= 2 {
                let length = Int(UInt16(bigEndian: storage.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
                guard filled - offset >= 2 + length else { break }
                let message = UnsafeMutableRawBufferPointer(rebasing: storage[(offset + 2)..<(offset + 2 + length)])
                offset += 2 + length
                let plaintext: UnsafeRawBufferPointer?
                do { plaintext = try link.take(message, fd: fd) } catch { return false }
                // Each transport message holds exactly one frame.
                guard let plaintext, plaintext.count >= 6 else { continue }
                body(plaintext[5], UnsafeRawBufferPointer(rebasing: plaintext[6...]))
            }
            return true
        }
        while filled - offset >= 6 {
            let length = Int(UInt32(bigEndian: storage.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            guard filled - offset >= 4 + length else { break }
            body(storage[offset + 5], UnsafeRawBufferPointer(rebasing: storage[(offset + 6)..<(offset + 4 + length)]))
            offset += 4 + length
        }
        return true
    }
}

/// Writes pool packets to the node over `connections` sockets at a Poisson rate (open loop: the
/// schedule never waits for the node), or as fast as the sockets take them (`rate` infinite).
/// Every half pool it asks for a new replay epoch (`onHalfPool`); at the pool's end it starts over.
public final class LoadGenerator: @unchecked Sendable {
    public struct Result: Codable, Sendable {
        public var sent: Int
        public var seconds: Double
        public var cpuSeconds: Double
        public var passes: Int
        /// How far behind its schedule the generator was, at the median and worst, ms.
        public var lagP50Ms: Double
        public var lagMaxMs: Double
    }

    private let pool: PacketPool
    private let sendTimes: SendTimes
    private let connections: [Int32]
    /// The sealing end of each connection's link (nil: plain bytes).
    private let links: [BenchLinkSender?]
    private let rate: Double
    private let seconds: Double
    private let seed: UInt64
    private let onHalfPool: (@Sendable () -> Void)?
    private let stopFlag = ManagedAtomic<Bool>(false)
    private let sentCounter = ManagedAtomic<Int>(0)
    private let completion = Completion<Result>()
    private let startIndex: Int

    init(pool: PacketPool, sendTimes: SendTimes, connections: [Int32], links: [BenchLinkSender?]? = nil, rate: Double,
         seconds: Double, startIndex: Int = 0, seed: UInt64 = 1, onHalfPool: (@Sendable () -> Void)? = nil) {
        self.pool = pool
        self.sendTimes = sendTimes
        self.connections = connections
        self.links = links ?? connections.map { _ in nil }
        self.rate = rate
        self.seconds = seconds
        self.startIndex = startIndex % pool.count
        self.seed = seed
        self.onHalfPool = onHalfPool
    }

    /// Packets written so far (any thread).
    public var sent: Int { sentCounter.load(ordering: .relaxed) }

    public func start() {
        let t = Thread { [self] in completion.finish(run()) }
        t.name = "bench-generator"
        t.start()
    }

    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    /// The generator's figures once it has finished (awaited without holding a thread).
    public func finished() async -> Result { await completion.value }

    private func run() -> Result {
        let cpuStart = ProcessProbe.threadCPUSeconds()
        var random = SplitMix64(seed: seed)
        let paced = rate.isFinite
        let start = benchNanoseconds()
        let end = start + UInt64(seconds * 1e9)
        var next = Double(start)
        var index = startIndex
        var sent = 0, passes = 0, connection = 0
        var lags: [Double] = []
        var lagMax = 0.0
        let gapScale = 1e9 / rate
        while !stopFlag.load(ordering: .relaxed) {
            var now = benchNanoseconds()
            if now >= end { break }
            if paced && next > Double(now) {
                let wait = Double(now) > next - 2_000_000 ? next - Double(now) : 2_000_000
                var ts = timespec(tv_sec: 0, tv_nsec: Int(wait))
                nanosleep(&ts, nil)
                continue
            }
            var n = 0
            // Batches stop at the middle of the pool and at its end.
            let boundary = index < pool.count / 2 ? pool.count / 2 : pool.count
            if paced {
                while next <= Double(now) && n < 64 && index + n < boundary {
                    n += 1
                    next += random.exponential(rate: 1) * gapScale
                }
                let lag = (Double(now) - next) / 1e6
                if lag > lagMax { lagMax = lag }
                if sent % 64 == 0 { lags.append(max(0, lag)) }
            } else {
                n = min(64, boundary - index)
            }
            now = benchNanoseconds()
            for i in index..<(index + n) { sendTimes.times[i] = now }
            var bytes = UnsafeRawBufferPointer(rebasing: pool.frames[(index * pool.frameBytes)..<((index + n) * pool.frameBytes)])
            if let link = links[connection] { bytes = link.seal(bytes, frameBytes: pool.frameBytes) }
            guard writeAll(connections[connection], bytes) else { break }
            // Each write goes to a connection drawn at random: thinning a Poisson stream at random
            // gives each connection a Poisson stream of its own, as independent senders would make.
            connection = connections.count > 1 ? random.index(below: connections.count) : 0
            index += n
            sent += n
            sentCounter.wrappingIncrement(by: n, ordering: .relaxed)
            // A new replay epoch every half pass, at the middle of the pool and at its end: the two
            // copies of a packet go out a whole pass apart, so a new epoch always comes between
            // their unwraps, however long each waited in the node (up to half a pass). (With one new
            // epoch per pass, at its end after a pause, the first packets' copies met the tags of
            // the epoch before when the node switched late: replays the benchmark made.)
            if index == pool.count / 2 || index == pool.count { onHalfPool?() }
            if index == pool.count {
                passes += 1
                index = 0
            }
        }
        let elapsed = Double(benchNanoseconds() - start) / 1e9
        return Result(sent: sent, seconds: elapsed, cpuSeconds: ProcessProbe.threadCPUSeconds() - cpuStart, passes: passes,
                      lagP50Ms: (lags.isEmpty ? 0 : Stats.median(lags)), lagMaxMs: lagMax)
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }
}

/// A value a thread produces once and tasks await.
final class Completion<Value: Sendable>: @unchecked Sendable {
    // `@unchecked Sendable`: both fields are only touched under `lock`.
    private let lock = NSLock()
    private var result: Value?
    private var waiters: [CheckedContinuation<Value, Never>] = []

    func finish(_ value: Value) {
        let waiting = lock.withLock { () -> [CheckedContinuation<Value, Never>] in
            result = value
            defer { waiters = [] }
            return waiters
        }
        for waiter in waiting { waiter.resume(returning: value) }
    }

    var value: Value {
        get async {
            await withCheckedContinuation { continuation in
                let ready = lock.withLock { () -> Value? in
                    if result == nil { waiters.append(continuation) }
                    return result
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }
}
