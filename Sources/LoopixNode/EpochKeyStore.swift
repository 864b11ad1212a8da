// A node's Sphinx keys, one per epoch, made ahead of time and kept readable by the owner only;
// a key's file is overwritten and removed once its epoch and grace period are over.
import Foundation
import LoopixNetwork
import LoopixSphinx

/// The folder of a node's epoch keys: `sphinx-<epoch>.key`, each 32 bytes of X25519 secret in
/// hex, mode 0600 (the folder 0700). Not thread-safe: one owner (the node's epoch driver).
public final class EpochKeyStore: @unchecked Sendable {
    // `@unchecked Sendable`: only the epoch driver uses it, one call at a time.
    public let folder: URL
    private var cache: [UInt64: SecretKey] = [:]

    /// Opens `folder`, creating it with mode 0700; refuses one that others can read.
    public init(folder: URL) throws {
        self.folder = folder
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let mode = (try FileManager.default.attributesOfItem(atPath: folder.path)[.posixPermissions] as? Int) ?? 0
        guard mode & 0o077 == 0 else { throw KeyFile.KeyFileError.permissions(folder.path, mode: mode) }
    }

    private func path(_ epoch: UInt64) -> String { folder.appendingPathComponent("sphinx-\(epoch).key").path }

    /// The key of `epoch`: from memory, else from its file, else a new one written to a new file.
    public func key(for epoch: UInt64) throws -> SecretKey {
        if let key = cache[epoch] { return key }
        let key: SecretKey
        if FileManager.default.fileExists(atPath: path(epoch)) {
            key = try Self.read(path(epoch))
        } else {
            key = SecretKey.generate()
            try Self.write(key, to: path(epoch))
        }
        cache[epoch] = key
        return key
    }

    /// Makes sure `epochs` have keys (on disk and in memory); returns their public halves.
    public func prepare(_ epochs: ClosedRange<UInt64>) throws -> [EpochPublicKey] {
        try epochs.map { EpochPublicKey(epoch: $0, sphinxKey: try key(for: $0).publicKey) }
    }

    /// Epochs with a key on disk.
    public var epochsOnDisk: [UInt64] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).compactMap { name in
            guard name.hasPrefix("sphinx-"), name.hasSuffix(".key") else { return nil }
            return UInt64(name.dropFirst("sphinx-".count).dropLast(".key".count))
        }.sorted()
    }

    /// Forgets every key of an epoch before `epoch`: the file is overwritten with zeros, flushed
    /// and removed, and the memory copy dropped (a `SecretKey` wipes itself when released).
    public func retire(before epoch: UInt64) {
        for old in epochsOnDisk where old < epoch {
            Self.shred(path(old))
        }
        cache = cache.filter { $0.key >= epoch }
    }

    private static func write(_ key: SecretKey, to path: String) throws {
        var bytes = Array(key.exportedBytes.hexString.utf8)
        defer { Sphinx.wipe(&bytes) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        guard Foundation.write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else { throw POSIXError(.EIO) }
    }

    private static func read(_ path: String) throws -> SecretKey {
        var info = stat()
        guard stat(path, &info) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ENOENT) }
        let mode = Int(info.st_mode) & 0o777
        guard mode & 0o077 == 0 else { throw KeyFile.KeyFileError.permissions(path, mode: mode) }
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        defer { data.resetBytes(in: 0..<data.count) }
        guard var bytes = [UInt8](hexString: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw KeyFile.KeyFileError.malformed(path, "not hex") }
        defer { Sphinx.wipe(&bytes) }
        return try SecretKey(bytes: bytes)
    }

    private static func shred(_ path: String) {
        let fd = open(path, O_WRONLY)
        if fd >= 0 {
            var info = stat()
            if fstat(fd, &info) == 0 {
                let zeros = [UInt8](repeating: 0, count: Int(info.st_size))
                _ = Foundation.write(fd, zeros, zeros.count)
                _ = fsync(fd)
            }
            close(fd)
        }
        unlink(path)
    }
}

