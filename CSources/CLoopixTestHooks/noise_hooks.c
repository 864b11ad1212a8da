/* The test hooks of loopix_test_hooks.h, reaching into the Noise core's internal state. */
#include "loopix_test_hooks.h"
#include "noise_internal.h"

int lsx_test_noise_fix_ephemeral(lsx_noise_handshake *handshake,
                                 const uint8_t secret_key[LSX_NOISE_SECRET_KEY_BYTES]) {
    if (handshake == NULL || secret_key == NULL) return LSX_ERR_ARGUMENT;
    if (handshake->status != LSXI_NOISE_ACTIVE || handshake->e.present) return LSX_ERR_NOISE_STATE;
    memcpy(handshake->e.secret, secret_key, LSX_NOISE_SECRET_KEY_BYTES);
    if (crypto_scalarmult_base(handshake->e.public_key, handshake->e.secret) != 0) return LSX_ERR_BACKEND;
    handshake->ephemeral_preset = 1;
    return LSX_OK;
}

int lsx_test_noise_cipher_set_nonce(lsx_noise_cipher *cipher, uint64_t nonce) {
    if (cipher == NULL) return LSX_ERR_ARGUMENT;
    cipher->state.n = nonce;
    return LSX_OK;
}

int lsx_test_noise_cipher_key(uint8_t key[LSX_NOISE_KEY_BYTES], const lsx_noise_cipher *cipher) {
    if (key == NULL || cipher == NULL) return LSX_ERR_ARGUMENT;
    memcpy(key, cipher->state.k, LSX_NOISE_KEY_BYTES);
    return LSX_OK;
}
