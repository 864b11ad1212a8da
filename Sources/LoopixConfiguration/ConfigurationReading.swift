// Reading a JSON configuration file strictly: unknown fields refused, every error naming the
// file and the field, relative paths taken from the file's own folder.
import Foundation

/// A configuration file that could not be used; the message names the file and the field.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let file: String
    public let field: String
    public let problem: String

    public init(file: String, field: String, problem: String) {
        self.file = file
        self.field = field
        self.problem = problem
    }

    public var description: String { "\(file): field \"\(field)\": \(problem)" }
}

/// Reads a JSON configuration: refuses unknown fields (a typo must not be silently ignored), at
/// the top and inside the objects `nestedFields` names, and turns decoding errors into messages
/// that name the field.
func readConfiguration<T: Decodable>(_ type: T.Type, from path: String, knownFields: Set<String>,
                                     nestedFields: [String: Set<String>] = [:]) throws -> T {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw ConfigurationError(file: path, field: "-", problem: "cannot read the file: \(error.localizedDescription)")
    }
    guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
        throw ConfigurationError(file: path, field: "-", problem: "not a JSON object")
    }
    if let unknown = Set(object.keys).subtracting(knownFields).sorted().first {
        throw ConfigurationError(file: path, field: unknown, problem: "unknown field (known: \(knownFields.sorted().joined(separator: ", ")))")
    }
    for (name, known) in nestedFields {
        guard let inner = object[name] as? [String: Any] else { continue }
        if let unknown = Set(inner.keys).subtracting(known).sorted().first {
            throw ConfigurationError(file: path, field: "\(name).\(unknown)",
                                     problem: "unknown field (known: \(known.sorted().joined(separator: ", ")))")
        }
    }
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let DecodingError.keyNotFound(key, context) {
        throw ConfigurationError(file: path, field: fieldPath(context.codingPath + [key]), problem: "missing")
    } catch let DecodingError.typeMismatch(type, context) {
        throw ConfigurationError(file: path, field: fieldPath(context.codingPath), problem: "expected \(type)")
    } catch let DecodingError.valueNotFound(type, context) {
        throw ConfigurationError(file: path, field: fieldPath(context.codingPath), problem: "expected \(type), found null")
    } catch let DecodingError.dataCorrupted(context) {
        throw ConfigurationError(file: path, field: fieldPath(context.codingPath), problem: context.debugDescription)
    }
}

private func fieldPath(_ path: [any CodingKey]) -> String {
    path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
}

/// A path in a configuration file, relative to the file's own folder.
func resolve(_ path: String, relativeTo file: String) -> String {
    path.hasPrefix("/") ? path : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).path
}

/// Writes a configuration the way an operator would read it: pretty, keys sorted, unset fields left out.
public func writeConfiguration(_ value: some Encodable, to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    try encoder.encode(value).write(to: url, options: .atomic)
}
