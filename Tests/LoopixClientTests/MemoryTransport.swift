// An in-process provider for client tests: packets go through a MemoryNetwork; mailboxes are lists.
import Foundation
import LoopixClient
import LoopixNetwork
import LoopixSphinx
import NIOConcurrencyHelpers

/// Routes sent packets through real Sphinx nodes and keeps delivered packets per mailbox.
final class MemoryPostOffice: Sendable {
    let network: MemoryNetwork
    let pullSize: Int
    private let mailboxes = NIOLockedValueBox([SphinxAddress: [[UInt8]]]())
    private let drops = NIOLockedValueBox(0)

    init(network: MemoryNetwork, pullSize: Int = 4) {
        self.network = network
        self.pullSize = pullSize
    }

    func accept(_ packet: [UInt8], from provider: NodeID) {
        guard let (outcome, _) = try? network.route(packet, entry: provider) else { return }
        switch outcome {
        case .delivered(let mailbox, let p): mailboxes.withLockedValue { $0[mailbox, default: []].append(p) }
        case .dropped: drops.withLockedValue { $0 += 1 }
        }
    }

    func take(_ mailbox: SphinxAddress) -> [[UInt8]] {
        var out = mailboxes.withLockedValue { m -> [[UInt8]] in
            let all = m[mailbox, default: []]
            m[mailbox] = Array(all.dropFirst(pullSize))
            return Array(all.prefix(pullSize))
        }
        while out.count < pullSize { out.append(Sphinx.createDummy(geometry: .standard)) }
        return out
    }

    var dropped: Int { drops.withLockedValue { $0 } }
}

struct MemoryTransport: ClientTransport {
    let office: MemoryPostOffice
    let identity: ClientIdentity

    func send(_ packet: [UInt8]) async throws { office.accept(packet, from: identity.provider) }
    func pull(_ receive: @Sendable ([[UInt8]]) async -> [Bool]) async throws { _ = await receive(office.take(identity.mailbox)) }
    func close() async {}
}
