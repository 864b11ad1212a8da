// Replay protection of a mix process in directory mode, across everything that happens to it in
// an epoch: a packet captured once is refused as a replay in its epoch, after a graceful restart
// and after SIGKILL (the filter is in a file under the state folder), and during the next epoch's
// grace period; once the grace period is over its key is gone and the packet does not decrypt.
import Foundation
import LoopixNetwork
import LoopixTestSupport
import Testing

@Suite("Directory mode in processes: replays", .serialized)
struct DirectoryReplayProcessTests {
    @Test("a captured packet is a replay in its epoch, after SIGTERM and SIGKILL restarts and in grace; then bad_mac")
    func capturedPacket() async throws {
        // 30-second epochs leave room for two restarts inside one; a 5-second grace.
        let net = try await DirectoryProcesses(epochLength: 30, grace: 5)
        try await withCleanUp({ await net.stopAll() }) { try await run(net) }
    }

    private func run(_ net: DirectoryProcesses) async throws {
        let (mix, provider) = try await net.startMixAndProvider()

        // An epoch with at least 20 s left: the restarts below must happen inside it.
        let schedule = net.schedule
        var epoch = schedule.epoch(at: Date().timeIntervalSince1970)
        if schedule.end(of: epoch) - Date().timeIntervalSince1970 < 20 {
            epoch += 1
            try await sleep(until: schedule.start(of: epoch) + 0.5)
        }
        let document = try await net.document(epoch: epoch)
        let packet = try dropPacket(document, mix: mix.identity, provider: provider.identity)
        func replays() async -> Double { await net.metric("mix", "loopix_packets_dropped_total{cause=\"replay\"}") }
        func badMACs() async -> Double { await net.metric("mix", "loopix_packets_dropped_total{cause=\"bad_mac\"}") }

        // Processed once, refused the second time.
        try await sendOverLink(packet, to: mix, as: net.path("provider.key"))
        #expect(await eventually(within: 10) { await net.metric("mix", "loopix_packets_out_total{kind=\"relay\"}") == 1 },
                "the first copy was not relayed; mix log:\n\(net.log("mix").suffix(2000))")
        try await sendOverLink(packet, to: mix, as: net.path("provider.key"))
        #expect(await eventually(within: 10) { await replays() == 1 }, "the second copy was not refused as a replay")

        // A graceful restart (SIGTERM), then a crash (SIGKILL): the same state folder and key.
        for (signal, label) in [(SIGTERM, "SIGTERM"), (SIGKILL, "SIGKILL")] {
            net.running["mix"]!.signal(signal)
            await net.running["mix"]!.waitForExit()
            try await net.startNode("mix", role: "mix")
            try await net.waitForPort(mix.port, within: 20)
            try await sendOverLink(packet, to: mix, as: net.path("provider.key"))
            #expect(await eventually(within: 10) { await replays() == 1 },
                    "after a \(label) restart the packet was not refused as a replay; mix log:\n\(net.log("mix").suffix(2000))")
            #expect(await net.metric("mix", "loopix_packets_out_total{kind=\"relay\"}") == 0, "relayed again after \(label)")
        }
        #expect(Date().timeIntervalSince1970 < schedule.end(of: epoch) - 1, "the restarts did not fit in the epoch")

        // The next epoch, inside the grace period: the previous key and its filter still serve.
        try await sleep(until: schedule.end(of: epoch) + 1)
        #expect(await net.metric("mix", "loopix_epoch") == Double(epoch + 1))
        try await sendOverLink(packet, to: mix, as: net.path("provider.key"))
        #expect(await eventually(within: 3) { await replays() == 2 }, "in the grace period the packet was not refused as a replay")

        // After the grace period the key is gone: the packet does not even decrypt.
        try await sleep(until: schedule.end(of: epoch) + net.grace + 1.5)
        try await sendOverLink(packet, to: mix, as: net.path("provider.key"))
        #expect(await eventually(within: 10) { await badMACs() == 1 }, "after the grace period the packet was not refused as bad_mac")
        #expect(await replays() == 2)
        #expect(await net.metric("mix", "loopix_packets_out_total{kind=\"relay\"}") == 0)
        // Its key file is shredded and its filter file removed.
        let state = net.dir.appendingPathComponent("mix-state")
        let keys = try FileManager.default.contentsOfDirectory(atPath: state.appendingPathComponent("keys").path)
        let filters = try FileManager.default.contentsOfDirectory(atPath: state.appendingPathComponent("replay").path)
        #expect(!keys.contains("sphinx-\(epoch).key") && !filters.contains("replay-\(epoch).filter"), "\(keys) \(filters)")
    }

    private func sleep(until time: Double) async throws {
        let wait = time - Date().timeIntervalSince1970
        if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
    }
}
