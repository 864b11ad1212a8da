// The Prometheus endpoint: `GET /metrics` answers with the node's registry as text.
import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal HTTP/1.1 server for one registry; anything but GET /metrics gets 404.
final class MetricsServer: Sendable {
    private let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    static func start(host: String, port: Int, metrics: NodeMetrics, group: any EventLoopGroup) async throws -> MetricsServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(metrics: metrics))
                }
            }
            .bind(host: host, port: port).get()
        return MetricsServer(channel: channel)
    }

    var localPort: Int? { channel.localAddress?.port }

    func close() async {
        try? await channel.close()
    }
}

private final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let metrics: NodeMetrics
    private var head: HTTPRequestHead?

    init(metrics: NodeMetrics) { self.metrics = metrics }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            let found = head.method == .GET && (head.uri == "/metrics" || head.uri.hasPrefix("/metrics?"))
            let body = found ? metrics.render() : "not found\n"
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: found ? "text/plain; version=0.0.4" : "text/plain")
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            let response = HTTPResponseHead(version: head.version, status: found ? .ok : .notFound, headers: headers)
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            let keepAlive = head.isKeepAlive
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            // HTTP/1.0 and "Connection: close" clients read to the end of the stream: close it.
            if !keepAlive {
                let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
                done.whenComplete { _ in loopBound.value.close(promise: nil) }
            }
            self.head = nil
        }
    }
}
