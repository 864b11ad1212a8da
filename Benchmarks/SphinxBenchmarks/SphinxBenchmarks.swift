// The Swift Sphinx wrapper measured beside the C core it wraps, on the same pre-generated packets.
import Benchmark
import CLoopixSphinx
import LoopixSphinx

/// A node's key and a ring of valid packets for it (6-hop routes that start at the node), made once
/// per benchmark process so that timing never includes packet creation.
final class PacketRing: @unchecked Sendable {
    // Used from one benchmark closure at a time; the benchmark runner does not run iterations in parallel.
    static let count = 1024
    let geometry = Geometry.standard
    let key = SecretKey.generate()
    let packets: UnsafeMutableRawBufferPointer
    let output: UnsafeMutableRawBufferPointer
    private var next = 0

    init() {
        let size = geometry.packetBytes
        packets = .allocate(byteCount: size * Self.count, alignment: 64)
        output = .allocate(byteCount: size, alignment: 64)
        let route = [RouteHop(publicKey: key.publicKey, command: .relay(next: .random(), delayMicroseconds: 1000))]
            + (0..<4).map { _ in RouteHop(publicKey: SecretKey.generate().publicKey,
                                          command: .relay(next: .random(), delayMicroseconds: 1000)) }
            + [RouteHop(publicKey: SecretKey.generate().publicKey, command: .final(messageID: .random()))]
        let message = [UInt8](repeating: 0x5a, count: 1000)
        for i in 0..<Self.count {
            let slot = UnsafeMutableRawBufferPointer(rebasing: packets[(i * size)..<((i + 1) * size)])
            try! Sphinx.createPacket(geometry: geometry, route: route, message: message, into: slot)
        }
    }

    /// The next packet, and whether the ring just started over (the caller then starts a new
    /// replay-filter epoch, or every packet from now on would be a replay).
    @inline(__always)
    func take() -> (packet: UnsafeRawBufferPointer, wrapped: Bool) {
        let size = geometry.packetBytes
        let i = next
        next = (i + 1) % Self.count
        return (UnsafeRawBufferPointer(rebasing: packets[(i * size)..<((i + 1) * size)]), i == 0)
    }
}

/// A route of `hops` fresh keys, the last one FINAL: what a client builds per packet or reply block.
func makeRoute(hops: Int) -> (keys: [SecretKey], route: [RouteHop]) {
    let keys = (0..<hops).map { _ in SecretKey.generate() }
    let route = keys.enumerated().map { i, key in
        RouteHop(publicKey: key.publicKey,
                 command: i == hops - 1 ? .final(messageID: .random()) : .relay(next: .random(), delayMicroseconds: 500))
    }
    return (keys, route)
}

/// A reply carried along its whole route, ready for the maker to open (opening does not alter it).
func deliveredReply(geometry: Geometry, message: [UInt8]) -> (packet: [UInt8], secret: ReplyBlockSecret) {
    let (keys, route) = makeRoute(hops: geometry.hops)
    let (block, secret) = try! Sphinx.createReplyBlock(geometry: geometry, route: route, firstHop: .random())
    var packet = try! block.makeReply(message: message)
    for key in keys {
        let processor = try! PacketProcessor(geometry: geometry, secretKey: key, replayFilter: nil)
        packet = try! processor.process(packet).packet
    }
    return (packet, secret)
}

/// Made on first use: the benchmark closure runs once per iteration, and the `benchmarks` closure once per
/// benchmark process, so fixtures are built in the first warm-up iteration of the benchmark that needs them.
final class Fixture<Value>: @unchecked Sendable {
    // Touched only from the benchmark's own closure, which the runner calls from one thread at a time.
    private let make: () -> Value
    private var made: Value?
    init(_ make: @escaping () -> Value) { self.make = make }
    var value: Value {
        if let made { return made }
        let v = make()
        made = v
        return v
    }
}

/// The Swift processor with its replay filter, fed from a ring of packets.
final class SwiftNode {
    let ring = PacketRing()
    let filter = try! ReplayFilter(capacity: UInt64(PacketRing.count) * 2, falsePositiveRate: 1e-6)
    lazy var processor = try! PacketProcessor(geometry: ring.geometry, secretKey: ring.key, replayFilter: filter)
    var epoch: UInt64 = 0

    @inline(__always) func processNext() -> ProcessedPacket {
        let (packet, wrapped) = ring.take()
        if wrapped {
            epoch += 1
            filter.rotate(toEpoch: epoch)
        }
        return try! processor.process(packet, into: ring.output)
    }
}

/// The same work through the C API alone: its own node (same kind of key) and filter.
final class CNode {
    let ring = PacketRing()
    var filter: OpaquePointer? = nil
    var node: OpaquePointer? = nil
    var epoch: UInt64 = 0
    var result = lsx_processed()

    init() {
        var g = lsx_geometry(hops: UInt32(ring.geometry.hops), payload: UInt32(ring.geometry.payload), suite: LSX_SUITE_V1)
        precondition(lsx_replay_filter_create(&filter, UInt64(PacketRing.count) * 2, 1e-6, 0) == 0)
        let rc = ring.key.withUnsafeBytes { lsx_node_create(&node, &g, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        precondition(rc == 0)
    }

    @inline(__always) func processNext() -> Int32 {
        let (packet, wrapped) = ring.take()
        if wrapped {
            epoch += 1
            lsx_replay_filter_rotate(filter, epoch)
        }
        return lsx_process(ring.output.baseAddress!.assumingMemoryBound(to: UInt8.self), ring.output.count, &result,
                           node, filter, packet.baseAddress!.assumingMemoryBound(to: UInt8.self), packet.count)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 50,
        maxDuration: .seconds(3),
        maxIterations: 100_000
    )
    // Processing must never allocate: any malloc at all on the packet path fails `thresholds check`.
    let noMallocs: [BenchmarkMetric: BenchmarkThresholds] = [
        .mallocCountTotal: .init(absolute: [.p0: 0, .p50: 0, .p90: 0, .p99: 0, .p100: 0])
    ]
    let geometry = Geometry.standard

    // --- process: the Swift wrapper and the C call it makes, on the same kind of packets ---

    let swiftNode = Fixture { SwiftNode() }
    Benchmark("process-swift", configuration: .init(thresholds: noMallocs)) { benchmark in
        let node = swiftNode.value
        for _ in benchmark.scaledIterations {
            blackHole(node.processNext())
        }
    }

    let cNode = Fixture { CNode() }
    Benchmark("process-c-direct", configuration: .init(thresholds: noMallocs)) { benchmark in
        let node = cNode.value
        for _ in benchmark.scaledIterations {
            let rc = node.processNext()
            precondition(rc == 0)
            blackHole(node.result)
        }
    }

    // --- creating packets and reply blocks ---

    let createInput = Fixture {
        (route: makeRoute(hops: 6).route, message: [UInt8](repeating: 0x42, count: 1000),
         out: UnsafeMutableRawBufferPointer.allocate(byteCount: geometry.packetBytes, alignment: 64))
    }
    Benchmark("create-6-hops") { benchmark in
        let input = createInput.value
        for _ in benchmark.scaledIterations {
            try! Sphinx.createPacket(geometry: geometry, route: input.route, message: input.message, into: input.out)
            blackHole(input.out)
        }
    }

    let surbRoute = Fixture { (route: makeRoute(hops: 6).route, firstHop: SphinxAddress.random()) }
    Benchmark("surb-create-6-hops") { benchmark in
        let input = surbRoute.value
        for _ in benchmark.scaledIterations {
            blackHole(try! Sphinx.createReplyBlock(geometry: geometry, route: input.route, firstHop: input.firstHop))
        }
    }

    let surbBlock = Fixture {
        (block: try! Sphinx.createReplyBlock(geometry: geometry, route: makeRoute(hops: 6).route,
                                             firstHop: .random()).block,
         message: [UInt8](repeating: 0x17, count: 1000))
    }
    Benchmark("surb-use") { benchmark in
        let input = surbBlock.value
        for _ in benchmark.scaledIterations {
            blackHole(try! input.block.makeReply(message: input.message))
        }
    }

    let surbReply = Fixture { deliveredReply(geometry: geometry, message: [UInt8](repeating: 0x33, count: 1000)) }
    Benchmark("surb-open-6-hops") { benchmark in
        let reply = surbReply.value
        for _ in benchmark.scaledIterations {
            blackHole(try! reply.secret.open(packet: reply.packet))
        }
    }
}
