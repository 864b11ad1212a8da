// A small HTTP/1.1 server for the roles' own endpoints (a node's metrics, the directory
// authority's documents and uploads): one async handler per endpoint, bounded in what a client
// may send and in how long it may take.
import Atomics
import NIOCore
import NIOHTTP1
import NIOPosix

/// One request, with its whole body (at most the endpoint's limit).
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The path without its query string.
    public var path: String
    public var body: [UInt8]
}

/// One answer.
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: [UInt8]

    public init(status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    public init(status: HTTPResponseStatus = .ok, text: String) {
        self.init(status: status, body: Array(text.utf8))
    }

    public static let notFound = HTTPResponse(status: .notFound, text: "not found\n")
}

/// A listening HTTP/1.1 endpoint. Every request runs `handle`; a body over `maxBodyBytes` is
/// answered 413 and the connection closed before more of it is read; a connection that sends
/// nothing for `idleTimeout` seconds is closed; connections beyond `maxConnections` are closed
/// at once.
public final class HTTPEndpoint: Sendable {
    public struct Limits: Sendable {
        public var maxBodyBytes: Int
        public var idleTimeout: Double
        public var maxConnections: Int

        public init(maxBodyBytes: Int = 64 * 1024, idleTimeout: Double = 10, maxConnections: Int = 256) {
            self.maxBodyBytes = maxBodyBytes
            self.idleTimeout = idleTimeout
            self.maxConnections = maxConnections
        }
    }

    private let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    public static func start(host: String, port: Int, group: any EventLoopGroup, limits: Limits = Limits(),
                             handle: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) async throws -> HTTPEndpoint {
        let open = ManagedAtomic(0)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 128)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if open.wrappingIncrementThenLoad(ordering: .relaxed) > limits.maxConnections {
                        channel.close(promise: nil)
                    }
                    channel.closeFuture.whenComplete { _ in open.wrappingDecrement(ordering: .relaxed) }
                    try channel.pipeline.syncOperations.addHandler(
                        IdleStateHandler(readTimeout: .milliseconds(Int64(limits.idleTimeout * 1000))))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(HTTPRequestHandler(limits: limits, handle: handle))
                }
            }
            .bind(host: host, port: port).get()
        return HTTPEndpoint(channel: channel)
    }

    public var localPort: Int? { channel.localAddress?.port }

    public func close() async {
        try? await channel.close()
    }
}

/// Gathers one request at a time, runs the endpoint's handler, writes its answer.
private final class HTTPRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let limits: HTTPEndpoint.Limits
    private let handle: @Sendable (HTTPRequest) async -> HTTPResponse
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var refused = false

    init(limits: HTTPEndpoint.Limits, handle: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) {
        self.limits = limits
        self.handle = handle
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.removeAll(keepingCapacity: true)
            if let length = head.headers.first(name: "Content-Length").flatMap(Int.init), length > limits.maxBodyBytes {
                refuse(context: context, head: head)
            }
        case .body(let chunk):
            guard let head else { return }
            guard body.count + chunk.readableBytes <= limits.maxBodyBytes else { return refuse(context: context, head: head) }
            body.append(contentsOf: chunk.readableBytesView)
        case .end:
            guard let head else { return }
            self.head = nil
            let path = String(head.uri.prefix { $0 != "?" })
            let request = HTTPRequest(method: head.method, path: path, body: body)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let handle = self.handle
            let promise = context.eventLoop.makePromise(of: HTTPResponse.self)
            promise.completeWithTask { await handle(request) }
            promise.futureResult.whenSuccess { response in
                let (handler, context) = loopBound.value
                handler.write(response, for: head, context: context)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    private func refuse(context: ChannelHandlerContext, head: HTTPRequestHead) {
        refused = true
        var closing = head
        closing.headers.replaceOrAdd(name: "Connection", value: "close")
        write(HTTPResponse(status: .payloadTooLarge, text: "request body over \(limits.maxBodyBytes) bytes\n"), for: closing,
              context: context)
    }

    private func write(_ response: HTTPResponse, for head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        let keepAlive = head.isKeepAlive && !refused
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))),
                      promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        // HTTP/1.0 and "Connection: close" clients read to the end of the stream: close it.
        if !keepAlive {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            done.whenComplete { _ in loopBound.value.close(promise: nil) }
        }
    }
}
