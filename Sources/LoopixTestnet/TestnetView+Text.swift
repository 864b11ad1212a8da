// How `loopix testnet` shows a reading: the live table, the progress line, the summary.
import Foundation

extension TestnetView {
    /// The live view: the directory, every node, every client, and the totals.
    public func render(elapsed: Double, epochLength: Double) -> String {
        var lines: [String] = []
        lines.append("loopix testnet — \(Int(elapsed)) s — Ctrl-C to stop and print the summary")
        lines.append("")
        if let a = authority {
            lines.append(a.up
                ? "epoch \(a.epoch) (\(Int(epochLength)) s each; \(epochsCrossed) crossed) · directory serial \(a.serial), \(a.listed)/\(nodes.count) nodes listed"
                : "directory authority: NOT ANSWERING")
            lines.append("")
        }
        lines.append("node           layer  up   in/s   out/s   stored   drops   loops back  prev key")
        for n in nodes {
            let loop = n.loopRatio.map { String(format: "%.0f %%", $0 * 100) } ?? "-"
            let drops = n.drops.values.reduce(0, +)
            lines.append(pad(n.name, 14) + pad(n.layer == 0 ? "P" : "\(n.layer)", 7) + pad(n.up ? "yes" : "NO", 5)
                + pad(String(format: "%.1f", n.inRate), 7) + pad(String(format: "%.1f", n.outRate), 8)
                + pad(n.kind == .provider ? "\(Int(n.stored))" : "-", 9) + pad("\(Int(drops))", 8) + pad(loop, 12)
                + "\(Int(n.previousKey))")
        }
        lines.append("")
        lines.append("client      sent real/drop/loop   msgs out  msgs in  replies  loops back  median latency")
        for c in clients {
            guard let s = c.status else { lines.append(pad(c.name, 12) + "starting…"); continue }
            let st = s.statistics
            let median = c.latencies.quantile(0.5).map(milliseconds) ?? "-"
            lines.append(pad(c.name, 12) + pad("\(st.sentReal)/\(st.sentDrop)/\(st.sentLoop)", 22) + pad("\(s.demoSent)", 10)
                + pad("\(s.demoReceived)", 9) + pad("\(s.repliesReceived)", 9) + pad("\(st.loopsReturned)", 12) + median)
        }
        lines.append("")
        let p50 = latencies.quantile(0.5).map(milliseconds) ?? "-"
        lines.append("messages delivered \(demoReceived)/\(demoSent) sent · loops returned \(loopsReturned)/\(loopsSent) · median latency \(p50)")
        lines.append("drops by cause: \(dropsText(drops.mapValues { Int($0) }))")
        return lines.joined(separator: "\n")
    }

    /// One line of progress for a terminal that is not interactive.
    public func progressLine(elapsed: Double) -> String {
        let rate = nodes.reduce(0) { $0 + $1.inRate }
        let epoch = authority.map { $0.up ? "epoch \($0.epoch) (serial \($0.serial), \($0.listed) listed), " : "directory down, " } ?? ""
        return "[\(Int(elapsed)) s] \(epoch)\(nodes.filter(\.up).count)/\(nodes.count) nodes up, \(String(format: "%.0f", rate)) packets/s in total, messages \(demoReceived)/\(demoSent), loops \(loopsReturned)/\(loopsSent)"
    }
}

extension TestnetSummary {
    /// The summary as printed at the end of a run.
    public var text: String {
        let p50 = latencyP50.map(milliseconds) ?? "-"
        let p95 = latencyP95.map(milliseconds) ?? "-"
        return """

            summary (\(reason), \(Int(seconds)) s, \(nodes) nodes, \(clients) clients)
              messages delivered  \(messagesDelivered) of \(messagesSent) sent (the rest were in flight at the stop)
              replies             \(repliesReceived) of \(repliesSent) sent
              client loops        \(loopsReturned) of \(loopsSent) returned
              latency             median \(p50), 95th percentile \(p95)
              packets relayed     \(packetsRelayed)
              drops by cause      \(dropsText(dropsByCause))
              key epochs crossed  \(epochsCrossed) (packets under the previous key: \(previousKeyPackets.values.reduce(0, +)))
              processes left      \(processesLeft)
            """
    }
}

private func milliseconds(_ seconds: Double) -> String { String(format: "%.0f ms", seconds * 1000) }

/// Drops by cause as one line, "none" when there were none.
public func dropsText(_ drops: [String: Int]) -> String {
    let text = drops.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    return text.isEmpty ? "none" : text
}

/// `s` padded with spaces to `n` characters (one space after it if it is longer).
private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s.padding(toLength: n, withPad: " ", startingAt: 0) }
