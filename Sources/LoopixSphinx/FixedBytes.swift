// 32 bytes held inline (no heap), the storage of keys, addresses and tags.

/// Thirty-two bytes stored inline, so that values built per packet never allocate. `CoreSizes` checks that
/// the C core's keys, addresses and tags have this size.
struct Bytes32: Hashable, Sendable {
    var words: (UInt64, UInt64, UInt64, UInt64)

    static let byteCount = MemoryLayout<(UInt64, UInt64, UInt64, UInt64)>.size

    init() { words = (0, 0, 0, 0) }

    /// Copies exactly `byteCount` bytes; the caller checks the length.
    init(_ raw: UnsafeRawBufferPointer) {
        precondition(raw.count == Self.byteCount, "Bytes32 needs exactly \(Self.byteCount) bytes")
        words = (0, 0, 0, 0)
        Swift.withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: raw) }
    }

    init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == Self.byteCount else { return nil }
        self.init()
        Swift.withUnsafeMutableBytes(of: &words) { dst in
            for (i, b) in bytes.enumerated() { dst[i] = b }
        }
    }

    var bytes: [UInt8] { Swift.withUnsafeBytes(of: words) { Array($0) } }

    func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = Swift.withUnsafeBytes(of: words) { raw in
            do throws(E) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    static func == (a: Bytes32, b: Bytes32) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    var hex: String { bytes.hexString }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    /// Parses hexadecimal (either case); nil for an odd length or a non-hex character.
    public init?(hexString: String) {
        var out: [UInt8] = []
        out.reserveCapacity(hexString.utf8.count / 2)
        var high: UInt8? = nil
        for c in hexString.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        guard high == nil else { return nil }
        self = out
    }
}

extension UnsafeMutableRawBufferPointer {
    /// The start as a byte pointer, for C parameters declared `uint8_t *`.
    @inline(__always) var u8: UnsafeMutablePointer<UInt8> { baseAddress!.assumingMemoryBound(to: UInt8.self) }
}

extension UnsafeRawBufferPointer {
    /// The start as a byte pointer, for C parameters declared `const uint8_t *`.
    @inline(__always) var u8: UnsafePointer<UInt8> { baseAddress!.assumingMemoryBound(to: UInt8.self) }
}
