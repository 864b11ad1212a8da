// A mailbox flooded to its quota recovers once its packets expire, end to end: a real provider
// on its SQLite file, mail sent by a real client over its Noise link through a mix, and read by
// the recipient's real client over the pull port.
import LoopixClient
import LoopixProvider
import LoopixTestSupport
import Testing

@Suite("Mailbox expiry end to end", .serialized)
struct MailboxExpiryEndToEndTests {
    @Test("a mailbox flooded to its quota refuses more, counted; once its packets expire it takes new mail, which a pull returns")
    func floodedMailboxRecovers() async throws {
        let quota = 3
        let expiry = 2.0
        let net = try LoopbackNetwork(layers: 1) { provider in
            provider.quotaPerMailbox = quota
            provider.mailboxExpiry = expiry
        }
        try await net.start()
        // A sends to B, one message at a time; B does not pull until the end.
        let a = try net.client(at: 0, rates: ClientRates(payload: 50, loop: 0, drop: 0, pullInterval: 0))
        let b = try net.client(at: 1, rates: ClientRates(payload: 0, loop: 0, drop: 0, pullInterval: 0))
        let provider = net.providers[1]
        let mailbox = b.core.identity.mailbox
        func counter(_ series: String) -> Int { Int(MetricSamples(text: provider.node.metrics.render())[series]) }
        let stored = { counter("loopix_mailbox_stored_total") }
        let full = { counter("loopix_mailbox_refused_total{cause=\"mailbox_full\"}") }
        let expired = { counter("loopix_mailbox_expired_total") }
        a.start()

        // The flood: each message's fate is seen before the next leaves, until one is refused.
        // (Normally the quota's worth is stored and the next refused; a test process stalled for
        // longer than the expiry sees a few expire first and sends more.)
        var sent = 0
        while full() == 0, sent < 30 {
            let before = stored() + full()
            try a.send(Array("flood \(sent)".utf8), to: b.address)
            sent += 1
            let arrived = await eventually(within: 20) { stored() + full() == before + 1 }
            try #require(arrived, "flood message \(sent) neither stored nor refused; \(net.dropSummary())")
        }
        #expect(full() == 1, "the full mailbox refused nothing after \(sent) messages; \(net.dropSummary())")
        print("flood: \(sent) messages, \(stored()) stored, \(full()) refused as mailbox_full, \(expired()) expired meanwhile")

        // Every stored packet of the flood expires and is purged, unread.
        let floodStored = stored()
        #expect(await eventually(within: expiry + 20) { expired() == floodStored }, "expired \(expired()) of \(floodStored)")
        #expect(try provider.store.count(mailbox: mailbox) == 0)

        // The mailbox takes mail again.
        try a.send(Array("after expiry".utf8), to: b.address)
        #expect(await eventually(within: 20) { stored() == floodStored + 1 }, "\(net.dropSummary())")
        #expect(full() == 1, "refused after the expiry")
        await a.stop()

        // B's pull returns it, and nothing of the flood.
        await b.pullOnce()
        let message = await next(of: b.messages, within: 5)
        #expect(message.map { String(decoding: $0.body, as: UTF8.self) } == "after expiry")
        #expect(b.statistics.pulls == 1 && b.statistics.pullFailures == 0)
        #expect(b.statistics.messagesReceived == 1)
        #expect(b.statistics.dummiesReceived == net.pullSize - 1)
        #expect(try provider.store.count(mailbox: mailbox) == 0, "the pulled packet was acknowledged and deleted")
        await b.stop()
        await net.stop()
    }
}
