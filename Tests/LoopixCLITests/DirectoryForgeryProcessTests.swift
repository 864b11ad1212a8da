// Forged directory documents at the process level: between a mix and a provider in directory
// mode and their authority sits a proxy that replaces the current epoch's document with an
// unsigned, a self-signed, a wrongly signed, an expired and a rolled-back one in turn. Each is
// refused with a log line naming its cause and a counter, and the nodes keep the last good
// document: the serial they hold is one the authority published, and the mix still relays to
// the provider.
import Foundation
import LoopixTestSupport
import Testing

@Suite("Directory mode in processes: forged documents", .serialized)
struct DirectoryForgeryProcessTests {
    @Test("forged documents are each refused, logged and counted; the nodes keep the last good one")
    func forgedDocuments() async throws {
        // 24-second epochs: a node that holds its documents asks for the current one every 3 s.
        let net = try await DirectoryProcesses(epochLength: 24, grace: 5)
        let proxy = ForgingDirectoryProxy(upstreamPort: net.authorityPort, authorityKeyFile: net.path("authority.key"),
                                          impostorKeyFile: net.path("mix.key"))
        net.directoryPort = try await proxy.start()
        try await withCleanUp({ await net.stopAll(); await proxy.close() }) { try await run(net, proxy) }
    }

    private func run(_ net: DirectoryProcesses, _ proxy: ForgingDirectoryProxy) async throws {
        let (mix, provider) = try await net.startMixAndProvider()

        // A packet through the mix to the provider, built from the authority's current document:
        // it reaches the provider only if the mix holds a document that lists the provider where
        // the authority says it is. Sent again every 2 s until one arrives.
        func reachesProvider(within seconds: Double) async throws -> Bool {
            let before = await net.metric("provider", "loopix_cover_discarded_total")
            var lastSent = 0.0
            return try await eventually(within: seconds) {
                if await net.metric("provider", "loopix_cover_discarded_total") > before { return true }
                let now = Date().timeIntervalSince1970
                if now - lastSent >= 2 {
                    lastSent = now
                    let document = try await net.document(epoch: net.schedule.epoch(at: now))
                    try await sendOverLink(try dropPacket(document, mix: mix.identity, provider: provider.identity), to: mix,
                                           as: net.path("provider.key"))
                }
                return false
            }
        }
        #expect(try await reachesProvider(within: 30), "the mix never relayed to the provider; mix log:\n\(net.log("mix").suffix(2000))")

        for forgery in ForgingDirectoryProxy.Forgery.allCases {
            proxy.forge(forgery)
            let cause = forgery.cause.rawValue
            for node in ["mix", "provider"] {
                let series = "loopix_directory_documents_refused_total{cause=\"\(cause)\"}"
                #expect(await eventually(within: 20) { await net.metric(node, series) >= 1 },
                        "\(node) did not count a \(forgery) document as \(cause) (served \(proxy.servedCount(forgery)))")
                #expect(await eventually(within: 5) {
                    net.log(node).split(separator: "\n").contains { $0.contains("directory document refused") && $0.contains(cause) }
                }, "\(node) logged no refusal naming \(cause); log:\n\(net.log(node).suffix(1500))")
            }
        }

        // Still under forgery (the last one): the nodes run on what the authority signed. Every
        // forgery but the rollback carries a serial above any the authority published.
        #expect(proxy.servedCount(.rolledBack) >= 2)
        let published = await net.metric("authority", "loopix_directory_serial")
        for node in ["mix", "provider"] {
            let held = await net.metric(node, "loopix_directory_serial")
            #expect(held >= 1 && held <= published, "\(node) holds serial \(held); the authority published up to \(published)")
        }
        #expect(try await reachesProvider(within: 20),
                "after the forgeries the mix no longer reaches the provider; mix log:\n\(net.log("mix").suffix(2000))")
        #expect(await net.metric("mix", "loopix_directory_documents_refused_total{cause=\"malformed\"}") == 0)
        #expect(net.running.values.allSatisfy { $0.process.isRunning })
    }
}
