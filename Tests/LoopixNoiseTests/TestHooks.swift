// The C test hooks, reached through the wrapper's internals: fixed ephemeral keys, nonces, cipher keys.
import CLoopixTestHooks
@testable import LoopixNoise

extension NoiseHandshake {
    /// Makes this side's next ephemeral key the given secret, as published vectors require.
    func fixEphemeralKey(_ secret: [UInt8]) throws(NoiseError) {
        try check(lsx_test_noise_fix_ephemeral(pointer, secret))
    }
}

extension NoiseSendingCipher {
    func setNonce(_ nonce: UInt64) throws(NoiseError) { try check(lsx_test_noise_cipher_set_nonce(handle.pointer, nonce)) }
    var key: [UInt8] {
        var key = [UInt8](repeating: 0, count: 32)
        precondition(lsx_test_noise_cipher_key(&key, handle.pointer) == 0)
        return key
    }
}

extension NoiseReceivingCipher {
    func setNonce(_ nonce: UInt64) throws(NoiseError) { try check(lsx_test_noise_cipher_set_nonce(handle.pointer, nonce)) }
}

/// Bytes from hexadecimal; the vectors are ours, so a bad digit is a test bug.
func hex(_ string: String) -> [UInt8] {
    let digits = Array(string.utf8)
    precondition(digits.count % 2 == 0, "odd hex length")
    func value(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: preconditionFailure("not a hex digit")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
}
