// Epoch arithmetic, and what a reader accepts from a directory: enough pinned signatures, a
// valid window, no rollback; and a node's descriptor signed by the identity it names.
import Foundation
import LoopixNetwork
import LoopixSphinx
import Testing

@Suite("Epochs and directory documents")
struct DirectoryDocumentTests {
    let schedule = EpochSchedule(genesis: 1_000_000, length: 60)

    @Test("epochs are numbered from genesis and each covers [start, end)")
    func epochArithmetic() {
        #expect(schedule.epoch(at: 999_000) == 0)
        #expect(schedule.epoch(at: 1_000_000) == 0)
        #expect(schedule.epoch(at: 1_000_059.999) == 0)
        #expect(schedule.epoch(at: 1_000_060) == 1)
        #expect(schedule.start(of: 7) == 1_000_420)
        #expect(schedule.end(of: 7) == schedule.start(of: 8))
        for t in stride(from: 1_000_000.0, to: 1_010_000, by: 17.3) {
            let e = schedule.epoch(at: t)
            #expect(schedule.start(of: e) <= t && t < schedule.end(of: e))
        }
    }

    /// A valid document for `epoch`: one provider and one mix per layer.
    func document(epoch: UInt64 = 10, serial: UInt64 = 1, grace: Double = 5) -> DirectoryDocument {
        var parameters = NetworkParameters()
        parameters.layers = 2
        let nodes = [
            DirectoryNode(identity: SigningKey().verifyingKey, role: .provider, layer: 0, host: "10.0.0.1", port: 1,
                          clientPort: 2, sphinxKey: SecretKey.generate().publicKey),
            DirectoryNode(identity: SigningKey().verifyingKey, role: .mix, layer: 1, host: "10.0.0.2", port: 1,
                          sphinxKey: SecretKey.generate().publicKey),
            DirectoryNode(identity: SigningKey().verifyingKey, role: .mix, layer: 2, host: "10.0.0.3", port: 1,
                          sphinxKey: SecretKey.generate().publicKey),
        ]
        return DirectoryDocument(epoch: epoch, validUntil: schedule.end(of: epoch) + grace, serial: serial,
                                 schedule: schedule, parameters: parameters, nodes: nodes)
    }

    /// A moment inside `epoch`.
    func during(_ epoch: UInt64) -> Double { schedule.start(of: epoch) + 1 }

    @Test("a document signed by the pinned authority is accepted, and reads back as the same topology")
    func accepted() throws {
        let authority = SigningKey()
        let trust = DirectoryTrust(authorities: [authority.verifyingKey])
        let signed = try SignedDirectoryDocument(document: document()).signed(by: authority)
        let decoded = try SignedDirectoryDocument.decode(try signed.encoded())
        let accepted = try trust.verify(decoded, now: during(10))
        #expect(accepted == signed.document)
        #expect(accepted.topology.nodes.map(\.id) == signed.document.nodes.map { NodeID.forIdentity($0.identity) })
    }

    @Test("a directory document carries the packet suite; one without it reads as version 1")
    func suite() throws {
        let authority = SigningKey()
        let trust = DirectoryTrust(authorities: [authority.verifyingKey])
        var kem = document()
        kem.parameters.geometry = try Geometry(hops: 6, payload: 2048, suite: .kemX25519)
        let signed = try SignedDirectoryDocument(document: kem).signed(by: authority)
        let accepted = try trust.verify(try SignedDirectoryDocument.decode(try signed.encoded()), now: during(10))
        #expect(accepted.topology.parameters.geometry.suite == .kemX25519)
        // A version 1 document, encoded as before the suite existed (no "suite" anywhere), still verifies as version 1.
        let v1 = try SignedDirectoryDocument(document: document()).signed(by: authority)
        let text = String(decoding: try v1.encoded(), as: UTF8.self)
        #expect(!text.contains("suite"))
        #expect(try trust.verify(try SignedDirectoryDocument.decode(Data(text.utf8)), now: during(10)).parameters.geometry.suite == .v1)
    }

    @Test("each kind of bad document is refused under its own cause")
    func refusals() throws {
        let authority = SigningKey(), stranger = SigningKey()
        let trust = DirectoryTrust(authorities: [authority.verifyingKey])
        let good = try SignedDirectoryDocument(document: document()).signed(by: authority)
        func refusal(_ signed: SignedDirectoryDocument, now: Double? = nil) -> DirectoryRefusal? {
            do {
                _ = try trust.verify(signed, now: now ?? during(10))
                return nil
            } catch { return error }
        }
        #expect(refusal(good) == nil)
        #expect(refusal(SignedDirectoryDocument(document: document())) == .unsigned)
        // Self-signed: a node (or anyone) signs its own document.
        #expect(refusal(try SignedDirectoryDocument(document: document()).signed(by: stranger)) == .untrustedSigner)
        // Wrongly signed: the pinned key's signature over other bytes.
        var tampered = good
        tampered.document.nodes[1].port = 2
        #expect(refusal(tampered) == .badSignature)
        var garbled = good
        garbled.signatures[0].signature = String(repeating: "0", count: 128)
        #expect(refusal(garbled) == .badSignature)
        // Expired: past the end of the epoch and its grace.
        #expect(refusal(good, now: schedule.end(of: 10) + 5) == .expired)
        #expect(refusal(good, now: schedule.end(of: 10) + 4.9) == nil, "still valid during the grace period")
        // Too early: two epochs ahead.
        #expect(refusal(good, now: during(8)) == .tooEarly)
        #expect(refusal(good, now: during(9)) == nil, "the next epoch's document is fetched ahead")
        // Shape: a document whose window does not match its epoch.
        var shifted = document()
        shifted.validFrom += 1
        #expect(refusal(try SignedDirectoryDocument(document: shifted).signed(by: authority)) == .malformed)
    }

    @Test("a threshold counts distinct pinned authorities with valid signatures")
    func threshold() throws {
        let a = SigningKey(), b = SigningKey(), c = SigningKey()
        let trust = DirectoryTrust(authorities: [a.verifyingKey, b.verifyingKey, c.verifyingKey], threshold: 2)
        let base = SignedDirectoryDocument(document: document())
        #expect(throws: DirectoryRefusal.belowThreshold) { try trust.verify(try base.signed(by: a), now: during(10)) }
        #expect(throws: DirectoryRefusal.belowThreshold, "the same authority twice is one signature") {
            try trust.verify(try base.signed(by: a).signed(by: a), now: during(10))
        }
        #expect(throws: Never.self) { try trust.verify(try base.signed(by: a).signed(by: c), now: during(10)) }
        #expect(throws: Never.self, "a stranger's extra signature does not matter") {
            try trust.verify(try base.signed(by: SigningKey()).signed(by: b).signed(by: c), now: during(10))
        }
        #expect(throws: TopologyError.self) { try DirectoryTrust(authorities: [a.verifyingKey], threshold: 2).validate() }
        #expect(throws: TopologyError.self) { try DirectoryTrust(authorities: []).validate() }
    }

    @Test("a reader refuses an older serial for an epoch it has seen, and takes newer ones")
    func rollback() throws {
        var history = DirectoryHistory()
        #expect(try history.admit(document(epoch: 10, serial: 5)))
        #expect(try !history.admit(document(epoch: 10, serial: 5)), "the same serial again is not news")
        #expect(throws: DirectoryRefusal.rolledBack) { try history.admit(document(epoch: 10, serial: 4)) }
        #expect(try history.admit(document(epoch: 10, serial: 9)))
        #expect(try history.admit(document(epoch: 11, serial: 6)), "serials are judged per epoch")
    }

    @Test("a descriptor verifies under the identity it names, and not once changed")
    func descriptor() throws {
        let identity = SigningKey()
        let body = NodeDescriptorBody(identity: identity.verifyingKey, role: .mix, host: "10.0.0.9", port: 4100,
                                      epochKeys: (10...12).map { EpochPublicKey(epoch: $0, sphinxKey: SecretKey.generate().publicKey) },
                                      issuedAt: during(10))
        let signed = try SignedNodeDescriptor(body, identity: identity)
        #expect(signed.signatureIsValid)
        let decoded = try JSONDecoder().decode(SignedNodeDescriptor.self, from: try CanonicalJSON.readable(signed))
        #expect(decoded.signatureIsValid)
        #expect(decoded.descriptor.sphinxKey(for: 11) == body.epochKeys[1].sphinxKey.key)
        var moved = signed
        moved.descriptor.host = "10.0.0.10"
        #expect(!moved.signatureIsValid)
        var impostor = signed
        impostor.descriptor.identity = SigningKey().verifyingKey
        #expect(!impostor.signatureIsValid)
    }
}
