// One HTTP/1.1 request and its answer over SwiftNIO's HTTP client codec, with a deadline and a
// cap on the answer's size: how nodes and clients talk to the directory authority.
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// Why an exchange produced no answer.
public enum HTTPExchangeError: Error, Sendable, Equatable {
    case timedOut
    case answerTooLarge
    case connectionClosed
}

/// A complete answer.
public struct HTTPAnswer: Sendable {
    public var status: HTTPResponseStatus
    public var body: [UInt8]
}

public enum HTTPExchange {
    /// Sends `method path` (with `body`) to `host:port` and returns the answer; fails after
    /// `timeout` seconds, as soon as the answer grows past `maxAnswerBytes`, or when the calling
    /// task is cancelled (the connection is closed at once).
    public static func perform(_ method: HTTPMethod, host: String, port: Int, path: String, body: [UInt8] = [],
                               contentType: String = "application/json", timeout: Double = 5,
                               maxAnswerBytes: Int = 4 << 20, group: any EventLoopGroup) async throws -> HTTPAnswer {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(Int64(timeout * 1000)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                }
            }
            .connect(host: host, port: port).get()
        let promise = channel.eventLoop.makePromise(of: HTTPAnswer.self)
        let deadline = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) {
            promise.fail(HTTPExchangeError.timedOut)
            channel.close(promise: nil)
        }
        promise.futureResult.whenComplete { _ in
            deadline.cancel()
            channel.close(promise: nil)
        }
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(AnswerCollector(promise: promise, limit: maxAnswerBytes))
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: host)
            headers.add(name: "Content-Length", value: String(body.count))
            headers.add(name: "Connection", value: "close")
            if !body.isEmpty { headers.add(name: "Content-Type", value: contentType) }
            let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            if !body.isEmpty {
                channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(bytes: body))), promise: nil)
            }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }.get()
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            promise.fail(CancellationError())
            channel.close(promise: nil)
        }
    }
}

/// Gathers the answer's status and body.
private final class AnswerCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<HTTPAnswer>
    private let limit: Int
    private var status: HTTPResponseStatus?
    private var body: [UInt8] = []

    init(promise: EventLoopPromise<HTTPAnswer>, limit: Int) {
        self.promise = promise
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = head.status
        case .body(let chunk):
            guard body.count + chunk.readableBytes <= limit else {
                promise.fail(HTTPExchangeError.answerTooLarge)
                return
            }
            body.append(contentsOf: chunk.readableBytesView)
        case .end:
            if let status { promise.succeed(HTTPAnswer(status: status, body: body)) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(HTTPExchangeError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
