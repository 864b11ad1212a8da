// Heap storage for key material that is zeroed before it is freed.
internal import CLoopixSphinx

/// A fixed number of secret bytes in one heap block, wiped on deinit; never copied implicitly.
final class SecretBytes: @unchecked Sendable {
    // Safe to share: the bytes are written only while the owner builds it and read-only afterwards.
    private let buffer: UnsafeMutableRawBufferPointer

    /// `count` zero bytes, for the caller to fill through `withUnsafeMutableBytes` before sharing.
    init(count: Int) {
        buffer = .allocate(byteCount: max(count, 1), alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        self.count = count
    }

    convenience init?(copying bytes: some Collection<UInt8>, count: Int) {
        guard bytes.count == count else { return nil }
        self.init(count: count)
        withUnsafeMutableBytes { out in
            for (i, b) in bytes.enumerated() { out[i] = b }
        }
    }

    let count: Int

    deinit {
        lsx_wipe(buffer.baseAddress, buffer.count)
        buffer.deallocate()
    }

    func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
    }

    func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        body(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
    }

    /// The start as a C byte pointer, valid while self lives.
    var u8: UnsafePointer<UInt8> { UnsafePointer(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
}
