// A minimal, strict wrapper over the system SQLite: open, execute, prepared statements.
//
// Kept instead of GRDB because it measured cheaper on the provider's own work (2 Dec 2026, 2 shared
// cores; `cd Benchmarks && python3 compare_mailbox_stores.py --rounds 3`, run twice). The same
// MailboxStore over GRDB 7.10, as medians of the 6 interleaved rounds, took 1.22-1.33 x this binding's
// thread CPU per pull (K = 4 and 16), per read and per 256-packet delivery with synchronous NORMAL,
// 1.11-1.31 x in the mixed steady state, 1.01 x per delivery with FULL, and 1.17-1.29 x its mallocs on
// every path: faster on none. Wall times, where a commit waits for fsync, were within the disk's noise.
// GRDB would also add about 55 s of CPU to a clean debug build (a package of GRDB alone: 59 s, against 4).
import CSQLite

/// An SQLite failure, with SQLite's own message.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public var description: String { "SQLite error \(code): \(message)" }
}

/// One connection to an SQLite file. Not thread-safe: its owner serialises access.
final class SQLiteDatabase {
    private(set) var handle: OpaquePointer?

    init(path: String) throws(SQLiteError) {
        var db: OpaquePointer? = nil
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open \(path)"
            sqlite3_close(db)
            throw SQLiteError(code: rc, message: message)
        }
        handle = db
        sqlite3_busy_timeout(db, 5000)
    }

    deinit { close() }

    func close() {
        if let h = handle { sqlite3_close_v2(h) }
        handle = nil
    }

    func execute(_ sql: String) throws(SQLiteError) {
        var err: UnsafeMutablePointer<CChar>? = nil
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let message = err.map { String(cString: $0) } ?? "error"
            sqlite3_free(err)
            throw SQLiteError(code: rc, message: message)
        }
    }

    func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        var stmt: OpaquePointer? = nil
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc) }
        return Statement(stmt: stmt, db: self)
    }

    func error(_ rc: Int32) -> SQLiteError { SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle))) }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    func transaction<R>(_ body: () throws -> R) throws -> R {
        try execute("BEGIN IMMEDIATE")
        do {
            let r = try body()
            try execute("COMMIT")
            return r
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    var changes: Int { Int(sqlite3_changes(handle)) }
}

/// A prepared statement; reset and rebound for each use.
final class Statement {
    private let stmt: OpaquePointer
    private unowned let db: SQLiteDatabase

    fileprivate init(stmt: OpaquePointer, db: SQLiteDatabase) {
        self.stmt = stmt
        self.db = db
    }

    deinit { sqlite3_finalize(stmt) }

    /// Binds parameters (1-based, in order): Int64, Int, [UInt8] (blob) or String.
    @discardableResult
    func bind(_ values: [any Sendable]) throws(SQLiteError) -> Statement {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        for (i, v) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch v {
            case let n as Int64: rc = sqlite3_bind_int64(stmt, index, n)
            case let n as Int: rc = sqlite3_bind_int64(stmt, index, Int64(n))
            case let b as [UInt8]:
                // SQLITE_TRANSIENT: SQLite copies the bytes before this call returns.
                rc = b.withUnsafeBytes {
                    sqlite3_bind_blob(stmt, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count),
                                      unsafeBitCast(-1, to: sqlite3_destructor_type.self))
                }
            case let s as String:
                rc = sqlite3_bind_text(stmt, index, s, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
            default: rc = SQLITE_MISUSE
            }
            guard rc == SQLITE_OK else { throw db.error(rc) }
        }
        return self
    }

    /// Runs a statement that returns no rows.
    func run() throws(SQLiteError) {
        let rc = sqlite3_step(stmt)
        guard rc == SQLITE_DONE || rc == SQLITE_ROW else { throw db.error(rc) }
        sqlite3_reset(stmt)
    }

    /// Steps through the rows, handing each to `row`.
    func forEachRow(_ row: (Row) throws -> Void) throws {
        defer { sqlite3_reset(stmt) }
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw db.error(rc) }
            try row(Row(stmt: stmt))
        }
    }

    struct Row {
        let stmt: OpaquePointer
        func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }
        func blob(_ column: Int32) -> [UInt8] {
            let n = Int(sqlite3_column_bytes(stmt, column))
            guard n > 0, let p = sqlite3_column_blob(stmt, column) else { return [] }
            return Array(UnsafeRawBufferPointer(start: p, count: n))
        }
        func text(_ column: Int32) -> String {
            guard let p = sqlite3_column_text(stmt, column) else { return "" }
            return String(cString: p)
        }
    }
}
