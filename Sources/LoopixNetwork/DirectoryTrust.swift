// Whom a node or client believes about the network: the authority keys pinned in its
// configuration, how many of them must sign, and the checks every document passes.
import Foundation
import LoopixSphinx

/// Why a directory document was refused; `rawValue` is the `cause` label of its counter.
public enum DirectoryRefusal: String, Error, Sendable, CaseIterable, CustomStringConvertible {
    /// Not a directory document at all (bad JSON, wrong format, impossible shape).
    case malformed
    /// No signature.
    case unsigned
    /// Signed only by keys that are not pinned (for example by a node itself).
    case untrustedSigner = "untrusted_signer"
    /// A pinned authority's signature does not verify over the document, and too few others do.
    case badSignature = "bad_signature"
    /// Fewer valid signatures from distinct pinned authorities than the threshold.
    case belowThreshold = "below_threshold"
    /// Its validity window is over.
    case expired
    /// Its epoch has not started yet and is more than one epoch ahead.
    case tooEarly = "too_early"
    /// A lower serial than a document the reader has already seen for the same epoch.
    case rolledBack = "rolled_back"

    public var description: String {
        switch self {
        case .malformed: "not a valid directory document"
        case .unsigned: "the document carries no signature"
        case .untrustedSigner: "no signature by a pinned authority key"
        case .badSignature: "a pinned authority's signature does not verify"
        case .belowThreshold: "too few pinned authorities signed"
        case .expired: "the document's validity window is over"
        case .tooEarly: "the document is for an epoch that has not started"
        case .rolledBack: "an older version of a document already seen"
        }
    }
}

/// The pinned authority keys and the number of them whose signatures a document needs.
public struct DirectoryTrust: Sendable, Hashable, Codable {
    public var authorities: [VerifyingKey]
    /// Valid signatures from distinct pinned keys a document needs (1...authorities.count).
    public var threshold: Int

    public init(authorities: [VerifyingKey], threshold: Int = 1) {
        self.authorities = authorities
        self.threshold = threshold
    }

    /// A trust needs at least one pinned key, and a threshold it can reach.
    public func validate() throws(TopologyError) {
        guard !authorities.isEmpty else { throw .badSignature("no authority key is pinned") }
        guard (1...Set(authorities).count).contains(threshold) else {
            throw .badSignature("threshold \(threshold) cannot be met by \(Set(authorities).count) distinct authority keys")
        }
    }

    /// The document, if enough pinned authorities signed it, its shape is valid, and it is
    /// valid at `now` (Unix seconds) or is the next epoch's; otherwise why not. It does not judge
    /// serials: that needs the reader's memory (`DirectoryHistory`).
    public func verify(_ signed: SignedDirectoryDocument, now: Double) throws(DirectoryRefusal) -> DirectoryDocument {
        let document = signed.document
        let message: [UInt8]
        do { message = try SignedDirectoryDocument.signedBytes(of: document) } catch { throw .malformed }
        try checkSignatures(signed.signatures, over: message)
        do { try document.validate() } catch { throw .malformed }
        guard now < document.validUntil else { throw .expired }
        // The next epoch's document is fetched before that epoch starts; nothing further ahead.
        guard document.validFrom - document.schedule.length <= now else { throw .tooEarly }
        return document
    }

    /// The schedule, if enough pinned authorities signed it.
    public func verify(_ signed: SignedEpochSchedule) throws(DirectoryRefusal) -> EpochSchedule {
        let message: [UInt8]
        do { message = try CanonicalJSON.bytes(of: signed.schedule) } catch { throw .malformed }
        try checkSignatures(signed.signatures, over: message)
        do { try signed.schedule.validate() } catch { throw .malformed }
        return signed.schedule
    }

    /// Passes when at least `threshold` distinct pinned authorities signed `message`.
    private func checkSignatures(_ signatures: [DocumentSignature], over message: [UInt8]) throws(DirectoryRefusal) {
        guard !signatures.isEmpty else { throw .unsigned }
        let pinned = Set(authorities)
        var valid = Set<VerifyingKey>()
        var failed = false
        for entry in signatures where pinned.contains(entry.signer) {
            guard let signature = [UInt8](hexString: entry.signature),
                (try? entry.signer.verify(signature: signature, for: message)) != nil
            else {
                failed = true
                continue
            }
            valid.insert(entry.signer)
        }
        if valid.count < threshold {
            if failed { throw .badSignature }
            throw valid.isEmpty ? .untrustedSigner : .belowThreshold
        }
    }
}

/// The network's epoch schedule as the authorities state it, so that a node can number its keys
/// before the first document that lists it exists.
public struct SignedEpochSchedule: Sendable, Hashable, Codable {
    public var schedule: EpochSchedule
    public var signatures: [DocumentSignature]

    public init(schedule: EpochSchedule, signatures: [DocumentSignature] = []) {
        self.schedule = schedule
        self.signatures = signatures
    }

    public func signed(by key: SigningKey) throws -> SignedEpochSchedule {
        var copy = self
        copy.signatures.append(DocumentSignature(signer: key.verifyingKey,
                                                 signature: key.sign(try CanonicalJSON.bytes(of: schedule)).hexString))
        return copy
    }
}

/// What a reader remembers of the documents it accepted: the highest serial per epoch, so that
/// an older version of a document is refused even when it is still signed and valid.
public struct DirectoryHistory: Sendable {
    private var highest: [UInt64: UInt64] = [:]

    public init() {}

    /// Records `document` if its serial is not lower than any seen for its epoch; returns whether
    /// it is new (a higher serial than before), throws `.rolledBack` if it is older.
    @discardableResult
    public mutating func admit(_ document: DirectoryDocument) throws(DirectoryRefusal) -> Bool {
        if let seen = highest[document.epoch] {
            guard document.serial >= seen else { throw .rolledBack }
            guard document.serial > seen else { return false }
        }
        highest[document.epoch] = document.serial
        return true
    }

    /// Forgets epochs before `epoch` (their documents have expired anyway).
    public mutating func forget(before epoch: UInt64) {
        highest = highest.filter { $0.key >= epoch }
    }
}
