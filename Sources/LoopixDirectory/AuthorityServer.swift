// The directory authority as a service: serves each epoch's signed document and takes node
// descriptors over HTTP, publishes on a timer, exports metrics, and shuts down gracefully.
import CoreMetrics
import Foundation
import Logging
import LoopixNetwork
import LoopixSphinx
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// The HTTP interface (docs/directory.md):
/// - `GET /v1/schedule`: the signed epoch schedule (what a node numbers its keys by before any
///   document lists it);
/// - `GET /v1/documents/<epoch>` (or `current`): the signed document of that epoch, or 404;
/// - `POST /v1/descriptors`: a node's signed descriptor; 200, or 4xx with the refusal's cause;
/// - `GET /metrics`: Prometheus text.
public final class AuthorityServer: Service, Sendable {
    public let state: AuthorityState
    public let registry: PrometheusCollectorRegistry
    private let host: String
    private let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let metrics: AuthorityMetrics
    private let endpoint = NIOLockedValueBox<HTTPEndpoint?>(nil)

    public init(state: AuthorityState, host: String, port: Int, logger: Logger = Logger(label: "loopix.authority")) {
        self.state = state
        self.host = host
        self.port = port
        self.logger = logger
        self.registry = PrometheusCollectorRegistry()
        self.metrics = AuthorityMetrics(registry: registry)
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// The port it listens on, once started.
    public var localPort: Int? { endpoint.withLockedValue { $0 }?.localPort }

    public func start() async throws {
        publishDue()
        let server = try await HTTPEndpoint.start(host: host, port: port, group: group) { [self] request in
            await self.answer(request)
        }
        endpoint.withLockedValue { $0 = server }
        logger.info("authority listening", metadata: [
            "port": "\(server.localPort.map(String.init) ?? "?")",
            "epochLength": "\(state.policy.schedule.length)", "epoch": "\(state.policy.schedule.currentEpoch())",
        ])
    }

    /// Starts, publishes once a second (at whole seconds of the monotonic clock, so the ticks do
    /// not drift), and on graceful shutdown stops listening.
    public func run() async throws {
        try await start()
        let clock = ContinuousClock()
        var next = clock.now
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                next = next.advanced(by: .seconds(1))
                try? await Task.sleep(until: next, clock: clock)
                publishDue()
            }
        } onGracefulShutdown: {
            self.logger.info("authority shutting down")
        }
        await shutdown()
    }

    public func shutdown() async {
        await endpoint.withLockedValue { $0 }?.close()
        try? await group.shutdownGracefully()
    }

    /// Rereads the registry if it changed and publishes what is due now.
    public func publishDue(now: Double = Date().timeIntervalSince1970) {
        do { try state.reloadRegistry() } catch {
            logger.error("cannot read the registry", metadata: ["error": "\(error)"])
        }
        let (published, failures) = state.publish(now: now)
        for epoch in published {
            guard let document = state.document(for: epoch)?.document else { continue }
            metrics.published.increment()
            metrics.serial.record(Int64(document.serial))
            logger.notice("published", metadata: ["epoch": "\(epoch)", "serial": "\(document.serial)", "nodes": "\(document.nodes.count)"])
        }
        let current = state.policy.schedule.epoch(at: now)
        metrics.epoch.record(Int64(current))
        metrics.currentMissing.record(state.document(for: current) == nil ? 1 : 0)
        metrics.listed.record(Int64(state.document(for: current)?.document.nodes.count ?? 0))
        for (epoch, error) in failures where state.document(for: epoch) == nil {
            logger.warning("cannot publish yet", metadata: ["epoch": "\(epoch)", "why": "\(error)"])
        }
    }

    private func answer(_ request: HTTPRequest) async -> HTTPResponse {
        let parts = request.path.split(separator: "/")
        switch (request.method, parts.count) {
        case (.GET, 1) where parts[0] == "metrics":
            return HTTPResponse(contentType: "text/plain; version=0.0.4", body: Array(registry.emitToString().utf8))
        case (.GET, 2) where parts[0] == "v1" && parts[1] == "schedule":
            guard let signed = try? SignedEpochSchedule(schedule: state.policy.schedule).signed(by: state.signingKey),
                let body = try? CanonicalJSON.readable(signed)
            else { return HTTPResponse(status: .internalServerError, text: "error\n") }
            return HTTPResponse(contentType: "application/json", body: Array(body))
        case (.GET, 3) where parts[0] == "v1" && parts[1] == "documents":
            let epoch = parts[2] == "current" ? state.policy.schedule.currentEpoch() : UInt64(parts[2])
            guard let epoch, let signed = state.document(for: epoch),
                let body = try? signed.encoded()
            else { return .notFound }
            metrics.served.increment()
            return HTTPResponse(contentType: "application/json", body: Array(body))
        case (.POST, 2) where parts[0] == "v1" && parts[1] == "descriptors":
            return receive(request.body)
        default:
            return .notFound
        }
    }

    private func receive(_ body: [UInt8]) -> HTTPResponse {
        do {
            guard let upload = try? JSONDecoder().decode(SignedNodeDescriptor.self, from: Data(body)) else {
                throw DescriptorRefusal.malformed
            }
            try state.accept(upload, now: Date().timeIntervalSince1970)
            metrics.descriptors[nil]?.increment()
            return HTTPResponse(text: "accepted\n")
        } catch let refusal as DescriptorRefusal {
            metrics.descriptors[refusal]?.increment()
            logger.warning("descriptor refused", metadata: ["cause": "\(refusal.rawValue)"])
            let status: HTTPResponseStatus = switch refusal {
            case .malformed, .noKeys: .badRequest
            case .unregistered, .badSignature: .forbidden
            case .roleMismatch: .conflict
            case .stale: .unprocessableEntity
            }
            return HTTPResponse(status: status, text: "\(refusal.rawValue)\n")
        } catch {
            return HTTPResponse(status: .internalServerError, text: "error\n")
        }
    }
}

/// The authority's counters.
private struct AuthorityMetrics: Sendable {
    /// Accepted (nil) and refused uploads, by cause.
    let descriptors: [DescriptorRefusal?: CoreMetrics.Counter]
    let published: CoreMetrics.Counter
    let served: CoreMetrics.Counter
    let epoch: CoreMetrics.Gauge
    let serial: CoreMetrics.Gauge
    let currentMissing: CoreMetrics.Gauge
    /// Nodes the current epoch's document lists.
    let listed: CoreMetrics.Gauge

    init(registry: PrometheusCollectorRegistry) {
        let factory = PrometheusMetricsFactory(registry: registry)
        var descriptors: [DescriptorRefusal?: CoreMetrics.Counter] = [
            nil: CoreMetrics.Counter(label: "loopix_directory_descriptors_total", dimensions: [("result", "accepted")], factory: factory)
        ]
        for refusal in DescriptorRefusal.allCases {
            descriptors[refusal] = CoreMetrics.Counter(label: "loopix_directory_descriptors_total",
                                                       dimensions: [("result", refusal.rawValue)], factory: factory)
        }
        self.descriptors = descriptors
        for counter in descriptors.values { counter.increment(by: 0) }
        published = CoreMetrics.Counter(label: "loopix_directory_documents_published_total", factory: factory)
        served = CoreMetrics.Counter(label: "loopix_directory_documents_served_total", factory: factory)
        epoch = CoreMetrics.Gauge(label: "loopix_epoch", factory: factory)
        serial = CoreMetrics.Gauge(label: "loopix_directory_serial", factory: factory)
        currentMissing = CoreMetrics.Gauge(label: "loopix_directory_current_missing", factory: factory)
        listed = CoreMetrics.Gauge(label: "loopix_directory_listed_nodes", factory: factory)
    }
}
