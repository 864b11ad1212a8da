// Where a simulation writes its CSV and JSON files.
import Foundation

/// A results folder, created on first write.
public struct ResultsFolder: Sendable {
    public let path: String

    public init(_ path: String) { self.path = path }

    /// Writes `table` as `name`; the file's path.
    @discardableResult
    public func write(_ table: CSVTable, _ name: String) throws -> String {
        let url = try file(name)
        try table.write(to: url)
        return url.path
    }

    /// Writes `value` as pretty JSON to `name`; the file's path.
    @discardableResult
    public func writeJSON(_ value: some Encodable, _ name: String) throws -> String {
        let url = try file(name)
        try JSONOutput.write(value, to: url)
        return url.path
    }

    private func file(_ name: String) throws -> URL {
        let url = URL(fileURLWithPath: path, isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.appendingPathComponent(name)
    }
}
