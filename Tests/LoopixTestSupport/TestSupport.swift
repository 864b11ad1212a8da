// Shared helpers for tests that run real nodes: temporary folders, deadlines (and free ports, from
// LoopixNetwork; the Prometheus sample reader, from LoopixMetrics).
import Foundation
import LoopixNetwork
import LoopixNoise
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
public func openLink(to port: Int, responderKey: NoisePublicKey, localKey: NoiseSecretKey, group: any EventLoopGroup,
                     purpose: LinkPurpose = .packets, settings: LinkSettings = LinkSettings()) async throws -> any Channel {
    let loop = group.next()
    let established = loop.makePromise(of: NoisePublicKey.self)
    let channel = try await ClientBootstrap(group: loop)
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
