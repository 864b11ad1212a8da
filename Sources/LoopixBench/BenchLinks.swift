// The node benchmark's ends of encrypted links: the generator's links run the Noise XK
// handshake on a blocking socket and seal each frame as the node's peers do; the sink answers
// the node's handshakes and opens what it receives. Plain bytes when the node runs with
// plaintext links (`loopix bench serve-node --plaintext-links`).
import Foundation
import LoopixNetwork
import LoopixNoise

#if canImport(Glibc)
import Glibc
#endif

/// The generator's end of one encrypted link to the node: the handshake done, it seals frames
/// one transport message each, with the REKEY every `rekeyInterval` messages, as a node does.
final class BenchLinkSender {
    private let cipher: NoiseSendingCipher
    private let rekeyInterval = LinkSettings().rekeyInterval
    private var sealed: UInt64 = 0
    private var scratch: UnsafeMutableRawBufferPointer

    /// Runs XK as `localKey` toward `responderKey` on the connected blocking socket `fd`.
    init(fd: Int32, localKey: NoiseSecretKey, responderKey: NoisePublicKey) throws {
        let handshake = try NoiseHandshake.initiator(localStaticKey: localKey, responderKey: responderKey,
                                                     prologue: Array(LinkPurpose.packets.rawValue.utf8))
        try Self.sendMessage(fd, try handshake.writeMessage())
        _ = try handshake.readMessage(try Self.receiveMessage(fd))
        try Self.sendMessage(fd, try handshake.writeMessage())
        cipher = try handshake.split().sending
        scratch = .allocate(byteCount: 1 << 16, alignment: 16)
    }

    deinit { scratch.deallocate() }

    /// `frames` (whole frames of `frameBytes` each) sealed one message per frame; the result
    /// stays valid until the next call.
    func seal(_ frames: UnsafeRawBufferPointer, frameBytes: Int) -> UnsafeRawBufferPointer {
        let count = frames.count / frameBytes
        let messageBytes = NoiseLinkFormat.overheadBytes + frameBytes
        if scratch.count < count * messageBytes {
            scratch.deallocate()
            scratch = .allocate(byteCount: count * messageBytes, alignment: 16)
        }
        for i in 0..<count {
            let message = UnsafeMutableRawBufferPointer(rebasing: scratch[(i * messageBytes)..<((i + 1) * messageBytes)])
            message.storeBytes(of: UInt16(frameBytes + NoiseLinkFormat.tagBytes).bigEndian, toByteOffset: 0, as: UInt16.self)
            let body = UnsafeMutableRawBufferPointer(rebasing: message[NoiseLinkFormat.lengthPrefixBytes...])
            body.copyMemory(from: UnsafeRawBufferPointer(rebasing: frames[(i * frameBytes)..<((i + 1) * frameBytes)]))
            // A frame of the pool always fits one message, and the nonce never runs out in a benchmark.
            _ = try! cipher.encrypt(body, plaintextCount: frameBytes)
            sealed += 1
            if sealed % rekeyInterval == 0 { try! cipher.rekey() }
        }
        return UnsafeRawBufferPointer(rebasing: scratch[0..<(count * messageBytes)])
    }

    private static func sendMessage(_ fd: Int32, _ message: [UInt8]) throws {
        let bytes = [UInt8(message.count >> 8), UInt8(message.count & 0xff)] + message
        let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else { throw BenchError("the node closed the link during its handshake") }
    }

    private static func receiveMessage(_ fd: Int32) throws -> [UInt8] {
        func exactly(_ n: Int) throws -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: n)
            var filled = 0
            while filled < n {
                let got = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, n - filled, 0) }
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else { throw BenchError("the node closed the link during its handshake (wrong key?)") }
                filled += got
            }
            return bytes
        }
        let length = try exactly(2)
        return try exactly(Int(length[0]) << 8 | Int(length[1]))
    }
}

/// The sink's end of one link from the node: answers the handshake, then opens each transport
/// message in place. The plaintexts are whole wire frames.
final class BenchLinkReceiver {
    private var handshake: NoiseHandshake?
    private var cipher: NoiseReceivingCipher?
    private let rekeyInterval = LinkSettings().rekeyInterval
    private var opened: UInt64 = 0

    init(localKey: NoiseSecretKey) throws {
        handshake = try .responder(localStaticKey: localKey, prologue: Array(LinkPurpose.packets.rawValue.utf8))
    }

    /// Takes one length-prefixed message's body: a handshake message (answered on `fd`) or a
    /// transport message, decrypted where it lies. Returns the plaintext, nil for a handshake
    /// message; throws when the link is broken.
    func take(_ message: UnsafeMutableRawBufferPointer, fd: Int32) throws -> UnsafeRawBufferPointer? {
        if let handshake {
            _ = try handshake.readMessage(Array(message))
            if handshake.nextStep == .write {
                let answer = try handshake.writeMessage()
                let bytes = [UInt8(answer.count >> 8), UInt8(answer.count & 0xff)] + answer
                let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
                guard sent == bytes.count else { throw BenchError("the node's link closed during the handshake") }
            }
            if handshake.nextStep == .split {
                cipher = try handshake.split().receiving
                self.handshake = nil
            }
            return nil
        }
        guard let cipher else { throw BenchError("a link without keys") }
        let length = try cipher.decrypt(message)
        opened += 1
        if opened % rekeyInterval == 0 { try cipher.rekey() }
        return UnsafeRawBufferPointer(rebasing: message[0..<length])
    }
}
