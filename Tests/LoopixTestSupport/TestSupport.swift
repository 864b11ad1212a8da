// Shared helpers for tests that run real nodes: temporary folders, deadlines (and free ports, from LoopixNetwork).
import Foundation
@_exported import func LoopixNetwork.freeLoopbackPort


/// A new empty folder under the system's temporary directory.
public func makeTemporaryDirectory(_ label: String = "loopix-tests") -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass; returns whether it held.
public func eventually(within seconds: Double, _ condition: @Sendable () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
