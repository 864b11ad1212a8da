// The Prometheus endpoint: `GET /metrics` answers with a registry as text.
import LoopixNetwork
import NIOCore
import Prometheus

extension PrometheusCollectorRegistry {
    /// Serves this registry at `GET /metrics` on `host:port` (anything else: 404).
    public func serve(host: String, port: Int, group: any EventLoopGroup) async throws -> HTTPEndpoint {
        try await HTTPEndpoint.start(host: host, port: port, group: group) { request in
            guard request.method == .GET, request.path == "/metrics" else { return .notFound }
            return HTTPResponse(contentType: "text/plain; version=0.0.4", body: Array(self.emitToString().utf8))
        }
    }
}

extension NodeMetrics {
    /// Serves the node's registry at `GET /metrics`.
    func serve(host: String, port: Int, group: any EventLoopGroup) async throws -> HTTPEndpoint {
        try await registry.serve(host: host, port: port, group: group)
    }
}
