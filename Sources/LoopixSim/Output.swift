// CSV and JSON output helpers.
import Foundation

public struct CSVTable: Sendable {
    public var header: [String]
    public var rows: [[String]] = []

    public init(header: [String]) { self.header = header }

    public mutating func append(_ row: [String]) {
        precondition(row.count == header.count, "CSV row has \(row.count) fields, header \(header.count)")
        rows.append(row)
    }

    public func render() -> String {
        ([header] + rows).map { $0.joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    public func write(to url: URL) throws {
        try render().write(to: url, atomically: true, encoding: .utf8)
    }
}

/// Number formatting for CSV and tables: "inf", "nan", up to `digits` significant digits.
public func fmt(_ x: Double, _ digits: Int = 6) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return x > 0 ? "inf" : "-inf" }
    if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
    return String(format: "%.\(digits)g", x)
}

public func fmt(_ x: Int) -> String { String(x) }

public enum JSONOutput {
    public static func write<T: Encodable>(_ value: T, to url: URL) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try enc.encode(value).write(to: url)
    }
}

/// A fixed-width text table for the terminal.
public func textTable(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in String(repeating: " ", count: widths[i] - c.count) + c }
            .joined(separator: "  ")
    }
    return ([line(header), line(widths.map { String(repeating: "-", count: $0) })] + rows.map(line))
        .joined(separator: "\n")
}

/// The epsilon results as a text table, each mean with the half-width of its 95 % CI.
public func epsilonText(_ results: [EpsilonPointResult]) -> String {
    textTable(["lambda", "mu", "lambda/mu", "layers", "width", "corrupt", "eps mean", "± 95% CI", "sd", "median", "inf", "undef"],
              results.map { r in
                  [fmt(r.config.rate), fmt(r.config.mu), fmt(r.config.rate / r.config.mu, 3), fmt(r.config.layers),
                   fmt(r.config.width), fmt(r.config.corruptFraction), fmt(r.summary.mean, 3),
                   fmt(r.summary.ci95, 2), fmt(r.summary.sd, 3), fmt(r.summary.median, 3), fmt(r.summary.infinite),
                   fmt(r.summary.reps - r.summary.defined)]
              })
}
