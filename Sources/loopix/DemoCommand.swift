// `loopix demo`: one packet through a chain of in-memory hops, and a reply back, with timings.
import ArgumentParser
import Foundation
import LoopixRandom
import LoopixSphinx

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Build a Sphinx packet and send it through a chain of in-memory hops, then reply with a SURB.")

    @Option(help: "Route length (1 to 6): provider, mixes, provider, recipient.")
    var hops: Int = 6

    @Option(help: "The message to send.")
    var message: String = "Hello through the mix network"

    @Option(help: "Mean per-hop delay in milliseconds (delays are drawn from an exponential distribution).")
    var meanDelayMs: Double = 5

    func run() throws {
        try Sphinx.initialize()
        let geometry = Geometry.standard
        guard (1...geometry.hops).contains(hops) else { throw ValidationError("--hops must be 1...\(geometry.hops)") }
        guard meanDelayMs >= 0 else { throw ValidationError("--mean-delay-ms must not be negative") }
        print("Sphinx core \(Sphinx.version), backend \(Sphinx.backend.rawValue), geometry \(geometry)")

        let names = Self.names(for: hops)
        let keys = (0..<hops).map { _ in SecretKey.generate() }
        let ids = (0..<hops).map { _ in SphinxAddress.random() }
        let filters = try (0..<hops).map { _ in try ReplayFilter(capacity: 1000) }
        let nodes = try (0..<hops).map {
            try PacketProcessor(geometry: geometry, secretKey: keys[$0], replayFilter: filters[$0])
        }
        func delay() -> UInt32 {
            meanDelayMs == 0 ? 0 : UInt32(min(Double.exponential(rate: 1 / meanDelayMs) * 1000, 60e6))
        }
        func route(ending last: RoutingCommand) -> [RouteHop] {
            (0..<hops).map { i in
                RouteHop(publicKey: keys[i].publicKey,
                         command: i == hops - 1 ? last : .relay(next: ids[i + 1], delayMicroseconds: delay()))
            }
        }

        // Forward: the recipient (last hop) reads the message.
        let messageID = SphinxAddress.random()
        let started = Date()
        var packet = try Sphinx.createPacket(geometry: geometry, route: route(ending: .final(messageID: messageID)),
                                             message: Array(message.utf8))
        print("created a \(packet.count)-byte packet in \(Self.ms(since: started)) ms for \(names.joined(separator: " → "))")
        for i in 0..<hops {
            let t = Date()
            let (next, processed) = try nodes[i].process(packet)
            let took = Self.ms(since: t)
            switch processed.command {
            case .relay(let next, let d):
                print("  \(names[i]): unwrapped in \(took) ms, holds \(Double(d) / 1000) ms, relays to \(next.hex.prefix(12))…")
                Thread.sleep(forTimeInterval: Double(d) / 1e6)
            case .final:
                let text = processed.finalMessage.map { String(decoding: next[$0], as: UTF8.self) } ?? "<tampered>"
                print("  \(names[i]): unwrapped in \(took) ms, is the destination: \"\(text)\"")
            case .deliver, .drop:
                print("  \(names[i]): unexpected command \(processed.command)")
            }
            packet = next
        }
        do {
            _ = try nodes[0].process(try Sphinx.createPacket(geometry: geometry, route: route(ending: .drop(delayMicroseconds: 0)), message: []))
            print("a fresh packet passes the first hop; ", terminator: "")
        }

        // Reply: the recipient made a single-use reply block back to the sender (here, the same chain).
        let replyID = SphinxAddress.random()
        let (block, secret) = try Sphinx.createReplyBlock(geometry: geometry, route: route(ending: .final(messageID: replyID)),
                                                          firstHop: ids[0])
        var reply = try block.makeReply(message: Array("Got it. Thanks!".utf8))
        let replayCopy = reply
        for node in nodes { reply = try node.process(reply).packet }
        print("a reply through a \(block.bytes.count)-byte reply block opens as \"\(String(decoding: try secret.open(packet: reply), as: UTF8.self))\"")
        do {
            _ = try nodes[0].process(replayCopy)
            print("ERROR: a replayed reply was accepted")
            throw ExitCode.failure
        } catch let e as SphinxError {
            print("the same reply sent again is refused at the first hop: \(e.name)")
        }
    }

    static func names(for hops: Int) -> [String] {
        let full = ["ingress provider", "mix (layer 1)", "mix (layer 2)", "mix (layer 3)", "egress provider", "recipient"]
        return hops == full.count ? full : (0..<hops).map { $0 == hops - 1 ? "recipient" : "hop \($0 + 1)" }
    }

    static func ms(since start: Date) -> String { String(format: "%.3f", Date().timeIntervalSince(start) * 1000) }
}
