// The disk copy of a replay filter whose live copy is on a memory filesystem: a marker while the
// live copy is in use, the whole filter once it was closed cleanly.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a durable copy holds. Writes go to a name of this process's own, are synced, and then
/// replace the copy (and the folder is synced), so that a crash leaves the old copy or the new one.
enum ReplayFilterDurableCopy {
    /// The whole content of the copy while its filter is live elsewhere: after a reboot it says
    /// that the live copy, and any tag recorded since the last clean close, is gone.
    static let marker = Array("loopix replay filter: live elsewhere, not closed\n".utf8)

    enum Contents {
        case none
        case marker
        /// A filter's bytes (clean, if this module wrote them), readable through `descriptor`.
        case filter(descriptor: Int32, length: Int)
    }

    static func read(_ path: String) throws(ReplayFilterFileError) -> Contents {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return .none }
            throw .system(path: path, call: "open", errno: errno)
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw .system(path: path, call: "fstat", errno: errno)
        }
        let mode = Int(info.st_mode) & 0o777
        guard Int(info.st_mode) & Int(S_IFMT) == Int(S_IFREG), mode & 0o077 == 0,
              let length = Int(exactly: info.st_size)
        else {
            close(fd)
            throw mode & 0o077 != 0 ? .permissions(path: path, mode: mode) : .badLayout(path: path)
        }
        if length == marker.count {
            var bytes = [UInt8](repeating: 0, count: length)
            let n = pread(fd, &bytes, length, 0)
            close(fd)
            guard n == length, bytes == marker else { throw .badLayout(path: path) }
            return .marker
        }
        // A filter that a process maps as its only file is not to be copied from under it.
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            throw code == EWOULDBLOCK ? .inUse(path: path) : .system(path: path, call: "flock", errno: code)
        }
        return .filter(descriptor: fd, length: length)
    }

    /// Closes the descriptor of a `.filter`.
    static func release(_ descriptor: Int32) { close(descriptor) }

    /// Reads `length` bytes of `descriptor` into `base`.
    static func load(_ base: UnsafeMutableRawPointer, from descriptor: Int32, length: Int, path: String)
        throws(ReplayFilterFileError)
    {
        var done = 0
        while done < length {
            let n = pread(descriptor, base + done, length - done, off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw n == 0 ? .badLayout(path: path) : .system(path: path, call: "pread", errno: errno) }
            done += n
        }
    }

    /// Replaces the copy with the marker, durably.
    static func writeMarker(_ path: String) throws(ReplayFilterFileError) {
        let written = marker.withUnsafeBytes { bytes in
            Result { () throws(ReplayFilterFileError) in try replace(path, with: bytes) }
        }
        try written.get()
    }

    /// Replaces the copy with `bytes` (a filter closed cleanly), durably.
    static func replace(_ path: String, with bytes: UnsafeRawBufferPointer) throws(ReplayFilterFileError) {
        let temporary = ReplayFilterFile.temporaryName(path)
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .system(path: temporary, call: "open", errno: errno) }
        do throws(ReplayFilterFileError) {
            guard fchmod(fd, 0o600) == 0 else { throw .system(path: temporary, call: "fchmod", errno: errno) }
            var done = 0
            while done < bytes.count {
                let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw .system(path: temporary, call: "write", errno: n < 0 ? errno : EIO) }
                done += n
            }
            guard fsync(fd) == 0 else { throw .system(path: temporary, call: "fsync", errno: errno) }
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw .system(path: path, call: "rename", errno: code)
        }
        try ReplayFilterFile.syncDirectory(of: path)
    }
}
