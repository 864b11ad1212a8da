// Shared helpers for tests that run real nodes: temporary folders, deadlines (and free ports, from
// LoopixNetwork; the Prometheus sample reader, from LoopixMetrics).
import Foundation
import LoopixNetwork
import LoopixNoise
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@_exported import func LoopixNetwork.freeLoopbackPort
@_exported import struct LoopixMetrics.MetricSamples


/// A new empty folder under the system's temporary directory.
public func makeTemporaryDirectory(_ label: String = "loopix-tests") -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Polls `condition` every 5 ms until it holds or `seconds` pass; returns whether it held.
public func eventually(within seconds: Double = 3, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return try await condition()
}

/// Kolmogorov–Smirnov: the statistic D of `samples` against Exp(rate), and its asymptotic p-value.
public func ksExponential(_ samples: [Double], rate: Double) -> (d: Double, p: Double) {
    let xs = samples.sorted()
    let n = Double(xs.count)
    var d = 0.0
    for (i, x) in xs.enumerated() {
        let f = 1 - exp(-rate * x)
        d = max(d, abs(Double(i + 1) / n - f), abs(f - Double(i) / n))
    }
    let lambda = (n.squareRoot() + 0.12 + 0.11 / n.squareRoot()) * d
    var p = 0.0
    for k in 1...100 { p += (k % 2 == 1 ? 2 : -2) * exp(-2 * Double(k * k) * lambda * lambda) }
    return (d, min(max(p, 0), 1))
}

/// The next element of `stream`, or nil if none comes within `seconds`: a test that waits for a
/// message fails with a clear expectation instead of hanging when the message is lost.
public func next<Element: Sendable>(of stream: AsyncStream<Element>, within seconds: Double = 20) async -> Element? {
    await withTaskGroup(of: Element?.self) { group in
        group.addTask {
            var iterator = stream.makeAsyncIterator()
            return await iterator.next()
        }
        group.addTask {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

/// Lets every peer in: for test stand-ins (a sink in a provider's place) that check nothing.
public struct AcceptEveryone: LinkAuthorizer {
    public init() {}
    public func authorize(_ peer: NoisePublicKey, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        eventLoop.makeSucceededFuture(true)
    }
}

/// A Noise link to a node's packet port as the holder of `localKey`, once its handshake is done
/// (it throws the link's error when the node refuses). Each buffer written is sealed as one
/// message, so a test writes one frame (`length | version | type | body`) per write.
/// `source`: the local address to connect from (any of 127.0.0.0/8 on Linux), so that a test's
/// stranger does not share the per-address limits with its good peers.
public func openLink(to port: Int, responderKey: NoisePublicKey, localKey: NoiseSecretKey, group: any EventLoopGroup,
                     purpose: LinkPurpose = .packets, settings: LinkSettings = LinkSettings(),
                     from source: String? = nil) async throws -> any Channel {
    let loop = group.next()
    let established = loop.makePromise(of: NoisePublicKey.self)
    let channel = try await ClientBootstrap(group: loop)
        .from(source)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandlers([
                    try NoiseLinkHandler(role: .initiator(responderKey: responderKey), localKey: localKey, purpose: purpose,
                                         settings: settings, maxInboundPlaintext: NoiseLinkFormat.maxPlaintextBytes),
                    LinkEstablishmentWatcher(promise: established),
                ])
            }
        }
        .connect(host: "127.0.0.1", port: port).get()
    do {
        _ = try await established.futureResult.get()
    } catch {
        try? await channel.close()
        throw error
    }
    return channel
}

/// A raw TCP connection, for writing whatever bytes a test wants before or instead of a handshake.
public func connectRaw(to port: Int, group: any EventLoopGroup) async throws -> any Channel {
    try await ClientBootstrap(group: group)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .connect(host: "127.0.0.1", port: port).get()
}

extension ClientBootstrap {
    /// Connects from `source` (an IP address, any port) when given.
    func from(_ source: String?) -> ClientBootstrap {
        guard let source, let address = try? SocketAddress(ipAddress: source, port: 0) else { return self }
        return bind(to: address)
    }
}

/// Whether the peer closes `channel` within the time.
public func closes(_ channel: any Channel, within seconds: Double) async -> Bool {
    await eventually(within: seconds) { !channel.isActive }
}

/// A raw connection that keeps whatever the node sends, for speaking the handshake by hand.
public final class RawPeer: Sendable {
    public let channel: any Channel
    private let received: NIOLockedValueBox<[UInt8]>

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received: NIOLockedValueBox<[UInt8]>
        init(_ received: NIOLockedValueBox<[UInt8]>) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data).readableBytesView
            received.withLockedValue { $0.append(contentsOf: bytes) }
        }
    }

    /// `source`: the local address to connect from, as for `openLink`.
    public init(port: Int, group: any EventLoopGroup, from source: String? = nil) async throws {
        let received = NIOLockedValueBox<[UInt8]>([])
        self.received = received
        channel = try await ClientBootstrap(group: group)
            .from(source)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(received)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    public func send(_ bytes: [UInt8]) async throws { try await channel.writeAndFlush(ByteBuffer(bytes: bytes)) }

    /// One length-prefixed message.
    public func sendMessage(_ message: [UInt8]) async throws {
        try await send([UInt8(message.count >> 8), UInt8(message.count & 0xff)] + message)
    }

    /// The next length-prefixed message the node sent, within ten seconds.
    public func nextMessage() async -> [UInt8]? {
        guard await eventually(within: 10, { received.withLockedValue { $0.count >= 2 && $0.count >= 2 + (Int($0[0]) << 8 | Int($0[1])) } })
        else { return nil }
        return received.withLockedValue { bytes in
            let length = Int(bytes[0]) << 8 | Int(bytes[1])
            defer { bytes.removeFirst(2 + length) }
            return Array(bytes[2..<(2 + length)])
        }
    }

    public struct NoAnswer: Error {}

    /// Runs XK as `key` toward `responder` by hand; returns the messages sent and the transport.
    public func handshake(as key: NoiseSecretKey, to responder: NoisePublicKey, purpose: LinkPurpose = .packets) async throws
        -> (sent: [[UInt8]], transport: NoiseTransport)
    {
        let hs = try NoiseHandshake.initiator(localStaticKey: key, responderKey: responder, prologue: Array(purpose.rawValue.utf8))
        let first = try hs.writeMessage()
        try await sendMessage(first)
        guard let answer = await nextMessage() else { throw NoAnswer() }
        _ = try hs.readMessage(answer)
        let third = try hs.writeMessage()
        try await sendMessage(third)
        return ([first, third], try hs.split())
    }

    public func close() async { try? await channel.close() }
}
