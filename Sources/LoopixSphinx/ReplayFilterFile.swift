// The file behind a file-backed replay filter: opened or created 0600, locked, mapped MAP_SHARED, synced.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLoopixSphinx

/// One open, locked, MAP_SHARED mapping of a replay filter's file. It is unmapped and closed (which
/// releases the lock) when released.
final class ReplayFilterFile: @unchecked Sendable {
    // `@unchecked Sendable`: every stored property is immutable; the mapped bytes are the C filter's.
    let path: String
    private let descriptor: Int32
    let base: UnsafeMutableRawPointer
    let length: Int

    private init(path: String, descriptor: Int32, base: UnsafeMutableRawPointer, length: Int) {
        self.path = path
        self.descriptor = descriptor
        self.base = base
        self.length = length
    }

    deinit {
        munmap(base, length)
        close(descriptor)
    }

    /// Writes the first `bytes` of the mapping (at least the header) to the disk and waits for it.
    func sync(bytes: Int) throws(ReplayFilterFileError) {
        guard msync(base, min(bytes, length), MS_SYNC) == 0 else { throw .system(path: path, call: "msync", errno: errno) }
    }

    /// The whole mapping, written and waited for.
    func syncAll() throws(ReplayFilterFileError) { try sync(bytes: length) }

    /// Opens the existing file at `path` and maps all of it: nil if there is none.
    static func openExisting(_ path: String) throws(ReplayFilterFileError) -> ReplayFilterFile? {
        let fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .system(path: path, call: "open", errno: errno)
        }
        do throws(ReplayFilterFileError) {
            try lock(fd, path)
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw .system(path: path, call: "fstat", errno: errno) }
            guard Int(info.st_mode) & Int(S_IFMT) == Int(S_IFREG) else { throw .badLayout(path: path) }
            let mode = Int(info.st_mode) & 0o777
            guard mode & 0o077 == 0 else { throw .permissions(path: path, mode: mode) }
            // Too short for a header is a bad layout, not something to map.
            guard info.st_size >= off_t(lsx_replay_filter_header_bytes()), let length = Int(exactly: info.st_size)
            else { throw .badLayout(path: path) }
            return try map(fd, path, length)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Creates `length` bytes of zeros, mode 0600, under a name of this process's own beside `path`,
    /// locked and mapped; `publish` later gives it its real name.
    static func createUnpublished(_ path: String, length: Int) throws(ReplayFilterFileError) -> ReplayFilterFile {
        let temporary = temporaryName(path)
        unlink(temporary) // what an earlier process with the same id may have left
        let fd = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .system(path: temporary, call: "open", errno: errno) }
        do throws(ReplayFilterFileError) {
            // The umask may only have taken bits away; say exactly what the file is.
            guard fchmod(fd, 0o600) == 0 else { throw .system(path: temporary, call: "fchmod", errno: errno) }
            try lock(fd, temporary)
            try reserve(fd, temporary, length: length)
            return try map(fd, path, length)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
    }

    /// Gives a file from `createUnpublished` its real name, durably (the file and its directory
    /// entry are on the disk when this returns): false if a file of that name appeared meanwhile,
    /// in which case this one is removed.
    func publish() throws(ReplayFilterFileError) -> Bool {
        let temporary = Self.temporaryName(path)
        defer { unlink(temporary) }
        guard fsync(descriptor) == 0 else { throw .system(path: temporary, call: "fsync", errno: errno) }
        // link, unlike rename, never replaces a file another process published first.
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return false }
            throw .system(path: path, call: "link", errno: errno)
        }
        unlink(temporary)
        try Self.syncDirectory(of: path)
        return true
    }

    /// Removes a file from `createUnpublished` that will not be published.
    func discardUnpublished() { unlink(Self.temporaryName(path)) }

    /// Removes the file at `path`, unless a process holds it; the removal is on the disk when this returns.
    static func remove(_ path: String) throws(ReplayFilterFileError) {
        let fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return }
            throw .system(path: path, call: "open", errno: errno)
        }
        defer { close(fd) }
        try lock(fd, path)
        guard unlink(path) == 0 else { throw .system(path: path, call: "unlink", errno: errno) }
        try syncDirectory(of: path)
    }

    // One process at a time: a second would have locks of its own, and inserts would stop being exact.
    // The lock dies with the process, so a killed node never keeps its successor out.
    private static func lock(_ fd: Int32, _ path: String) throws(ReplayFilterFileError) {
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            if errno == EWOULDBLOCK { throw .inUse(path: path) }
            throw .system(path: path, call: "flock", errno: errno)
        }
    }

    // Allocates the blocks now, so that a full disk is an error here rather than a SIGBUS on a
    // worker's first write to a page.
    private static func reserve(_ fd: Int32, _ path: String, length: Int) throws(ReplayFilterFileError) {
        #if os(Linux)
        let rc = posix_fallocate(fd, 0, off_t(length))
        guard rc == 0 else { throw .system(path: path, call: "posix_fallocate", errno: rc) }
        #else
        guard ftruncate(fd, off_t(length)) == 0 else { throw .system(path: path, call: "ftruncate", errno: errno) }
        #endif
    }

    private static func map(_ fd: Int32, _ path: String, _ length: Int) throws(ReplayFilterFileError) -> ReplayFilterFile {
        guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
              base != UnsafeMutableRawPointer(bitPattern: -1)
        else { throw .system(path: path, call: "mmap", errno: errno) }
        return ReplayFilterFile(path: path, descriptor: fd, base: base, length: length)
    }

    /// The name a file is made under before it takes `path`'s place: this process's own.
    static func temporaryName(_ path: String) -> String { "\(path).\(getpid()).new" }

    /// Makes `directory` (mode 0700) unless it is there.
    static func makeFolder(_ directory: String) throws(ReplayFilterFileError) {
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw .system(path: directory, call: "mkdir", errno: errno)
        }
    }

    /// Makes the entries of `path`'s folder (a new name, a removal) durable.
    static func syncDirectory(of path: String) throws(ReplayFilterFileError) {
        let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let fd = open(directory, O_RDONLY | O_CLOEXEC | O_DIRECTORY)
        guard fd >= 0 else { throw .system(path: directory, call: "open", errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .system(path: directory, call: "fsync", errno: errno) }
    }
}

/// The id of the running kernel's boot: a filter left open in another boot may have lost tags.
enum BootID {
    /// The current boot's id as the C core takes it (`lsx_replay_boot_id_bytes()` bytes).
    static func current() throws(ReplayFilterFileError) -> [UInt8] {
        #if os(Linux)
        let path = "/proc/sys/kernel/random/boot_id"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(path: path, call: "open", errno: errno) }
        defer { close(fd) }
        var text = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &text, text.count)
        guard n > 0 else { throw .system(path: path, call: "read", errno: n < 0 ? errno : EIO) }
        guard let id = parse(text.prefix(n)) else { throw .system(path: path, call: "read", errno: EINVAL) }
        return id
        #else
        var text = [UInt8](repeating: 0, count: 64)
        var n = text.count
        guard sysctlbyname("kern.bootsessionuuid", &text, &n, nil, 0) == 0 else {
            throw .system(path: "kern.bootsessionuuid", call: "sysctlbyname", errno: errno)
        }
        guard let id = parse(text.prefix(n)) else {
            throw .system(path: "kern.bootsessionuuid", call: "sysctlbyname", errno: EINVAL)
        }
        return id
        #endif
    }

    /// A UUID's text ("6f1c...-..."), hyphens and a trailing newline or NUL aside, as bytes.
    static func parse(_ text: some Collection<UInt8>) -> [UInt8]? {
        let digits = text.filter { $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: "\n") && $0 != 0 }
        guard let bytes = [UInt8](hexString: String(decoding: digits, as: UTF8.self)),
              bytes.count == Int(lsx_replay_boot_id_bytes()), bytes.contains(where: { $0 != 0 })
        else { return nil }
        return bytes
    }
}
