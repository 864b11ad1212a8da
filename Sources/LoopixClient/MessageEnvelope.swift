// What a Sphinx message carries between clients: a kind byte, maybe a reply block, the body.
import LoopixSphinx

/// The plaintext inside a client's Sphinx message.
enum MessageEnvelope {
    static let plain: UInt8 = 1
    static let withReplyBlock: UInt8 = 2

    /// The longest body a message can carry, with or without a reply block attached.
    static func maxBody(geometry: Geometry, withReplyBlock: Bool) -> Int {
        geometry.maxMessageBytes - 1 - (withReplyBlock ? geometry.replyBlockBytes : 0)
    }

    static func encode(body: [UInt8], replyBlock: ReplyBlock?) -> [UInt8] {
        if let replyBlock { return [withReplyBlock] + replyBlock.bytes + body }
        return [plain] + body
    }

    /// Splits a received message; nil if it is not one of ours.
    static func decode(_ bytes: [UInt8], geometry: Geometry) -> (body: [UInt8], replyBlock: ReplyBlock?)? {
        guard let kind = bytes.first else { return nil }
        switch kind {
        case plain:
            return (Array(bytes.dropFirst()), nil)
        case withReplyBlock:
            let end = 1 + geometry.replyBlockBytes
            guard bytes.count >= end, let block = try? ReplyBlock(geometry: geometry, bytes: Array(bytes[1..<end])) else {
                return nil
            }
            return (Array(bytes[end...]), block)
        default:
            return nil
        }
    }
}
