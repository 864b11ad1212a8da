// A provider killed with SIGKILL after storing and before the pull loses nothing and duplicates nothing.
import Foundation
import LoopixTestSupport
import Testing

@Suite("Provider crash", .serialized)
struct ProviderCrashTests {
    @Test("SIGKILL between storing and the pull, restart: the offline recipient gets every message exactly once")
    func sigkillBetweenStoreAndPull() async throws {
        let net = try await ProcessNetwork.make()
        try await withCleanUp({ await net.stopAll() }) { try await run(net) }
    }

    private func run(_ net: ProcessNetwork) async throws {
        let alice = try await net.addClient("alice", provider: 0)
        let bob = try await net.addClient("bob", provider: 1)
        try await net.startNodes()
        let messages = (1...5).map { "message \($0) for bob" }
        for m in messages {
            let r = try await loopix(["client", "send", "--config", alice.config, "--to", bob.address, "--message", m,
                                      "--timeout", "30"], timeout: 45)
            #expect(r.status == 0, "send failed: \(r.stderr)")
        }
        // Bob is offline; wait until his provider has committed all five.
        let stored = await eventually(within: 30) { await net.providerMetric(1, "loopix_mailbox_stored_total") >= Double(messages.count) }
        #expect(stored, "bob's provider must store the messages")

        net.running["provider-1"]!.signal(SIGKILL)
        await net.running["provider-1"]!.waitForExit()
        try await net.start("provider-1", ["provider", "--config", try net.providerConfig(1)])
        try await net.waitUntilListening()

        let received = try await loopix(["client", "receive", "--config", bob.config, "--count", "\(messages.count)",
                                         "--timeout", "40"], timeout: 60)
        #expect(received.status == 0, "receive: \(received.stderr.suffix(1500))")
        let lines = received.stdout.split(separator: "\n").map(String.init)
        #expect(lines.sorted() == messages.sorted(), "every message exactly once: \(lines)")
        // And nothing more is waiting: a second reader gets no copy.
        let again = try await loopix(["client", "receive", "--config", bob.config, "--timeout", "3"], timeout: 20)
        #expect(again.stdout.isEmpty, "no duplicate after the restart: \(again.stdout)")
    }
}
