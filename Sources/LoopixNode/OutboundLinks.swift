// Every outbound link a node opens, created as the directory names new peers.
import LoopixNetwork
import NIOConcurrencyHelpers
import NIOCore

/// A link as a packet names it on its way to the delay scheduler. It holds the link strongly: a
/// packet may outlive the node that made it (a scheduler's timer on a shared event loop group).
struct LinkHandle: Sendable, Hashable {
    let link: OutboundConnection

    init(_ link: OutboundConnection) { self.link = link }

    static func == (a: LinkHandle, b: LinkHandle) -> Bool { a.link === b.link }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(link)) }
}

/// The node's outbound links. A peer gets one link per address; links are spread over the event
/// loops in the order they are made, and each loop's delay scheduler writes to its own links.
final class OutboundLinks: Sendable {
    private let loops: [any EventLoop]
    private let metrics: NodeMetrics
    private let settings: OutboundSettings
    private let connector: any LinkConnector
    private let made = NIOLockedValueBox<[String: OutboundConnection]>([:])

    init(loops: [any EventLoop], metrics: NodeMetrics, settings: OutboundSettings,
         connector: any LinkConnector = TCPLinkConnector()) {
        self.loops = loops
        self.metrics = metrics
        self.settings = settings
        self.connector = connector
    }

    /// The links to `peers` (made now for a peer or an address not seen before), by node id.
    func links(to peers: [NodeDescriptor]) -> [NodeID: LinkHandle] {
        made.withLockedValue { made in
            var out: [NodeID: LinkHandle] = [:]
            for peer in peers {
                let key = "\(peer.id.hex)@\(peer.host):\(peer.port)"
                let link = made[key] ?? {
                    let position = made.count % loops.count
                    let link = OutboundConnection(peer: peer, eventLoop: loops[position], schedulerIndex: position,
                                                  metrics: metrics, settings: settings, connector: connector)
                    made[key] = link
                    return link
                }()
                out[peer.id] = LinkHandle(link)
            }
            return out
        }
    }

    /// Every link made so far (shutdown closes them all).
    var all: [OutboundConnection] { made.withLockedValue { Array($0.values) } }
}
