// Reading a node's Prometheus endpoint on loopback, and the text format's samples.
import Foundation
import LoopixNetwork

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

/// The samples of a node's metrics endpoint on loopback; nil if the node does not answer in time.
func scrapeMetrics(port: Int, timeout: Double = 1) -> MetricSamples? {
    httpGet(port: port, timeout: timeout).map { MetricSamples(text: $0) }
}
