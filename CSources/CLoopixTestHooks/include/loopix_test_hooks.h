/*
 * loopix_test_hooks.h - what only tests may do to the Noise core: fix an
 * ephemeral key (to reproduce published vectors), set a nonce (to reach
 * exhaustion) and read a cipher key (to check REKEY against its definition).
 *
 * A separate library: the production library neither contains nor exports
 * these functions, and nothing but tests, the vector runner and the fuzz
 * targets link it. A fixed ephemeral key in production would make every
 * session's keys predictable.
 */
#ifndef LOOPIX_TEST_HOOKS_H
#define LOOPIX_TEST_HOOKS_H

#include "loopix_noise.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Makes the handshake's next "e" token use this secret instead of a fresh
 * one. Only before this side has written its ephemeral key
 * (LSX_ERR_NOISE_STATE otherwise). */
LSX_MUST_USE int lsx_test_noise_fix_ephemeral(lsx_noise_handshake *handshake,
                                              const uint8_t secret_key[LSX_NOISE_SECRET_KEY_BYTES]);
/* Sets the nonce the cipher uses next (Noise's SetNonce). */
LSX_MUST_USE int lsx_test_noise_cipher_set_nonce(lsx_noise_cipher *cipher, uint64_t nonce);
/* Copies the cipher's current key. */
LSX_MUST_USE int lsx_test_noise_cipher_key(uint8_t key[LSX_NOISE_KEY_BYTES], const lsx_noise_cipher *cipher);

#ifdef __cplusplus
}
#endif
#endif /* LOOPIX_TEST_HOOKS_H */
