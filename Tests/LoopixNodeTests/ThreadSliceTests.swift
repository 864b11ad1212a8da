// The scheduling slice a node's own event loops ask for (Linux 6.12+, EEVDF custom slices).
import CLoopixThreads
import Foundation
import LoopixNode
import NIOPosix
import Testing

@Suite("Event loop scheduling slice")
struct ThreadSliceTests {
    /// The running kernel's major and minor version.
    static var kernel: (Int, Int) {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = release.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        return (parts.first ?? 0, parts.dropFirst().first ?? 0)
    }

    @Test("every thread of the group gets the requested slice; other threads keep theirs",
          .enabled(if: kernel >= (6, 12), "custom slices need Linux 6.12"))
    func sliceApplied() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let other = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let before = try await other.next().submit { loopix_thread_slice() }.get()
        MixNode.requestSlice(on: group, microseconds: 250)
        for loop in group.makeIterator() {
            #expect(try await loop.submit { loopix_thread_slice() }.get() == 250_000)
        }
        #expect(try await other.next().submit { loopix_thread_slice() }.get() == before)
        #expect(before != 250_000)
        try await group.shutdownGracefully()
        try await other.shutdownGracefully()
    }
}
