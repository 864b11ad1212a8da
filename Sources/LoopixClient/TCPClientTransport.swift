// The client's TCP link to its provider: packets on the provider's node port, pulls on its client port.
import LoopixNetwork
import LoopixSphinx
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Why a pull failed.
public enum PullFailure: Error, Sendable, Hashable {
    case refused(PullRefusal)
    case unexpectedFrame
    case malformedResponse
    case connectionClosed
}

/// Sends packets over one kept-open connection (reopened when it drops, with keep-alives while
/// idle) and pulls over a short connection per pull: challenge, signed request, K packets,
/// acknowledgement after `receive` returns, next challenge.
public final class TCPClientTransport: ClientTransport {
    public struct Endpoint: Sendable, Hashable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    private let packetEndpoint: Endpoint
    private let pullEndpoint: Endpoint
    private let identity: ClientIdentity
    private let geometry: Geometry
    private let pullSize: Int
    private let group: any EventLoopGroup
    private let keepAliveInterval: TimeAmount
    private let connection = NIOLockedValueBox<EventLoopFuture<any Channel>?>(nil)

    public init(packets: Endpoint, pulls: Endpoint, identity: ClientIdentity, geometry: Geometry, pullSize: Int,
                group: any EventLoopGroup, keepAliveInterval: Double = 3) {
        self.packetEndpoint = packets
        self.pullEndpoint = pulls
        self.identity = identity
        self.geometry = geometry
        self.pullSize = pullSize
        self.group = group
        self.keepAliveInterval = .milliseconds(Int64(keepAliveInterval * 1000))
    }

    // MARK: sending

    private func packetChannel() -> EventLoopFuture<any Channel> {
        connection.withLockedValue { current in
            if let current { return current }
            let interval = keepAliveInterval
            let future = ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(WireFrameEncoder()))
                    }
                }
                .connect(host: packetEndpoint.host, port: packetEndpoint.port)
                .map { channel -> any Channel in
                    // Keep the link inside the provider's frame deadline while the client is quiet.
                    let task = channel.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                        channel.writeAndFlush(WireFrame(type: .keepAlive, body: ByteBuffer()), promise: nil)
                    }
                    channel.closeFuture.whenComplete { _ in task.cancel() }
                    return channel
                }
            current = future
            future.whenFailure { [connection] _ in connection.withLockedValue { $0 = nil } }
            future.whenSuccess { [connection] channel in
                channel.closeFuture.whenComplete { _ in connection.withLockedValue { $0 = nil } }
            }
            return future
        }
    }

    public func send(_ packet: [UInt8]) async throws {
        let channel = try await packetChannel().get()
        try await channel.writeAndFlush(WireFrame(type: .packet, body: ByteBuffer(bytes: packet))).get()
    }

    // MARK: pulling

    public func pull(_ receive: @Sendable ([[UInt8]]) async -> [Bool]) async throws {
        let decoder = PullFrameDecoder.client(pullSize: pullSize, packetBytes: geometry.packetBytes)
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .connect(host: pullEndpoint.host, port: pullEndpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(decoder), MessageToByteHandler(PullFrameEncoder()),
                    ])
                    return try NIOAsyncChannel<PullFrame, PullFrame>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            func next(_ type: PullFrameType) async throws -> [UInt8] {
                guard var frame = try await frames.next() else { throw PullFailure.connectionClosed }
                let body = frame.body.readBytes(length: frame.body.readableBytes) ?? []
                if frame.type == .refusal {
                    throw PullFailure.refused(body.first.flatMap(PullRefusal.init(rawValue:)) ?? .protocolViolation)
                }
                guard frame.type == type else { throw PullFailure.unexpectedFrame }
                return body
            }
            let challenge = try await next(.challenge)
            guard challenge.count == PullFormat.challengeBytes else { throw PullFailure.unexpectedFrame }
            let request = PullRequest(mailbox: identity.mailbox, challenge: challenge, key: identity.signingKey)
            try await outbound.write(PullFrame(type: .request, bytes: request.encoded))
            let response: PullResponse
            do {
                response = try PullResponse(decoding: try await next(.response), pullSize: pullSize,
                                            packetBytes: geometry.packetBytes)
            } catch let e as PullMessageError {
                _ = e
                throw PullFailure.malformedResponse
            }
            let keep = await receive(response.slots.map(\.packet))
            let acknowledged = zip(response.slots, keep).filter(\.1).map(\.0.handle)
            try await outbound.write(PullFrame(type: .acknowledgement,
                                               bytes: PullAcknowledgement(handles: acknowledged).encoded))
            _ = try await next(.challenge)  // the provider has committed the removal
        }
    }

    public func close() async {
        let current = connection.withLockedValue { c -> EventLoopFuture<any Channel>? in
            defer { c = nil }
            return c
        }
        if let channel = try? await current?.get() { try? await channel.close() }
    }
}
