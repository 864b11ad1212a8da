// The `directory` object of a node's or a client's configuration: where the authority answers
// and whose signatures a document needs.
import CoreMetrics
import Logging
import LoopixDirectory
import LoopixNetwork
import LoopixSphinx
import Metrics
import NIOCore
import NIOPosix

/// How a node or a client reaches the directory authority and whom it believes.
public struct DirectoryAccess: Codable, Sendable, Hashable {
    /// The authority's HTTP address.
    public var host: String
    public var port: Int
    /// The pinned authority keys (Ed25519, hex).
    public var authorities: [String]
    /// Distinct pinned keys whose signatures a document needs (default 1).
    public var threshold: Int?

    public init(host: String, port: Int, authorities: [String], threshold: Int? = nil) {
        self.host = host
        self.port = port
        self.authorities = authorities
        self.threshold = threshold
    }

    static let fields: Set<String> = ["host", "port", "authorities", "threshold"]

    /// The pinned keys and threshold as the follower checks them.
    public var trust: DirectoryTrust {
        DirectoryTrust(authorities: authorities.compactMap { try? VerifyingKey(hex: $0) }, threshold: threshold ?? 1)
    }

    func validate(file: String) throws {
        func bad(_ field: String, _ problem: String) -> ConfigurationError {
            ConfigurationError(file: file, field: "directory.\(field)", problem: problem)
        }
        if host.isEmpty { throw bad("host", "must not be empty") }
        if !(1...65535).contains(port) { throw bad("port", "\(port) is not a port (1...65535)") }
        if authorities.isEmpty { throw bad("authorities", "pin at least one authority key") }
        for (i, key) in authorities.enumerated() where (try? VerifyingKey(hex: key)) == nil {
            throw bad("authorities[\(i)]", "must be 64 hex digits")
        }
        let distinct = Set(authorities.map { $0.lowercased() }).count
        if let threshold, !(1...distinct).contains(threshold) {
            throw bad("threshold", "must be 1...\(distinct) (the distinct pinned keys)")
        }
    }

    /// The current epoch's document, fetched once and checked against the pinned keys.
    public func currentDocument() async throws -> DirectoryDocument {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let follower = try follower(group: group, metrics: NOOPMetricsHandler.instance, logger: Logger(label: "loopix.directory"))
        guard let document = await follower.fetch(epoch: nil) else {
            throw StartupError("no current document from the directory at \(host):\(port) (unreachable, none published yet, or not signed by the pinned keys)")
        }
        return document
    }

    /// A follower of this authority over HTTP on `group`, counting into `metrics`.
    public func follower(group: any EventLoopGroup, metrics: any MetricsFactory, logger: Logger) throws -> DirectoryFollower {
        try DirectoryFollower(trust: trust, source: HTTPDirectorySource(host: host, port: port, group: group),
                              metrics: metrics, logger: logger)
    }
}
