// The `logLevel` field of every configuration file, and the logging it sets up.
import Logging

/// The level a `logLevel` field names ("info", "warning", …), case-insensitive; nil if none.
public func parseLogLevel(_ text: String) -> Logger.Level? { Logger.Level(rawValue: text.lowercased()) }

/// Logs to standard error at `level` (default info). Once per process, before the first logger.
public func bootstrapLogging(_ level: String?) {
    let parsed = parseLogLevel(level ?? "info") ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = parsed
        return handler
    }
}
