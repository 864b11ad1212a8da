// Hostile directory input at the process level: a node that pins another authority's key
// believes nothing the real one serves, and an authority takes no descriptor from an identity
// its operator did not register.
import Foundation
import LoopixTestSupport
import Testing

@Suite("Directory mode in processes: hostile input", .serialized)
struct DirectoryHostileProcessTests {
    @Test("a node pinning another authority refuses the documents; an unregistered identity's upload is refused")
    func refusals() async throws {
        let net = try await DirectoryProcesses(epochLength: 60, grace: 5)
        try await withCleanUp({ await net.stopAll() }) { try await run(net) }
    }

    private func run(_ net: DirectoryProcesses) async throws {
        // Registered, but pinning a key that is not the authority's.
        let stranger = try await DirectoryProcesses.keygen(net.path("stranger.key"))
        try await net.addNode("misled", role: "mix", pinned: stranger)
        // Pinning the right key, but never registered.
        try await net.addNode("intruder", role: "mix", register: false)
        try await net.startNode("misled", role: "mix")
        try await net.startNode("intruder", role: "mix")

        let refusedSeries = "loopix_directory_documents_refused_total{cause=\"untrusted_signer\"}"
        #expect(await eventually(within: 30) { await net.metric("misled", refusedSeries) >= 1 },
                "misled log:\n\(net.log("misled").suffix(2000))")
        #expect(await eventually(within: 10) { net.log("misled").contains("untrusted_signer") },
                "the refusal must be logged with its cause")
        #expect(await net.metric("misled", "loopix_directory_documents_accepted_total") == 0)
        #expect(await net.metric("misled", "loopix_directory_uploads_total") == 0, "a node that believes no schedule announces nothing")

        let unregistered = "loopix_directory_descriptors_total{result=\"unregistered\"}"
        #expect(await eventually(within: 30) { await net.metric("authority", unregistered) >= 1 },
                "authority log:\n\(net.log("authority").suffix(2000))")
        #expect(await eventually(within: 10) { net.log("intruder").contains("unregistered") },
                "the node must log why its upload was refused")
        #expect(await net.metric("authority", "loopix_directory_descriptors_total{result=\"accepted\"}") == 0)

        // The operator's view: both registered identities, and no document (no provider yet).
        let show = try await loopix(["authority", "show", "--config", net.path("authority.json")])
        #expect(show.status == 0 && show.stdout.contains(net.nodes["misled"]!.identity), "\(show.stdout)\(show.stderr)")
        #expect(!show.stdout.contains(net.nodes["intruder"]!.identity))
        #expect(show.stdout.contains("current epoch: no document"), "\(show.stdout)")
        // Both nodes are still running: a node waits for the directory instead of giving up.
        #expect(net.running.values.allSatisfy { $0.process.isRunning })
    }
}
