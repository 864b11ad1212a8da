// One end of a link over Noise_XK_25519_ChaChaPoly_BLAKE2b: runs the handshake (the initiator
// knows the responder's key from the directory; the responder learns and checks the
// initiator's), then decrypts each inbound message in place and hands its plaintext on, and
// seals what is written. Anything that fails ends the connection with a `NoiseLinkError`.
import LoopixNoise
import NIOCore

/// The Noise layer of one connection, at the head of its pipeline: bytes below, plaintexts above.
///
/// Inbound, every transport message's plaintext is fired as one `ByteBuffer` (a slice of the
/// handler's own buffer, decrypted where it lies). Outbound, each written buffer becomes one
/// message (or several, past the 65,535-byte limit, all in one buffer), unless the owner took
/// the sealing over.
public final class NoiseLinkHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    public enum Role {
        /// Connects to the holder of `responderKey` (from the directory or the topology).
        case initiator(responderKey: NoisePublicKey)
        /// Accepts whom `authorizer` lets in, within `limits` when given.
        case responder(authorizer: any LinkAuthorizer, limits: LinkLimits?)
    }

    private enum State {
        case idle
        case handshaking
        case authorizing
        case established
        case failed
    }

    private let role: Role
    private let settings: LinkSettings
    private let maxInboundMessage: Int
    private let handsOverSending: Bool
    private var handshake: NoiseHandshake?
    private var state = State.idle
    private var inbound = ByteBuffer()
    private var sealer: NoiseLinkSealer?
    private var opener: NoiseLinkOpener?
    private var pendingWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var flushPending = false
    private var timer: Scheduled<Void>?
    private var pendingAddress: String?
    private var admittedPeer: NoisePublicKey?
    private var messagesRead = 0
    /// Plaintexts a message may carry inbound; longer length prefixes are refused unread.
    private static let pendingWriteLimit = 256

    /// `maxInboundPlaintext`: the longest plaintext the peer may send in one message.
    /// `handsOverSending`: give the sealer to the owner with `NoiseLinkEstablished` and pass
    /// writes through untouched (a node's outbound links seal in the packet's own buffer).
    public init(role: Role, localKey: NoiseSecretKey, purpose: LinkPurpose, settings: LinkSettings,
                maxInboundPlaintext: Int, handsOverSending: Bool = false) throws(NoiseError) {
        self.role = role
        self.settings = settings
        self.maxInboundMessage = min(maxInboundPlaintext + NoiseLinkFormat.tagBytes, NoiseLinkFormat.maxMessageBytes)
        self.handsOverSending = handsOverSending
        switch role {
        case .initiator(let responderKey):
            handshake = try .initiator(localStaticKey: localKey, responderKey: responderKey, prologue: purpose.prologue)
        case .responder:
            handshake = try .responder(localStaticKey: localKey, prologue: purpose.prologue)
        }
    }

    private var isInitiator: Bool {
        if case .initiator = role { return true }
        return false
    }

    // MARK: lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        inbound = context.channel.allocator.buffer(capacity: 2 * (maxInboundMessage + NoiseLinkFormat.lengthPrefixBytes))
        if context.channel.isActive { begin(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        begin(context: context)
        // A connection `begin` refused (over the address limit) is closed already and its
        // channelInactive has gone down the pipeline: the handlers behind must not see it open
        // after that (they counted it as a connection for good).
        if case .failed = state { return }
        context.fireChannelActive()
    }

    private func begin(context: ChannelHandlerContext) {
        guard case .idle = state else { return }
        state = .handshaking
        if case .responder(_, let limits) = role, let limits {
            let address = context.channel.remoteAddress?.ipAddress ?? "?"
            guard limits.beginHandshake(from: address) else { return fail(.addressLimit, context: context) }
            pendingAddress = address
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(settings.handshakeTimeout * 1e9))) {
            let (handler, context) = loopBound.value
            if case .established = handler.state { return }
            handler.fail(.handshakeTimeout, context: context)
        }
        if isInitiator { writeHandshakeMessage(context: context) }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .handshaking, .authorizing:
            failQuietly(.closedDuringHandshake, context: context)
        case .established where inbound.readableBytes > 0:
            context.fireErrorCaught(NoiseLinkError.truncated(bytes: inbound.readableBytes))
        default: break
        }
        releaseAll()
        for (_, promise) in pendingWrites { promise?.fail(ChannelError.ioOnClosedChannel) }
        pendingWrites.removeAll()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        releaseAll()
    }

    private func releaseAll() {
        timer?.cancel()
        timer = nil
        if case .responder(_, let limits) = role, let limits {
            if let address = pendingAddress { limits.endHandshake(from: address) }
            if let peer = admittedPeer { limits.release(peer) }
        }
        pendingAddress = nil
        admittedPeer = nil
    }

    /// Ends the link: the error goes down the pipeline (to be counted there) and the connection closes.
    private func fail(_ error: NoiseLinkError, context: ChannelHandlerContext) {
        if case .failed = state { return }
        failQuietly(error, context: context)
        context.close(promise: nil)
    }

    private func failQuietly(_ error: NoiseLinkError, context: ChannelHandlerContext) {
        if case .failed = state { return }
        state = .failed
        handshake = nil
        sealer = nil
        opener = nil
        timer?.cancel()
        timer = nil
        inbound.clear()
        context.fireErrorCaught(error)
    }

    // MARK: reading

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        if case .failed = state { return }
        inbound.writeBuffer(&chunk)
        process(context: context)
    }

    /// Handles every complete message the buffer holds, as far as the state allows.
    private func process(context: ChannelHandlerContext) {
        while true {
            switch state {
            case .handshaking, .established: break
            case .authorizing:
                // The initiator may send right after its last handshake message; hold a little of that.
                if inbound.readableBytes > 4 * (maxInboundMessage + NoiseLinkFormat.lengthPrefixBytes) {
                    fail(.badMessageLength(inbound.readableBytes), context: context)
                }
                return
            case .idle, .failed: return
            }
            guard let length = inbound.getInteger(at: inbound.readerIndex, endianness: .big, as: UInt16.self).map(Int.init) else {
                break
            }
            if case .handshaking = state {
                guard let expected = expectedHandshakeLength, length == expected else {
                    return fail(isInitiator ? .responderKeyMismatch : .handshakeFailed, context: context)
                }
            } else {
                guard length >= NoiseLinkFormat.tagBytes, length <= maxInboundMessage else {
                    return fail(.badMessageLength(length), context: context)
                }
            }
            guard inbound.readableBytes >= NoiseLinkFormat.lengthPrefixBytes + length else { break }
            if case .handshaking = state {
                inbound.moveReaderIndex(forwardBy: NoiseLinkFormat.lengthPrefixBytes)
                let message = inbound.readBytes(length: length)!
                readHandshakeMessage(message, context: context)
            } else {
                guard readTransportMessage(length: length, context: context) else { return }
            }
        }
        if inbound.readableBytes == 0 {
            inbound.clear()
        } else if inbound.readerIndex > inbound.capacity / 2 {
            inbound.discardReadBytes()
        }
    }

    private var expectedHandshakeLength: Int? {
        guard let handshake, handshake.nextStep == .read else { return nil }
        return handshake.nextMessageByteCount(payloadCount: 0)
    }

    private func readHandshakeMessage(_ message: [UInt8], context: ChannelHandlerContext) {
        guard let handshake else { return }
        do {
            _ = try handshake.readMessage(message)
        } catch {
            // An initiator that cannot read the answer is not talking to the key it expected.
            return fail(isInitiator ? .responderKeyMismatch : .handshakeFailed, context: context)
        }
        messagesRead += 1
        switch handshake.nextStep {
        case .write:
            writeHandshakeMessage(context: context)
        case .split:
            complete(context: context)
        default:
            fail(.handshakeFailed, context: context)
        }
    }

    private func writeHandshakeMessage(context: ChannelHandlerContext) {
        guard let handshake else { return }
        let message: [UInt8]
        do { message = try handshake.writeMessage() } catch { return fail(.handshakeFailed, context: context) }
        var buffer = context.channel.allocator.buffer(capacity: message.count + NoiseLinkFormat.lengthPrefixBytes)
        buffer.writeInteger(UInt16(message.count))
        buffer.writeBytes(message)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        if handshake.nextStep == .split { complete(context: context) }
    }

    /// Splits the finished handshake; a responder asks whether the peer may stay first.
    private func complete(context: ChannelHandlerContext) {
        guard let handshake, let transport = try? handshake.split(), let peer = transport.remoteStaticKey else {
            return fail(.handshakeFailed, context: context)
        }
        self.handshake = nil
        sealer = NoiseLinkSealer(cipher: transport.sending, rekeyInterval: settings.rekeyInterval)
        opener = NoiseLinkOpener(cipher: transport.receiving, rekeyInterval: settings.rekeyInterval)
        switch role {
        case .initiator:
            establish(peer: peer, context: context)
        case .responder(let authorizer, let limits):
            state = .authorizing
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            authorizer.authorize(peer, on: context.eventLoop).whenComplete { result in
                let (handler, context) = loopBound.value
                guard case .authorizing = handler.state else { return }
                guard (try? result.get()) == true else { return handler.fail(.unknownPeer, context: context) }
                if let limits {
                    guard limits.admit(peer) else { return handler.fail(.peerLimit, context: context) }
                    handler.admittedPeer = peer
                }
                handler.establish(peer: peer, context: context)
                handler.process(context: context)
            }
        }
    }

    private func establish(peer: NoisePublicKey, context: ChannelHandlerContext) {
        state = .established
        timer?.cancel()
        timer = nil
        if case .responder(_, let limits) = role, let limits, let address = pendingAddress {
            limits.endHandshake(from: address)
            pendingAddress = nil
        }
        if case .responder = role {
            // A responder cuts links that outlived what initiators should let them (they replace
            // theirs at maxLinkAge).
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(2 * settings.maxLinkAge * 1e9))) {
                loopBound.value.close(promise: nil)
            }
        }
        let handedOver = handsOverSending ? sealer : nil
        // From now on the owner seals: writes made while the event travels pass through.
        if handsOverSending { sealer = nil }
        context.fireUserInboundEventTriggered(NoiseLinkEstablished(peer: peer, sealer: handedOver))
        let writes = pendingWrites
        pendingWrites.removeAll()
        for (buffer, promise) in writes { write(buffer, promise: promise, context: context) }
        if flushPending {
            flushPending = false
            context.flush()
        }
    }

    /// Decrypts the next message where it lies and fires its plaintext; false once the link failed.
    private func readTransportMessage(length: Int, context: ChannelHandlerContext) -> Bool {
        guard let opener else { return false }
        let start = inbound.readerIndex + NoiseLinkFormat.lengthPrefixBytes
        let result: Result<Int, NoiseError> = inbound.withUnsafeMutableReadableBytes { bytes in
            let message = UnsafeMutableRawBufferPointer(rebasing: bytes[NoiseLinkFormat.lengthPrefixBytes..<(NoiseLinkFormat.lengthPrefixBytes + length)])
            return Result { () throws(NoiseError) -> Int in try opener.open(message) }
        }
        guard case .success(let plaintext) = result else {
            fail(.decryptionFailed, context: context)
            return false
        }
        let slice = inbound.getSlice(at: start, length: plaintext)!
        inbound.moveReaderIndex(forwardBy: NoiseLinkFormat.lengthPrefixBytes + length)
        context.fireChannelRead(wrapInboundOut(slice))
        if case .failed = state { return false }
        return true
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
    }

    // MARK: writing

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        write(unwrapOutboundIn(data), promise: promise, context: context)
    }

    private func write(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        switch state {
        case .established:
            guard let sealer else {
                // The owner seals (or this is a handshake message): pass it through.
                context.write(wrapOutboundOut(buffer), promise: promise)
                return
            }
            // Every message of the write in one buffer, sealed where it lies: one write below.
            var plaintext = buffer
            let messages = max(1, (plaintext.readableBytes + NoiseLinkFormat.maxPlaintextBytes - 1) / NoiseLinkFormat.maxPlaintextBytes)
            var sealed = context.channel.allocator.buffer(capacity: plaintext.readableBytes + messages * NoiseLinkFormat.overheadBytes)
            do {
                repeat {
                    var part = plaintext.readSlice(length: min(plaintext.readableBytes, NoiseLinkFormat.maxPlaintextBytes))!
                    try sealer.appendSealed(to: &sealed) { $0.writeBuffer(&part) }
                } while plaintext.readableBytes > 0
                context.write(wrapOutboundOut(sealed), promise: promise)
            } catch {
                promise?.fail(error)
                fail(.handshakeFailed, context: context)
            }
        case .idle, .handshaking, .authorizing:
            guard pendingWrites.count < Self.pendingWriteLimit else {
                promise?.fail(ChannelError.outputClosed)
                return
            }
            pendingWrites.append((buffer, promise))
        case .failed:
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        if case .established = state {
            context.flush()
        } else {
            flushPending = true
        }
    }
}

/// Takes each plaintext of a packet link apart into exactly one wire frame: a message that does
/// not hold one whole frame, and nothing else, breaks the framing like a bad frame would.
public final class WireFrameUnpacker: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = WireFrame

    private let decoder: WireFrameDecoder

    public init(packetBytes: Int) {
        decoder = WireFrameDecoder(packetBytes: packetBytes)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var plaintext = unwrapInboundIn(data)
        do {
            guard let frame = try decoder.decodeFrame(from: &plaintext) else {
                throw WireProtocolError.truncatedFrame(bytes: plaintext.readableBytes)
            }
            guard plaintext.readableBytes == 0 else {
                throw WireProtocolError.badBodyLength(type: frame.type, length: frame.body.readableBytes + plaintext.readableBytes)
            }
            context.fireChannelRead(wrapInboundOut(frame))
        } catch {
            context.fireErrorCaught(error)
        }
    }
}

/// Completes `established` with the peer's key once the link's handshake is done, or fails it
/// with the link's error (or `ChannelError.ioOnClosedChannel`) if the connection ends first:
/// what a caller waits on before it treats a new link as up.
public final class LinkEstablishmentWatcher: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = Any
    public typealias InboundOut = Any

    private let promise: EventLoopPromise<NoisePublicKey>

    public init(promise: EventLoopPromise<NoisePublicKey>) { self.promise = promise }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let established = event as? NoiseLinkEstablished { promise.succeed(established.peer) }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.fireErrorCaught(error)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        promise.fail(ChannelError.ioOnClosedChannel)
    }
}
