// Fixed 32-byte values of the network: node ids and public keys, stored inline so that
// looking one up on the packet path never allocates.

/// Exactly 32 bytes held in four words; hashable, comparable by value, hex in JSON.
public struct Bytes32: Sendable, Hashable {
    public static let count = 32

    @usableFromInline var w0: UInt64
    @usableFromInline var w1: UInt64
    @usableFromInline var w2: UInt64
    @usableFromInline var w3: UInt64

    /// All zeros.
    public static let zero = Bytes32(w0: 0, w1: 0, w2: 0, w3: 0)

    @inlinable init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    /// Reads 32 bytes from raw memory (no allocation); the buffer must hold at least 32 bytes.
    @inlinable public init(loadingFrom buffer: UnsafeRawBufferPointer) {
        precondition(buffer.count >= Self.count, "Bytes32 needs 32 bytes")
        self.w0 = buffer.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        self.w1 = buffer.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        self.w2 = buffer.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        self.w3 = buffer.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
    }

    /// Takes exactly 32 bytes, or throws.
    public init(_ bytes: some Collection<UInt8>) throws(LengthError) {
        guard bytes.count == Self.count else { throw LengthError(expected: Self.count, actual: bytes.count) }
        let array = Array(bytes)
        self = array.withUnsafeBytes { Bytes32(loadingFrom: $0) }
    }

    /// Parses 64 hexadecimal digits.
    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 2 * Self.count else { return nil }
        var bytes = [UInt8](repeating: 0, count: Self.count)
        for index in 0..<Self.count {
            guard let high = Self.nibble(utf8[2 * index]), let low = Self.nibble(utf8[2 * index + 1]) else {
                return nil
            }
            bytes[index] = high << 4 | low
        }
        self = bytes.withUnsafeBytes { Bytes32(loadingFrom: $0) }
    }

    /// A value from the system's random source.
    public static func random() -> Bytes32 {
        var generator = SystemRandomNumberGenerator()
        return Bytes32(w0: generator.next(), w1: generator.next(), w2: generator.next(), w3: generator.next())
    }

    /// Copies the 32 bytes into raw memory of at least 32 bytes.
    @inlinable public func store(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= Self.count, "Bytes32 needs 32 bytes")
        buffer.storeBytes(of: w0, toByteOffset: 0, as: UInt64.self)
        buffer.storeBytes(of: w1, toByteOffset: 8, as: UInt64.self)
        buffer.storeBytes(of: w2, toByteOffset: 16, as: UInt64.self)
        buffer.storeBytes(of: w3, toByteOffset: 24, as: UInt64.self)
    }

    /// The bytes as a new array.
    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.count) { buffer, count in
            store(into: UnsafeMutableRawBufferPointer(buffer))
            count = Self.count
        }
    }

    /// Lower-case hexadecimal, 64 digits.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(2 * Self.count)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A byte string had the wrong length.
public struct LengthError: Error, Hashable {
    public var expected: Int
    public var actual: Int
}

extension Bytes32: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Bytes32(hex: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected 64 hex digits"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}

extension Bytes32: CustomStringConvertible {
    public var description: String { String(hex.prefix(16)) }
}

/// The 32-byte id of a node, as it appears in a RELAY command.
public typealias NodeID = Bytes32
