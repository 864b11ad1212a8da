// Key files on disk: created readable by the owner only, and refused when others can read them.
import Foundation
import LoopixSphinx

/// A node's or a client's secret keys: the X25519 Sphinx key and the Ed25519 signing seed.
/// Stored as JSON with mode 0600.
public struct KeyFile: Sendable {
    public static let kind = "loopix-key-v1"

    public let sphinxKey: SecretKey
    public let signingKey: SigningKey

    public init(sphinxKey: SecretKey, signingKey: SigningKey) {
        self.sphinxKey = sphinxKey
        self.signingKey = signingKey
    }

    /// Fresh keys.
    public static func generate() -> KeyFile { KeyFile(sphinxKey: .generate(), signingKey: SigningKey()) }

    private struct Stored: Codable {
        var kind: String
        var sphinx_secret_key: String
        var signing_seed: String
        /// Informational copies of the public halves.
        var sphinx_public_key: String?
        var signing_public_key: String?
    }

    /// Why a key file was refused.
    public enum KeyFileError: Error, CustomStringConvertible, Sendable {
        case exists(String)
        case permissions(String, mode: Int)
        case malformed(String, String)

        public var description: String {
            switch self {
            case .exists(let path): "\(path) exists already; refusing to overwrite a key"
            case .permissions(let path, let mode):
                "\(path) is readable by others (mode \(String(mode, radix: 8))); run `chmod 600 \(path)` and check who saw it"
            case .malformed(let path, let why): "\(path) is not a loopix key file: \(why)"
            }
        }
    }

    /// Writes the keys to a new file created with mode 0600 (never overwrites).
    public func write(to path: String) throws {
        let stored = Stored(kind: Self.kind, sphinx_secret_key: sphinxKey.exportedBytes.hexString,
                            signing_seed: signingKey.seedBytes.hexString,
                            sphinx_public_key: sphinxKey.publicKey.description,
                            signing_public_key: signingKey.verifyingKey.hex)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var data = try encoder.encode(stored)
        defer { data.resetBytes(in: 0..<data.count) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw KeyFileError.exists(path) }
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        defer { close(fd) }
        let written = data.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(fd) == 0 else { throw POSIXError(.EIO) }
    }

    /// Reads a key file; refuses one that its group or others can read or write.
    public static func load(path: String) throws -> KeyFile {
        var info = stat()
        guard stat(path, &info) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ENOENT) }
        let mode = Int(info.st_mode) & 0o777
        guard mode & 0o077 == 0 else { throw KeyFileError.permissions(path, mode: mode) }
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        defer { data.resetBytes(in: 0..<data.count) }
        let stored: Stored
        do { stored = try JSONDecoder().decode(Stored.self, from: data) } catch {
            throw KeyFileError.malformed(path, "not JSON of the expected shape")
        }
        guard stored.kind == kind else { throw KeyFileError.malformed(path, "kind is \(stored.kind)") }
        guard var sphinx = [UInt8](hexString: stored.sphinx_secret_key), var seed = [UInt8](hexString: stored.signing_seed)
        else { throw KeyFileError.malformed(path, "keys are not hex") }
        defer {
            Sphinx.wipe(&sphinx)
            Sphinx.wipe(&seed)
        }
        do {
            return KeyFile(sphinxKey: try SecretKey(bytes: sphinx), signingKey: try SigningKey(seed: seed))
        } catch {
            throw KeyFileError.malformed(path, "\(error)")
        }
    }
}
