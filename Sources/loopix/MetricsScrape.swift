// Reading a node's Prometheus endpoint: one blocking HTTP GET on loopback, and the text format's samples.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Samples of a Prometheus text exposition: series (name with labels) → value.
struct MetricSamples {
    var values: [String: Double] = [:]

    init(text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = v
        }
    }

    init() {}

    subscript(_ series: String) -> Double { values[series] ?? 0 }

    /// The sum over every series of a metric name (all label sets).
    func total(_ name: String) -> Double {
        values.filter { $0.key == name || $0.key.hasPrefix(name + "{") }.reduce(0) { $0 + $1.value }
    }

    /// Values of one label across a metric's series, e.g. the drops by cause.
    func byLabel(_ name: String, _ label: String) -> [String: Double] {
        var out: [String: Double] = [:]
        let marker = "\(label)=\""
        for (key, value) in values where key.hasPrefix(name + "{") {
            guard let start = key.range(of: marker) else { continue }
            let rest = key[start.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { continue }
            out[String(rest[..<end]), default: 0] += value
        }
        return out
    }
}

/// GET http://127.0.0.1:port/metrics with a short timeout; nil if the node does not answer.
func scrapeMetrics(port: Int, timeout: Double = 1) -> MetricSamples? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let request = Array("GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    guard send(fd, request, request.count, 0) == request.count else { return nil }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &chunk, chunk.count, 0)
        if n <= 0 { break }
        response.append(contentsOf: chunk[0..<n])
        if response.count > 16 << 20 { return nil }
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let body = text.range(of: "\r\n\r\n") else { return nil }
    return MetricSamples(text: String(text[body.upperBound...]))
}
