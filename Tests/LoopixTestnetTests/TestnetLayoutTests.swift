// The testnet's files: every process gets a configuration the roles accept, and the view's
// figures add up the clients' status files.
import Foundation
@testable import LoopixClient
import LoopixConfiguration
import LoopixDirectory
@testable import LoopixTestnet
import Testing

@Suite("Testnet layout and view")
struct TestnetLayoutTests {
    @Test("the layout writes one configuration per process, each readable by its role")
    func layout() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("loopix-layout-\(UUID().uuidString)")
        let layout = try TestnetLayout.create(in: dir, options: .init(
            layers: 2, mixesPerLayer: 1, providers: 2, clients: 3, meanDelayMs: 10, payloadRate: 1, loopRate: 1, dropRate: 1,
            mixLoopRate: 1, pullSize: 4, pullInterval: 0.5, demoInterval: 1, workers: 1, suite: .kemX25519))
        #expect(layout.processes.filter { $0.kind == .mix }.count == 2)
        // The parameters the authority publishes in every document name the suite.
        #expect(layout.parameters.geometry.suite == .kemX25519)
        let authorityConfig = try AuthorityConfigurationFile.load(dir.appendingPathComponent("config/authority.json").path)
        #expect(authorityConfig.parameters.geometry.suite == .kemX25519)
        #expect(layout.processes.filter { $0.kind == .client }.count == 3)
        #expect(layout.processes.filter { $0.kind == .authority }.count == 1)
        let pinned = [layout.authorityKey.hex]
        for spec in layout.processes {
            let config = dir.appendingPathComponent("config/\(spec.name).json").path
            switch spec.kind {
            case .authority:
                let file = try AuthorityConfigurationFile.load(config)
                #expect(file.port == layout.authorityPort && file.schedule.length == 20 && file.schedule.genesis == 0)
            case .client:
                let file = try ClientConfigurationFile.load(config)
                #expect(file.directory?.authorities == pinned && file.topology == nil)
            case .mix, .provider:
                let file = try NodeConfigurationFile.load(config)
                #expect(file.metricsPort == spec.metricsPort)
                #expect((file.mailboxes != nil) == (spec.kind == .provider))
                #expect(file.directory?.authorities == pinned && file.state != nil)
            }
        }
        // Every node is registered with the authority, each mix in the layer its name says.
        let registry = try AuthorityRegistry.load(path: dir.appendingPathComponent("registry.json").path)
        #expect(Set(registry.nodes.map(\.identity)) == Set(layout.nodes.map(\.identity)))
        #expect(registry.nodes.filter { $0.role == .mix }.map(\.layer) == [1, 2])
        // Clients are spread over the providers and registered there.
        let registered = layout.processes.filter { $0.kind == .provider }.map {
            (try? NodeConfigurationFile.load(dir.appendingPathComponent("config/\($0.name).json").path))?.clients?.count ?? 0
        }
        #expect(registered.reduce(0, +) == 3)
    }

    @Test("the summary adds up the clients' figures and takes latency percentiles over all of them")
    func summary() {
        func status(sent: Int, received: Int, latencies: [Double]) -> ClientStatus {
            ClientStatus(address: "a", statistics: ClientStatistics(), demoSent: sent, demoReceived: received, repliesSent: 0,
                         repliesReceived: 0, latencies: latencies, updated: 0)
        }
        let view = TestnetView(nodes: [], clients: [
            .init(name: "c1", status: status(sent: 3, received: 2, latencies: [0.1, 0.2])),
            .init(name: "c2", status: status(sent: 4, received: 4, latencies: [0.3, 0.4, 0.5])),
            .init(name: "c3", status: nil),
        ])
        let s = view.summary(elapsed: 10, reason: "duration reached", processesLeft: 0)
        #expect(s.messagesSent == 7 && s.messagesDelivered == 6)
        #expect(abs((s.latencyP50 ?? 0) - 0.3) < 0.001)
        #expect(s.latencyP95.map { $0 >= 0.499 } == true)
    }

    @Test("the live view and the progress line show the key epoch, the boundaries crossed and the directory")
    func epochShown() {
        var view = TestnetView(nodes: [], clients: [], authority: .init(up: true, epoch: 88_412_345, serial: 17, listed: 5))
        view.epochsCrossed = 4
        #expect(view.render(elapsed: 95, epochLength: 20).contains("epoch 88412345 (20 s each; 4 crossed) · directory serial 17"))
        #expect(view.progressLine(elapsed: 95).contains("epoch 88412345 (serial 17, 5 listed)"))
        #expect(view.summary(elapsed: 95, reason: "duration reached", processesLeft: 0).text.contains("key epochs crossed  4"))
        view.authority?.up = false
        #expect(view.render(elapsed: 96, epochLength: 20).contains("directory authority: NOT ANSWERING"))
    }
}
