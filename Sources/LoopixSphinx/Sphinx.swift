// Library set-up, the backend choice, and creating packets.
import CLoopixSphinx

/// The crypto backend for X25519 (everything else is libsodium).
public enum SphinxBackend: String, Sendable, CaseIterable {
    case sodium
    case libcrypto

    var c: lsx_backend { self == .sodium ? LSX_BACKEND_SODIUM : LSX_BACKEND_LIBCRYPTO }
}

/// Entry points of the Sphinx core: initialisation, backends, and packet creation.
public enum Sphinx {
    // The C core's lsx_init runs once, when this global is first read.
    private static let initResult: Int32 = lsx_init()

    /// Initialises the core (libsodium, backend choice); later calls are free. Every other entry point calls it.
    public static func initialize() throws(SphinxError) {
        try check(initResult)
    }

    static func ensureInitialized() {
        precondition(initResult == 0, "the Sphinx core failed to initialise: \(SphinxError(code: initResult).name)")
    }

    /// The backend used for new packets and new processors.
    public static var backend: SphinxBackend {
        ensureInitialized()
        return lsx_get_backend() == LSX_BACKEND_LIBCRYPTO ? .libcrypto : .sodium
    }

    /// Chooses the backend for packets and processors made from now on.
    public static func setBackend(_ backend: SphinxBackend) throws(SphinxError) {
        try initialize()
        try check(lsx_set_backend(backend.c))
    }

    /// The C library's version.
    public static var version: String { String(cString: lsx_version()) }

    /// Builds a forward packet of the geometry's suite over `route` carrying `message` (at most
    /// `geometry.maxMessageBytes`).
    public static func createPacket(
        geometry: Geometry, route: [RouteHop], message: some Collection<UInt8>
    ) throws(SphinxError) -> [UInt8] {
        var error: SphinxError? = nil
        let packet = [UInt8](unsafeUninitializedCapacity: geometry.packetBytes) { out, count in
            do throws(SphinxError) {
                try createPacket(geometry: geometry, route: route, message: message, ephemeralSecret: nil,
                                 into: UnsafeMutableRawBufferPointer(out))
                count = geometry.packetBytes
            } catch let e {
                error = e
                count = 0
            }
        }
        if let error { throw error }
        return packet
    }

    /// Builds a forward packet into `out` (exactly `geometry.packetBytes`). `ephemeralSecret`, for test vectors
    /// only, replaces the fresh randomness: exactly `geometry.ephemeralBytes(forHops: route.count)` bytes (version
    /// 1's secret, or the KEM suite's seeds, one per hop, end to end).
    public static func createPacket(
        geometry: Geometry, route: [RouteHop], message: some Collection<UInt8>,
        ephemeralSecret: [UInt8]? = nil, into out: UnsafeMutableRawBufferPointer
    ) throws(SphinxError) {
        try initialize()
        let messageBytes = Array(message)
        // The C core's order: the message before the route.
        guard messageBytes.count <= geometry.maxMessageBytes else { throw .messageTooLong }
        try withRoute(route, geometry: geometry) { (keys, commands) throws(SphinxError) in
            try messageBytes.withUnsafeBufferPointer { (msg) throws(SphinxError) in
                try withOptionalBytes(ephemeralSecret) { (secret, secretCount) throws(SphinxError) in
                    var g = geometry.c
                    try check(lsx_create_packet(out.u8, out.count, &g, route.count, keys, commands, msg.baseAddress,
                                                msg.count, secret, secretCount))
                }
            }
        }
    }

    /// A cover packet of the geometry's suite that cannot be told apart from a real one (random bytes behind a
    /// valid group element or encapsulation).
    public static func createDummy(geometry: Geometry) -> [UInt8] {
        ensureInitialized()
        return [UInt8](unsafeUninitializedCapacity: geometry.packetBytes) { out, count in
            var g = geometry.c
            let rc = lsx_create_dummy(out.baseAddress, geometry.packetBytes, &g)
            precondition(rc == 0, "a valid geometry always gives a dummy")
            count = geometry.packetBytes
        }
    }

    /// Lays out a route's public keys and encoded commands for the C core.
    static func withRoute<R>(
        _ route: [RouteHop], geometry: Geometry,
        _ body: (UnsafePointer<UInt8>, UnsafePointer<UInt8>) throws(SphinxError) -> R
    ) throws(SphinxError) -> R {
        guard (CoreSizes.minHops...geometry.hops).contains(route.count) else { throw .invalidRoute }
        let keySize = CoreSizes.key, commandSize = CoreSizes.command
        var keys = [UInt8](repeating: 0, count: route.count * keySize)
        var commands = [UInt8](repeating: 0, count: route.count * commandSize)
        for (i, hop) in route.enumerated() {
            keys.withUnsafeMutableBytes { k in
                hop.publicKey.storage.withUnsafeBytes {
                    UnsafeMutableRawBufferPointer(rebasing: k[(i * keySize)..<((i + 1) * keySize)]).copyMemory(from: $0)
                }
            }
            commands.withUnsafeMutableBytes { c in
                let slot = c[(i * commandSize)..<((i + 1) * commandSize)]
                hop.command.encode(into: UnsafeMutableRawBufferPointer(rebasing: slot))
            }
        }
        return try keys.withUnsafeBufferPointer { (k) throws(SphinxError) in
            try commands.withUnsafeBufferPointer { (c) throws(SphinxError) in
                try body(k.baseAddress!, c.baseAddress!)
            }
        }
    }

    /// Lends optional bytes to C as a pointer and a count (NULL and 0 for nil).
    static func withOptionalBytes<R>(
        _ bytes: [UInt8]?, _ body: (UnsafePointer<UInt8>?, Int) throws(SphinxError) -> R
    ) throws(SphinxError) -> R {
        guard let bytes else { return try body(nil, 0) }
        return try bytes.withUnsafeBufferPointer { (b) throws(SphinxError) in try body(b.baseAddress, b.count) }
    }
}

extension Sphinx {
    /// Overwrites secret bytes with zeros in a way the compiler cannot remove.
    public static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { lsx_wipe($0.baseAddress, $0.count) }
    }
}
