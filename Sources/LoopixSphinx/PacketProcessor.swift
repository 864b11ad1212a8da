// Unwrapping one Sphinx layer at a node, into caller-owned buffers.
import CLoopixSphinx

/// What one hop learned from a packet: its command, its replay tag and, at a FINAL hop, where the message is.
public struct ProcessedPacket: Sendable {
    public var command: RoutingCommand
    public var tag: ReplayTag
    /// FINAL only: the message's byte range within the output packet, or nil if the payload check failed
    /// (a tampered forward packet, or a reply that `ReplyBlockSecret.open` must read).
    public var finalMessage: Range<Int>?
}

/// A node's Sphinx context: its key (prepared once for the backend), geometry and replay filter.
public final class PacketProcessor: @unchecked Sendable {
    // Safe to share: the C node is immutable after creation and lsx_process is thread-safe for a
    // shared node; the replay filter has its own lock.
    private let node: OpaquePointer
    public let geometry: Geometry
    public let replayFilter: ReplayFilter?
    public let publicKey: PublicKey

    public init(geometry: Geometry, secretKey: SecretKey, replayFilter: ReplayFilter?) throws(SphinxError) {
        try Sphinx.initialize()
        var g = geometry.c
        var p: OpaquePointer? = nil
        try check(secretKey.withUnsafeBytes { lsx_node_create(&p, &g, $0.u8) })
        node = p!
        self.geometry = geometry
        self.replayFilter = replayFilter
        self.publicKey = secretKey.publicKey
    }

    deinit { lsx_node_destroy(node) }

    /// The backend this processor's key was prepared for.
    public var backend: SphinxBackend { lsx_node_backend(node) == LSX_BACKEND_LIBCRYPTO ? .libcrypto : .sodium }

    /// Unwraps one layer from `input` into `output` (both `geometry.packetBytes`; they may be the same
    /// buffer). Checks replays and the MAC before spending more work. Allocates nothing.
    public func process(
        _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws(SphinxError) -> ProcessedPacket {
        try processRaw(input, output)
    }

    private func processRaw(_ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer) throws(SphinxError)
        -> ProcessedPacket
    {
        guard let inBase = input.baseAddress, let outBase = output.baseAddress else { throw .wrongLength }
        var result = lsx_processed()
        let rc = lsx_process(outBase.assumingMemoryBound(to: UInt8.self), output.count, &result,
                             node, replayFilter?.pointer,
                             inBase.assumingMemoryBound(to: UInt8.self), input.count)
        if rc != 0 { throw SphinxError(code: rc) }
        let address = withUnsafeBytes(of: &result.address) { Bytes32($0) }
        let tag = withUnsafeBytes(of: &result.tag) { Bytes32($0) }
        var finalMessage: Range<Int>? = nil
        if Int32(result.flag) == LSX_FLAG_FINAL && result.final_status == 0 {
            let start = Int(result.message_offset)
            finalMessage = start..<(start + Int(result.message_len))
        }
        return ProcessedPacket(
            command: try RoutingCommand(flag: result.flag, delay: result.delay_us, address: address),
            tag: ReplayTag(storage: tag), finalMessage: finalMessage)
    }

    /// Unwraps one layer of a packet held in an array; returns the new packet and what was learned.
    public func process(_ packet: [UInt8]) throws(SphinxError) -> (packet: [UInt8], processed: ProcessedPacket) {
        var out = [UInt8](repeating: 0, count: packet.count)
        let result: Result<ProcessedPacket, SphinxError> = packet.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in Result { () throws(SphinxError) in try processRaw(input, output) } }
        }
        return (out, try result.get())
    }
}
