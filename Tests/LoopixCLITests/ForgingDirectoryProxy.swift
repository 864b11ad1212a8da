// A man in the middle between nodes and their directory authority: it passes every request on,
// and while a forgery is set it replaces the current epoch's document with a forged one. What a
// node in directory mode meets when its network path to the authority is hostile.
import Foundation
import LoopixNetwork
import NIOConcurrencyHelpers
import NIOHTTP1
import NIOPosix

final class ForgingDirectoryProxy: Sendable {
    /// What the proxy makes of the current epoch's document.
    enum Forgery: String, CaseIterable, Sendable {
        /// No signature at all.
        case unsigned
        /// Signed by a node's own identity (to route traffic its way), not by the authority.
        case selfSigned
        /// The authority's signature over other bytes: a node's port changed after signing.
        case wronglySigned
        /// An old epoch's document, signed by the authority, whose validity window is over.
        case expired
        /// The current epoch, signed by the authority, under a lower serial than any published.
        case rolledBack

        /// The follower's refusal cause (its log line and counter label).
        var cause: DirectoryRefusal {
            switch self {
            case .unsigned: .unsigned
            case .selfSigned: .untrustedSigner
            case .wronglySigned: .badSignature
            case .expired: .expired
            case .rolledBack: .rolledBack
            }
        }
    }

    let upstreamPort: Int
    private let authorityKeyFile: String
    private let impostorKeyFile: String
    private let forgery = NIOLockedValueBox<Forgery?>(nil)
    /// Forged documents served, by forgery.
    private let served = NIOLockedValueBox<[Forgery: Int]>([:])
    private let endpoint: NIOLockedValueBox<HTTPEndpoint?> = NIOLockedValueBox(nil)

    /// The key in `authorityKeyFile` signs what needs the authority's signature (the test holds
    /// it); the one in `impostorKeyFile`, a node's, signs the self-signed document. Both are read
    /// when a document is forged: the node's key may not exist yet.
    init(upstreamPort: Int, authorityKeyFile: String, impostorKeyFile: String) {
        self.upstreamPort = upstreamPort
        self.authorityKeyFile = authorityKeyFile
        self.impostorKeyFile = impostorKeyFile
    }

    func start() async throws -> Int {
        let server = try await HTTPEndpoint.start(host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton) {
            [self] request in await self.answer(request)
        }
        endpoint.withLockedValue { $0 = server }
        return server.localPort!
    }

    func close() async { await endpoint.withLockedValue { $0 }?.close() }

    /// From now on, forges `forgery` (nil: passes everything on unchanged).
    func forge(_ forgery: Forgery?) { self.forgery.withLockedValue { $0 = forgery } }

    func servedCount(_ forgery: Forgery) -> Int { served.withLockedValue { $0[forgery] ?? 0 } }

    private func answer(_ request: HTTPRequest) async -> HTTPResponse {
        guard let upstream = try? await HTTPExchange.perform(request.method, host: "127.0.0.1", port: upstreamPort,
                                                             path: request.path, body: request.body,
                                                             group: MultiThreadedEventLoopGroup.singleton)
        else { return HTTPResponse(status: .badGateway, text: "upstream unreachable\n") }
        let passed = HTTPResponse(status: upstream.status, contentType: "application/json", body: upstream.body)
        let parts = request.path.split(separator: "/")
        guard let forgery = forgery.withLockedValue({ $0 }), upstream.status == .ok, parts.count == 3, parts[1] == "documents",
            let real = try? SignedDirectoryDocument.decode(Data(upstream.body)).document,
            parts[2] == "current" || real.epoch == real.schedule.epoch(at: Date().timeIntervalSince1970),
            let forged = try? self.forged(real, forgery).encoded()
        else { return passed }
        served.withLockedValue { $0[forgery, default: 0] += 1 }
        return HTTPResponse(contentType: "application/json", body: Array(forged))
    }

    /// `real` made into `forgery`. Every forgery that lists nodes moves the provider to port 9,
    /// so a node that believed one could no longer reach it.
    private func forged(_ real: DirectoryDocument, _ forgery: Forgery) throws -> SignedDirectoryDocument {
        let authority = try KeyFile.load(path: authorityKeyFile).signingKey
        var document = real
        document.serial += 1000
        for index in document.nodes.indices where document.nodes[index].role == .provider { document.nodes[index].port = 9 }
        switch forgery {
        case .unsigned:
            return SignedDirectoryDocument(document: document)
        case .selfSigned:
            return try SignedDirectoryDocument(document: document).signed(by: try KeyFile.load(path: impostorKeyFile).signingKey)
        case .wronglySigned:
            var signed = try SignedDirectoryDocument(document: real).signed(by: authority)
            signed.document = document
            return signed
        case .expired:
            document.epoch = real.epoch - 2
            document.validFrom = real.schedule.start(of: document.epoch)
            document.validUntil = real.schedule.end(of: document.epoch) + (real.validUntil - real.schedule.end(of: real.epoch))
            return try SignedDirectoryDocument(document: document).signed(by: authority)
        case .rolledBack:
            // The authority's serials start at 1: every reader has seen a higher one.
            document.serial = 0
            return try SignedDirectoryDocument(document: document).signed(by: authority)
        }
    }
}
