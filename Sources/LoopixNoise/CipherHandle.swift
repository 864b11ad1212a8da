// Ownership of one C transport cipher, shared by the sending and receiving wrappers.
internal import CLoopixSphinx

/// Owns an `lsx_noise_cipher` and destroys it (wiping its key) on deinit.
final class CipherHandle {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { lsx_noise_cipher_destroy(pointer) }

    var nonce: UInt64 { lsx_noise_cipher_nonce(pointer) }

    func rekey() throws(NoiseError) { try check(lsx_noise_cipher_rekey(pointer)) }
}
