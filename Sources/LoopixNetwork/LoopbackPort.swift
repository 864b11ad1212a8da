// TCP on the loopback interface for local networks (the testnet, the benchmarks) and tests:
// free ports, listeners and connections.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP port that was free a moment ago, for a listener that will bind it soon.
///
/// Drawn at random below the kernel's ephemeral range (`ip_local_port_range`): a port from
/// inside it (what binding port 0 returns) can be taken by any outgoing connection between
/// now and the bind, and a testnet or a test run opens many. Never the same port twice in one
/// process. Falls back to binding port 0 if no such port is found.
public func freeLoopbackPort() throws -> Int {
    let low = 10_000
    if ephemeralLow - low >= 1_000 {
        for _ in 0..<500 {
            let port = Int.random(in: low..<ephemeralLow)
            guard handedOut.claim(port) else { continue }
            if let bound = boundLoopbackSocket(port: port) {
                close(bound.fd)
                return port
            }
        }
    }
    // Port 0: the kernel picks one from its ephemeral range.
    guard let bound = boundLoopbackSocket(port: 0) else { throw POSIXError(.EADDRINUSE) }
    close(bound.fd)
    _ = handedOut.claim(bound.port)
    return bound.port
}

/// A socket listening on 127.0.0.1:`port` (0: any free port), and the port it got.
public func listenOnLoopback(port: Int = 0, backlog: Int32 = 64) throws -> (fd: Int32, port: Int) {
    guard let bound = boundLoopbackSocket(port: port) else { throw POSIXError(.EADDRINUSE) }
    guard listen(bound.fd, backlog) == 0 else {
        close(bound.fd)
        throw POSIXError(.EADDRINUSE)
    }
    return bound
}

/// A TCP connection to `host:port` (IPv4) with TCP_NODELAY, and with send and receive
/// timeouts when `timeout` is given; nil if nothing accepts.
public func connectLoopback(port: Int, host: String = "127.0.0.1", timeout: Double? = nil) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    if let timeout {
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
    var address = ipv4Address(host: host, port: port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        return nil
    }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    return fd
}

/// Whether something accepts TCP connections on `host:port` right now.
public func acceptsConnections(host: String = "127.0.0.1", port: Int) -> Bool {
    guard let fd = connectLoopback(port: port, host: host, timeout: 1) else { return false }
    close(fd)
    return true
}

/// Ports `freeLoopbackPort` returned in this process.
private let handedOut = ClaimedPorts()

private final class ClaimedPorts: @unchecked Sendable {
    // `@unchecked Sendable`: `ports` is only touched under `lock`.
    private let lock = NSLock()
    private var ports: Set<Int> = []

    /// True if `port` was not claimed before (and is now).
    func claim(_ port: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return ports.insert(port).inserted
    }
}

/// The lower end of the kernel's ephemeral port range (Linux), or the usual default; read once.
private let ephemeralLow: Int = {
    guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8),
        let low = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap({ Int($0) })
    else { return 32768 }
    return low
}()

/// An IPv4 socket address.
private func ipv4Address(host: String, port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr(host)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    return address
}

/// A TCP socket bound to 127.0.0.1:`port` (0: any) with SO_REUSEADDR, as the nodes' listeners
/// do, and the port it was bound to; nil if the bind failed.
private func boundLoopbackSocket(port: Int) -> (fd: Int32, port: Int)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var address = ipv4Address(host: "127.0.0.1", port: port)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else {
        close(fd)
        return nil
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}
