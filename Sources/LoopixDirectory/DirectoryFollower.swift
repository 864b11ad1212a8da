// How nodes and clients follow the directory: fetch the current and the next epoch's documents
// ahead of time, accept only what the pinned authorities signed, and keep the last good ones
// (saying so) when the authority cannot be reached.
import CoreMetrics
import Foundation
import Logging
import LoopixNetwork
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// Where a follower gets documents and sends its descriptor.
public protocol DirectorySource: Sendable {
    /// The signed document of `epoch` (nil: the authority has none), or of the current epoch when
    /// `epoch` is nil; throws when the authority cannot be reached.
    func document(for epoch: UInt64?) async throws -> Data?
    /// Uploads a node's descriptor; throws `DescriptorUploadError` when the authority refuses it.
    func upload(_ descriptor: SignedNodeDescriptor) async throws
    /// The signed epoch schedule.
    func schedule() async throws -> Data
}

/// The authority refused an upload; `cause` is its `DescriptorRefusal` label.
public struct DescriptorUploadError: Error, Sendable, CustomStringConvertible {
    public let cause: String
    public init(cause: String) { self.cause = cause }
    public var description: String { "the directory refused the descriptor: \(cause)" }
}

/// A directory authority over HTTP (`AuthorityServer`'s interface).
public struct HTTPDirectorySource: DirectorySource {
    public let host: String
    public let port: Int
    private let group: any EventLoopGroup

    public init(host: String, port: Int, group: any EventLoopGroup) {
        self.host = host
        self.port = port
        self.group = group
    }

    public func document(for epoch: UInt64?) async throws -> Data? {
        let answer = try await HTTPExchange.perform(.GET, host: host, port: port,
                                                    path: "/v1/documents/\(epoch.map(String.init) ?? "current")", group: group)
        switch answer.status {
        case .ok: return Data(answer.body)
        case .notFound: return nil
        default: throw DescriptorUploadError(cause: "http_\(answer.status.code)")
        }
    }

    public func schedule() async throws -> Data {
        let answer = try await HTTPExchange.perform(.GET, host: host, port: port, path: "/v1/schedule", group: group)
        guard answer.status == .ok else { throw DescriptorUploadError(cause: "http_\(answer.status.code)") }
        return Data(answer.body)
    }

    public func upload(_ descriptor: SignedNodeDescriptor) async throws {
        let answer = try await HTTPExchange.perform(.POST, host: host, port: port, path: "/v1/descriptors",
                                                    body: Array(try CanonicalJSON.bytes(of: descriptor)), group: group)
        guard answer.status == .ok else {
            throw DescriptorUploadError(cause: String(decoding: answer.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}

/// The documents a follower holds, and its counters.
public final class DirectoryFollower: Sendable {
    public let trust: DirectoryTrust
    private let source: any DirectorySource
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    private let metrics: FollowerMetrics

    private struct State {
        var documents: [UInt64: DirectoryDocument] = [:]
        var history = DirectoryHistory()
        var schedule: EpochSchedule?
        var unreachableSince: Double?
        /// The highest serial of an accepted document.
        var serial: UInt64 = 0
    }

    public init(trust: DirectoryTrust, source: any DirectorySource, metrics factory: any MetricsFactory,
                logger: Logger = Logger(label: "loopix.directory")) throws {
        try trust.validate()
        self.trust = trust
        self.source = source
        self.logger = logger
        self.metrics = FollowerMetrics(factory: factory)
    }

    /// The epoch schedule, once a document was accepted.
    public var schedule: EpochSchedule? { state.withLockedValue { $0.schedule } }

    /// The accepted document of `epoch`, if any (and still valid at `now`).
    public func document(for epoch: UInt64, now: Double = Date().timeIntervalSince1970) -> DirectoryDocument? {
        state.withLockedValue { $0.documents[epoch] }.flatMap { now < $0.validUntil ? $0 : nil }
    }

    /// Epochs with an accepted, still valid document.
    public func epochs(now: Double = Date().timeIntervalSince1970) -> [UInt64] {
        state.withLockedValue { $0.documents.values.filter { now < $0.validUntil }.map(\.epoch).sorted() }
    }

    /// Judges a fetched document and keeps it if it is good and new; returns it if so.
    @discardableResult
    public func offer(_ data: Data, now: Double = Date().timeIntervalSince1970) -> DirectoryDocument? {
        do {
            let signed: SignedDirectoryDocument
            do { signed = try SignedDirectoryDocument.decode(data) } catch { throw DirectoryRefusal.malformed }
            let document = try trust.verify(signed, now: now)
            let serial = try state.withLockedValue { s throws(DirectoryRefusal) -> UInt64? in
                guard try s.history.admit(document) else { return nil }
                s.documents[document.epoch] = document
                s.schedule = document.schedule
                s.serial = max(s.serial, document.serial)
                // Documents whose window is over are dropped.
                s.documents = s.documents.filter { now < $0.value.validUntil }
                s.history.forget(before: document.schedule.epoch(at: now) &- 1)
                return s.serial
            }
            guard let serial else { return nil }
            metrics.accepted.increment()
            metrics.serial.record(Int64(serial))
            logger.notice("directory document accepted", metadata: [
                "epoch": "\(document.epoch)", "serial": "\(document.serial)", "nodes": "\(document.nodes.count)",
            ])
            return document
        } catch let refusal as DirectoryRefusal {
            metrics.refused[refusal]?.increment()
            logger.warning("directory document refused; keeping the last good one", metadata: [
                "cause": "\(refusal.rawValue)", "why": "\(refusal)",
            ])
            return nil
        } catch {
            return nil
        }
    }

    /// Fetches `epoch`'s document (the current one if nil) and offers it; returns the accepted
    /// document if it is new. Records whether the authority could be reached.
    @discardableResult
    public func fetch(epoch: UInt64?, now: Double = Date().timeIntervalSince1970) async -> DirectoryDocument? {
        do {
            guard let data = try await source.document(for: epoch) else {
                markReachable(true, now: now)
                return nil
            }
            markReachable(true, now: now)
            return offer(data, now: now)
        } catch {
            markReachable(false, now: now)
            return nil
        }
    }

    private func markReachable(_ reachable: Bool, now: Double) {
        let change: Double?? = state.withLockedValue { s in
            if reachable {
                defer { s.unreachableSince = nil }
                return s.unreachableSince.map { .some($0) }
            }
            if s.unreachableSince == nil {
                s.unreachableSince = now
                return .some(nil)
            }
            return nil
        }
        metrics.unreachable.record(reachable ? 0 : 1)
        if !reachable { metrics.fetchFailures.increment() }
        switch change {
        case .some(.some(let since)):
            logger.notice("directory reachable again", metadata: ["after": "\(Int(now - since)) s"])
        case .some(.none):
            logger.warning("directory unreachable; serving the documents held until they expire",
                           metadata: ["held": "\(epochs(now: now))"])
        case .none: break
        }
    }

    /// Learns the epoch schedule from the authorities' signed statement (before any document
    /// exists, a node needs it to number its keys); returns whether it was accepted.
    @discardableResult
    public func fetchSchedule() async -> Bool {
        do {
            let data = try await source.schedule()
            let schedule: EpochSchedule
            do {
                schedule = try trust.verify(try JSONDecoder().decode(SignedEpochSchedule.self, from: data))
            } catch let refusal as DirectoryRefusal {
                metrics.refused[refusal]?.increment()
                logger.warning("epoch schedule refused", metadata: ["cause": "\(refusal.rawValue)"])
                return false
            } catch {
                metrics.refused[.malformed]?.increment()
                return false
            }
            state.withLockedValue { s in if s.schedule == nil { s.schedule = schedule } }
            return true
        } catch {
            markReachable(false, now: Date().timeIntervalSince1970)
            return false
        }
    }

    /// Uploads a descriptor; returns whether the authority took it.
    public func upload(_ descriptor: SignedNodeDescriptor) async -> Bool {
        do {
            try await source.upload(descriptor)
            metrics.uploads.increment()
            return true
        } catch {
            metrics.uploadFailures.increment()
            logger.warning("descriptor upload failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Follows the directory until cancelled: fetches the current epoch's document until it has
    /// one, the next epoch's from half an epoch before it starts, and refreshes the current one
    /// eight times per epoch (re-issued documents list nodes that joined). Waits between
    /// attempts grow from 1 s to an eighth of an epoch while the authority is unreachable or has
    /// nothing new. Runs at absolute deadlines on the monotonic clock.
    public func follow(onDocument: @escaping @Sendable (DirectoryDocument) async -> Void) async {
        let clock = ContinuousClock()
        var next = clock.now
        var backoff = 1.0
        while !Task.isCancelled {
            let now = Date().timeIntervalSince1970
            var gotNews = false
            if let schedule {
                let current = schedule.epoch(at: now)
                for epoch in [current, current + 1] {
                    let due = epoch == current || now >= schedule.start(of: epoch) - schedule.length / 2
                    let have = document(for: epoch, now: now) != nil
                    let refresh = epoch == current && have
                    guard due, !have || refresh else { continue }
                    if let document = await fetch(epoch: epoch, now: now) {
                        gotNews = true
                        await onDocument(document)
                    }
                }
            } else if let document = await fetch(epoch: nil, now: now) {
                gotNews = true
                await onDocument(document)
            } else {
                gotNews = await fetchSchedule()
            }
            // Before any schedule is known (the authority unreachable, or refused) the retries
            // slow to one every 30 s, as for an epoch of four minutes.
            let length = schedule?.length ?? 240
            let complete = schedule.map { s in
                let current = s.epoch(at: now)
                return document(for: current, now: now) != nil
                    && (now < s.start(of: current + 1) - s.length / 2 || document(for: current + 1, now: now) != nil)
            } ?? false
            let wait: Double
            if complete {
                wait = length / 8
                backoff = 1
            } else {
                if gotNews { backoff = 1 }
                wait = backoff
                backoff = min(backoff * 2, max(1, length / 8))
            }
            next = next.advanced(by: .milliseconds(Int64(max(0.2, wait) * 1000)))
            if next < clock.now { next = clock.now }
            try? await Task.sleep(until: next, clock: clock)
        }
    }
}

/// A follower's counters: what it accepted and refused, and whether the authority answers.
private struct FollowerMetrics: Sendable {
    let accepted: CoreMetrics.Counter
    let refused: [DirectoryRefusal: CoreMetrics.Counter]
    let fetchFailures: CoreMetrics.Counter
    let unreachable: CoreMetrics.Gauge
    /// The highest serial among the accepted documents: a reader's view of how far the
    /// authority's publications have reached it.
    let serial: CoreMetrics.Gauge
    let uploads: CoreMetrics.Counter
    let uploadFailures: CoreMetrics.Counter

    init(factory: any MetricsFactory) {
        accepted = CoreMetrics.Counter(label: "loopix_directory_documents_accepted_total", factory: factory)
        refused = Dictionary(uniqueKeysWithValues: DirectoryRefusal.allCases.map {
            ($0, CoreMetrics.Counter(label: "loopix_directory_documents_refused_total", dimensions: [("cause", $0.rawValue)],
                                     factory: factory))
        })
        for counter in refused.values { counter.increment(by: 0) }
        fetchFailures = CoreMetrics.Counter(label: "loopix_directory_fetch_failures_total", factory: factory)
        unreachable = CoreMetrics.Gauge(label: "loopix_directory_unreachable", factory: factory)
        serial = CoreMetrics.Gauge(label: "loopix_directory_serial", factory: factory)
        uploads = CoreMetrics.Counter(label: "loopix_directory_uploads_total", factory: factory)
        uploadFailures = CoreMetrics.Counter(label: "loopix_directory_upload_failures_total", factory: factory)
    }
}
