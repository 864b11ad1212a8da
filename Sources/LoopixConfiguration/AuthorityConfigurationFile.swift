// The configuration file of a directory authority: its key, where it listens, its state and
// registry, the epoch schedule and the network's parameters.
import LoopixNetwork

/// The configuration file of `loopix authority`.
public struct AuthorityConfigurationFile: Codable, Sendable {
    /// The authority's key file (from `loopix keygen`); its signing key signs every document.
    public var key: String
    /// Where the HTTP interface (documents, descriptors, `/metrics`) listens; host default 0.0.0.0.
    public var listenHost: String?
    public var port: Int
    /// The folder of the descriptors, the published documents and the last serial.
    public var state: String
    /// The registry file of admitted node identities (`loopix authority register` writes it).
    public var registry: String
    /// Seconds per key epoch (default 3600) and the Unix time epoch 0 starts (default 0).
    public var epochLength: Double?
    public var genesis: Double?
    /// The network's parameters, the same object as a topology's `parameters`.
    public var parameters: NetworkParameters
    /// Seconds a document stays valid after its epoch (default: the parameters' `defaultGrace`).
    public var grace: Double?
    public var logLevel: String?

    public init(key: String, port: Int, state: String, registry: String, parameters: NetworkParameters) {
        self.key = key
        self.port = port
        self.state = state
        self.registry = registry
        self.parameters = parameters
    }

    static let fields: Set<String> = [
        "key", "listenHost", "port", "state", "registry", "epochLength", "genesis", "parameters", "grace", "logLevel",
    ]
    static let parameterFields: Set<String> = [
        "geometry", "layers", "mixDelayRate", "mixLoopRate", "loopReturnThreshold", "clientPayloadRate", "clientLoopRate",
        "clientDropRate", "pullSize", "pullInterval",
    ]

    public static func load(_ path: String) throws -> AuthorityConfigurationFile {
        var c = try readConfiguration(AuthorityConfigurationFile.self, from: path, knownFields: fields,
                                      nestedFields: ["parameters": parameterFields])
        c.key = resolve(c.key, relativeTo: path)
        c.state = resolve(c.state, relativeTo: path)
        c.registry = resolve(c.registry, relativeTo: path)
        func bad(_ field: String, _ problem: String) -> ConfigurationError { ConfigurationError(file: path, field: field, problem: problem) }
        if !(0...65535).contains(c.port) { throw bad("port", "\(c.port) is not a port (0...65535)") }
        if let length = c.epochLength, !(length >= 1) { throw bad("epochLength", "must be at least 1 second") }
        if let genesis = c.genesis, !(genesis >= 0) { throw bad("genesis", "must not be negative") }
        if let grace = c.grace, !(grace >= 0) { throw bad("grace", "must not be negative") }
        if let l = c.logLevel, parseLogLevel(l) == nil { throw bad("logLevel", "unknown level \"\(l)\"") }
        do { try c.parameters.validate() } catch { throw bad("parameters", "\(error.explanation)") }
        if c.parameters.geometry.hops < c.parameters.layers + 3 {
            throw bad("parameters", "a client's route needs \(c.parameters.layers + 3) hops; the geometry has \(c.parameters.geometry.hops)")
        }
        return c
    }

    /// The epochs this file asks for.
    public var schedule: EpochSchedule {
        EpochSchedule(genesis: genesis ?? 0, length: epochLength ?? EpochSchedule.defaultLength)
    }
}

extension TopologyError {
    /// The error as a sentence for a person.
    var explanation: String {
        switch self {
        case .badParameters(let why), .badSignature(let why): why
        case .badNode(let id, let why): "node \(id.hex.prefix(12)): \(why)"
        case .duplicateNode(let id): "node \(id.hex.prefix(12)) is listed twice"
        case .emptyLayer(let layer): "layer \(layer) has no mix"
        case .noProvider: "there is no provider"
        case .unknownNode(let id): "node \(id.hex.prefix(12)) is not listed"
        }
    }
}
