// A node's Prometheus endpoint read back: the samples of its text exposition, fetched over HTTP.
//
// The request goes through LoopixNetwork's HTTPExchange, one exchange over SwiftNIO's HTTP/1.1
// codec, which the directory uses too. A full HTTP client (AsyncHTTPClient) would bring in
// swift-nio-ssl and BoringSSL, which add 2.5 to 10 minutes to every clean build (a clean debug
// build of this package took 7.1 min of CPU with it and 3.5 min without), for plain HTTP on
// loopback.
import Foundation
import LoopixNetwork
import NIOHTTP1
import NIOPosix

/// Samples of a Prometheus text exposition: series (name with labels) → value.
public struct MetricSamples: Sendable {
    public var values: [String: Double] = [:]

    public init(text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = v
        }
    }

    public init() {}

    public subscript(_ series: String) -> Double { values[series] ?? 0 }

    /// The sum over every series of a metric name (all label sets).
    public func total(_ name: String) -> Double {
        values.filter { $0.key == name || $0.key.hasPrefix(name + "{") }.reduce(0) { $0 + $1.value }
    }

    /// Values of one label across a metric's series, e.g. the drops by cause.
    public func byLabel(_ name: String, _ label: String) -> [String: Double] {
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

    /// The histogram `name` as the node exported it (cumulative buckets).
    public func histogram(_ name: String) -> BucketHistogram { BucketHistogram(samples: values, name: name) }

    /// What `GET /metrics` on `host:port` answers, or nil if nothing answers within `timeout` seconds.
    public static func scrape(host: String = "127.0.0.1", port: Int, timeout: Double = 1) async -> MetricSamples? {
        guard let answer = try? await HTTPExchange.perform(.GET, host: host, port: port, path: "/metrics", timeout: timeout,
                                                           maxAnswerBytes: 16 << 20, group: MultiThreadedEventLoopGroup.singleton),
              answer.status == .ok
        else { return nil }
        return MetricSamples(text: String(decoding: answer.body, as: UTF8.self))
    }
}
