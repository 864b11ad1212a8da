/* Transport ciphers: one direction of a split handshake, encrypting or
 * decrypting frames in place, on the per-frame path (no allocation). */
#include "noise_internal.h"

#include <stdlib.h>

lsx_noise_cipher *lsxi_noise_cipher_create(const uint8_t key[LSX_NOISE_KEY_BYTES], lsxi_noise_direction direction) {
    lsx_noise_cipher *cipher = calloc(1, sizeof *cipher);
    if (cipher == NULL) return NULL;
    lsxi_noise_cipher_init_key(&cipher->state, key);
    cipher->direction = direction;
    return cipher;
}

void lsx_noise_cipher_destroy(lsx_noise_cipher *cipher) {
    if (cipher == NULL) return;
    sodium_memzero(cipher, sizeof *cipher);
    free(cipher);
}

/* A cipher that saw a forged message keeps nothing that could decrypt another. */
static int end(lsx_noise_cipher *cipher, int rc) {
    sodium_memzero(&cipher->state, sizeof cipher->state);
    cipher->ended = 1;
    return rc;
}

static int usable(const lsx_noise_cipher *cipher, lsxi_noise_direction direction) {
    return !cipher->ended && cipher->direction == direction;
}

int lsx_noise_cipher_encrypt(uint8_t *frame, size_t frame_capacity, size_t *frame_len, lsx_noise_cipher *cipher,
                             size_t plaintext_len) {
    if (frame == NULL || frame_len == NULL || cipher == NULL) return LSX_ERR_ARGUMENT;
    if (!usable(cipher, LSXI_NOISE_SENDS)) return LSX_ERR_NOISE_STATE;
    if (plaintext_len > LSX_NOISE_MAX_PLAINTEXT_BYTES || frame_capacity < LSX_NOISE_TRANSPORT_BYTES(plaintext_len))
        return LSX_ERR_LENGTH;
    int rc = lsxi_noise_encrypt_with_ad(frame, &cipher->state, NULL, 0, frame, plaintext_len);
    if (rc != LSX_OK) return rc;
    *frame_len = LSX_NOISE_TRANSPORT_BYTES(plaintext_len);
    return LSX_OK;
}

int lsx_noise_cipher_decrypt(uint8_t *frame, size_t *plaintext_len, lsx_noise_cipher *cipher, size_t frame_len) {
    if (frame == NULL || plaintext_len == NULL || cipher == NULL) return LSX_ERR_ARGUMENT;
    if (!usable(cipher, LSXI_NOISE_RECEIVES)) return LSX_ERR_NOISE_STATE;
    if (cipher->state.n == LSX_NOISE_RESERVED_NONCE) return LSX_ERR_NONCE_EXHAUSTED;
    if (frame_len < LSX_NOISE_TAG_BYTES || frame_len > LSX_NOISE_MAX_MESSAGE_BYTES) return end(cipher, LSX_ERR_LENGTH);
    int rc = lsxi_noise_decrypt_with_ad(frame, &cipher->state, NULL, 0, frame, frame_len);
    if (rc != LSX_OK) return end(cipher, rc);
    *plaintext_len = frame_len - LSX_NOISE_TAG_BYTES;
    return LSX_OK;
}

int lsx_noise_cipher_rekey(lsx_noise_cipher *cipher) {
    if (cipher == NULL) return LSX_ERR_ARGUMENT;
    if (cipher->ended || cipher->direction == LSXI_NOISE_UNUSED) return LSX_ERR_NOISE_STATE;
    lsxi_noise_rekey(&cipher->state);
    return LSX_OK;
}

uint64_t lsx_noise_cipher_nonce(const lsx_noise_cipher *cipher) {
    return cipher == NULL || cipher->ended ? LSX_NOISE_RESERVED_NONCE : cipher->state.n;
}
