// What a directory authority knows and decides: the descriptors registered nodes uploaded, and
// the signed document of each epoch, rebuilt whenever what it lists changes. No I/O beyond its
// state folder; the server and the timer drive it.
import Foundation
import LoopixNetwork
import LoopixSphinx
import NIOConcurrencyHelpers

/// The network an authority publishes: its epochs, its parameters and its timing rules.
public struct AuthorityPolicy: Sendable, Hashable {
    public var schedule: EpochSchedule
    public var parameters: NetworkParameters
    /// Seconds a document stays valid after its epoch ends: packets built in the last moments
    /// of an epoch are still on their way.
    public var grace: Double
    /// How long before an epoch starts its document is published (nodes and clients fetch it then).
    public var publishAhead: Double
    /// How far a descriptor's `issuedAt` may be from the authority's clock, in seconds.
    public var clockSkew: Double

    public init(schedule: EpochSchedule, parameters: NetworkParameters, grace: Double, publishAhead: Double? = nil,
                clockSkew: Double = 60) {
        self.schedule = schedule
        self.parameters = parameters
        self.grace = grace
        self.publishAhead = publishAhead ?? schedule.length / 2
        self.clockSkew = clockSkew
    }
}

/// Why an uploaded descriptor was refused; `rawValue` is the `cause` label of its counter.
public enum DescriptorRefusal: String, Error, Sendable, CaseIterable {
    /// Not a descriptor (bad JSON, wrong format, a port out of range).
    case malformed
    /// Its identity is not in the registry.
    case unregistered
    /// The signature is not its identity's over exactly this descriptor.
    case badSignature = "bad_signature"
    /// It claims another role than the one registered.
    case roleMismatch = "role_mismatch"
    /// Made too long ago or in the future, by the authority's clock.
    case stale
    /// It holds no key for the current or the next epoch.
    case noKeys = "no_keys"
}

/// The authority's descriptors and documents, kept in memory and in `folder` (so that a restart
/// serves the same documents and never reuses a serial). Thread-safe.
public final class AuthorityState: Sendable {
    public let policy: AuthorityPolicy
    /// The authority's own key; it signs every document and the schedule.
    let signingKey: SigningKey
    private let folder: URL
    private let registryPath: String
    private let state: NIOLockedValueBox<State>

    private struct State {
        var registry = AuthorityRegistry()
        var registryModified: Date?
        var descriptors: [VerifyingKey: NodeDescriptorBody] = [:]
        var documents: [UInt64: SignedDirectoryDocument] = [:]
        var serial: UInt64 = 0
    }

    /// Opens (or starts) the state in `folder`; `registryPath` is the operator's registry file.
    public init(policy: AuthorityPolicy, key: SigningKey, folder: URL, registryPath: String) throws {
        try policy.schedule.validate()
        self.policy = policy
        self.signingKey = key
        self.folder = folder
        self.registryPath = registryPath
        var state = State()
        for sub in ["documents", "descriptors"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        if let text = try? String(contentsOf: folder.appendingPathComponent("serial"), encoding: .utf8),
            let serial = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            state.serial = serial
        }
        let decoder = JSONDecoder()
        for file in try Self.files(in: folder.appendingPathComponent("documents")) {
            if let signed = try? SignedDirectoryDocument.decode(Data(contentsOf: file)) {
                state.documents[signed.document.epoch] = signed
                state.serial = max(state.serial, signed.document.serial)
            }
        }
        for file in try Self.files(in: folder.appendingPathComponent("descriptors")) {
            if let signed = try? decoder.decode(SignedNodeDescriptor.self, from: Data(contentsOf: file)), signed.signatureIsValid {
                state.descriptors[signed.descriptor.identity] = signed.descriptor
            }
        }
        self.state = NIOLockedValueBox(state)
        try reloadRegistry()
    }

    private static func files(in folder: URL) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil).filter { $0.pathExtension == "json" }
    }

    /// Rereads the registry file if it changed since the last read.
    public func reloadRegistry() throws {
        let modified = (try? FileManager.default.attributesOfItem(atPath: registryPath)[.modificationDate]) as? Date
        guard state.withLockedValue({ $0.registryModified != modified || modified == nil }) else { return }
        let registry = try AuthorityRegistry.load(path: registryPath)
        state.withLockedValue {
            $0.registry = registry
            $0.registryModified = modified
        }
    }

    public var registry: AuthorityRegistry { state.withLockedValue { $0.registry } }

    // MARK: descriptors

    /// Takes a node's upload if its identity is registered, its signature is that identity's,
    /// its role is the registered one, it is fresh and it has a key for the current or next epoch.
    public func accept(_ upload: SignedNodeDescriptor, now: Double) throws(DescriptorRefusal) {
        let body = upload.descriptor
        guard body.format == NodeDescriptorBody.formatName, (1...65535).contains(body.port),
            body.clientPort.map({ (1...65535).contains($0) }) ?? true, !body.host.isEmpty, body.epochKeys.count <= 16
        else { throw .malformed }
        guard let registered = state.withLockedValue({ $0.registry.node(body.identity) }) else { throw .unregistered }
        guard upload.signatureIsValid else { throw .badSignature }
        guard registered.role == body.role else { throw .roleMismatch }
        guard abs(body.issuedAt - now) <= policy.clockSkew else { throw .stale }
        let current = policy.schedule.epoch(at: now)
        guard body.sphinxKey(for: current) != nil || body.sphinxKey(for: current + 1) != nil else { throw .noKeys }
        state.withLockedValue { $0.descriptors[body.identity] = body }
        try? CanonicalJSON.readable(upload).write(
            to: folder.appendingPathComponent("descriptors/\(body.identity.hex).json"), options: .atomic)
    }

    // MARK: documents

    /// The newest document of `epoch`, if one was published.
    public func document(for epoch: UInt64) -> SignedDirectoryDocument? {
        state.withLockedValue { $0.documents[epoch] }
    }

    /// Publishes what is due at `now`: the current epoch's document and, from `publishAhead`
    /// before it starts, the next one's; each is re-signed under a new serial only when what it
    /// lists changed. Returns the epochs whose document changed, and for each epoch that could
    /// not be published, why (a layer without mixes, no provider).
    @discardableResult
    public func publish(now: Double) -> (published: [UInt64], unpublishable: [UInt64: TopologyError]) {
        let current = policy.schedule.epoch(at: now)
        var epochs = [current]
        if now >= policy.schedule.start(of: current + 1) - policy.publishAhead { epochs.append(current + 1) }
        var published: [UInt64] = []
        var failures: [UInt64: TopologyError] = [:]
        for epoch in epochs {
            do {
                if try publish(epoch: epoch) { published.append(epoch) }
            } catch let error as TopologyError {
                failures[epoch] = error
            } catch {
                failures[epoch] = .badParameters("\(error)")
            }
        }
        state.withLockedValue { s in
            // Documents whose window is over are of no use to anyone.
            for epoch in s.documents.keys where epoch + 1 < current {
                s.documents.removeValue(forKey: epoch)
                try? FileManager.default.removeItem(at: folder.appendingPathComponent("documents/\(epoch).json"))
            }
        }
        return (published, failures)
    }

    /// The nodes `epoch`'s document lists: every registered node whose latest descriptor has a
    /// key for that epoch, in the registry's order.
    private func nodes(for epoch: UInt64, _ s: State) -> [DirectoryNode] {
        let layers = s.registry.mixLayers(layers: policy.parameters.layers)
        return s.registry.nodes.compactMap { registered in
            guard let body = s.descriptors[registered.identity], body.role == registered.role,
                let key = body.sphinxKey(for: epoch)
            else { return nil }
            return DirectoryNode(identity: registered.identity, role: registered.role,
                                 layer: registered.role == .mix ? layers[registered.identity] ?? 0 : 0,
                                 host: body.host, port: body.port, clientPort: body.clientPort, sphinxKey: key)
        }
    }

    private func publish(epoch: UInt64) throws -> Bool {
        try state.withLockedValue { s in
            let nodes = nodes(for: epoch, s)
            if let existing = s.documents[epoch]?.document, existing.nodes == nodes, existing.parameters == policy.parameters {
                return false
            }
            let document = DirectoryDocument(epoch: epoch, validUntil: policy.schedule.end(of: epoch) + policy.grace,
                                             serial: s.serial + 1, schedule: policy.schedule,
                                             parameters: policy.parameters, nodes: nodes)
            try document.validate()
            let signed = try SignedDirectoryDocument(document: document).signed(by: signingKey)
            // The serial is on disk before any reader can see it, so a restart never reuses it.
            try String(document.serial).write(to: folder.appendingPathComponent("serial"), atomically: true, encoding: .utf8)
            try signed.encoded().write(to: folder.appendingPathComponent("documents/\(epoch).json"), options: .atomic)
            s.serial = document.serial
            s.documents[epoch] = signed
            return true
        }
    }
}
