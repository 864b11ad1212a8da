/* The Noise CipherState and SymmetricState (specification sections 4 and 5)
 * on ChaCha20-Poly1305 (IETF) and BLAKE2b, with HMAC and HKDF built on BLAKE2b:
 * libsodium's keyed BLAKE2b is a different construction from HMAC. */
#include "noise_internal.h"

#define HMAC_INNER_PAD 0x36
#define HMAC_OUTER_PAD 0x5c
/* HKDF's output counters. */
#define HKDF_FIRST 0x01
#define HKDF_SECOND 0x02
#define HKDF_THIRD 0x03

/* ---- HASH, HMAC-HASH, HKDF ---- */

static void hash_padded_key(crypto_generichash_state *state, const uint8_t key[LSX_NOISE_HASH_BYTES], uint8_t pad) {
    uint8_t block[LSX_NOISE_HASH_BLOCK_BYTES];
    memset(block, pad, sizeof block);
    for (size_t i = 0; i < LSX_NOISE_HASH_BYTES; i++) block[i] ^= key[i];
    /* BLAKE2b's init and update cannot fail for these lengths. */
    (void)crypto_generichash_init(state, NULL, 0, LSX_NOISE_HASH_BYTES);
    (void)crypto_generichash_update(state, block, sizeof block);
    sodium_memzero(block, sizeof block);
}

void lsxi_noise_hmac(uint8_t out[LSX_NOISE_HASH_BYTES], const uint8_t key[LSX_NOISE_HASH_BYTES], const uint8_t *data1,
                     size_t data1_len, const uint8_t *data2, size_t data2_len) {
    crypto_generichash_state state;
    uint8_t inner[LSX_NOISE_HASH_BYTES];
    hash_padded_key(&state, key, HMAC_INNER_PAD);
    if (data1_len > 0) (void)crypto_generichash_update(&state, data1, data1_len);
    if (data2_len > 0) (void)crypto_generichash_update(&state, data2, data2_len);
    (void)crypto_generichash_final(&state, inner, sizeof inner);
    hash_padded_key(&state, key, HMAC_OUTER_PAD);
    (void)crypto_generichash_update(&state, inner, sizeof inner);
    (void)crypto_generichash_final(&state, out, LSX_NOISE_HASH_BYTES);
    sodium_memzero(inner, sizeof inner);
    sodium_memzero(&state, sizeof state);
}

void lsxi_noise_hkdf(uint8_t out1[LSX_NOISE_HASH_BYTES], uint8_t out2[LSX_NOISE_HASH_BYTES],
                     uint8_t out3[LSX_NOISE_HASH_BYTES], const uint8_t chaining_key[LSX_NOISE_HASH_BYTES],
                     const uint8_t *ikm, size_t ikm_len) {
    /* Outputs go through temporaries: callers pass their chaining key as out1. */
    uint8_t temp_key[LSX_NOISE_HASH_BYTES], o1[LSX_NOISE_HASH_BYTES], o2[LSX_NOISE_HASH_BYTES];
    const uint8_t first = HKDF_FIRST, second = HKDF_SECOND, third = HKDF_THIRD;
    lsxi_noise_hmac(temp_key, chaining_key, ikm, ikm_len, NULL, 0);
    lsxi_noise_hmac(o1, temp_key, &first, 1, NULL, 0);
    lsxi_noise_hmac(o2, temp_key, o1, sizeof o1, &second, 1);
    if (out3 != NULL) lsxi_noise_hmac(out3, temp_key, o2, sizeof o2, &third, 1);
    memcpy(out1, o1, sizeof o1);
    memcpy(out2, o2, sizeof o2);
    sodium_memzero(temp_key, sizeof temp_key);
    sodium_memzero(o1, sizeof o1);
    sodium_memzero(o2, sizeof o2);
}

/* ---- CipherState ---- */

static void nonce_bytes(uint8_t nonce[LSX_NOISE_NONCE_BYTES], uint64_t n) {
    memset(nonce, 0, LSX_NOISE_NONCE_PREFIX_BYTES);
    for (size_t i = 0; i < 8; i++) nonce[LSX_NOISE_NONCE_PREFIX_BYTES + i] = (uint8_t)(n >> (8 * i));
}

void lsxi_noise_cipher_init_key(lsxi_noise_cipher_state *cipher, const uint8_t key[LSX_NOISE_KEY_BYTES]) {
    memcpy(cipher->k, key, LSX_NOISE_KEY_BYTES);
    cipher->n = 0;
    cipher->has_key = 1;
}

/* Before the first key, "encryption" copies (the spec's handshake messages without a key). */
static int copy_without_key(uint8_t *out, const uint8_t *in, size_t len) {
    if (len > 0 && out != in) memmove(out, in, len);
    return LSX_OK;
}

int lsxi_noise_encrypt_with_ad(uint8_t *out, lsxi_noise_cipher_state *cipher, const uint8_t *ad, size_t ad_len,
                               const uint8_t *in, size_t len) {
    uint8_t nonce[LSX_NOISE_NONCE_BYTES];
    if (!cipher->has_key) return copy_without_key(out, in, len);
    if (cipher->n == LSX_NOISE_RESERVED_NONCE) return LSX_ERR_NONCE_EXHAUSTED;
    nonce_bytes(nonce, cipher->n);
    /* Cannot fail: the lengths are bounded by LSX_NOISE_MAX_MESSAGE_BYTES. */
    (void)crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, len, ad, ad_len, NULL, nonce, cipher->k);
    cipher->n++;
    return LSX_OK;
}

int lsxi_noise_decrypt_with_ad(uint8_t *out, lsxi_noise_cipher_state *cipher, const uint8_t *ad, size_t ad_len,
                               const uint8_t *in, size_t in_len) {
    uint8_t nonce[LSX_NOISE_NONCE_BYTES];
    if (!cipher->has_key) return copy_without_key(out, in, in_len);
    if (cipher->n == LSX_NOISE_RESERVED_NONCE) return LSX_ERR_NONCE_EXHAUSTED;
    if (in_len < LSX_NOISE_TAG_BYTES) return LSX_ERR_LENGTH;
    nonce_bytes(nonce, cipher->n);
    /* libsodium checks the tag in constant time before it decrypts anything. */
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, in, in_len, ad, ad_len, nonce, cipher->k) != 0) {
        if (in_len > LSX_NOISE_TAG_BYTES) sodium_memzero(out, in_len - LSX_NOISE_TAG_BYTES);
        return LSX_ERR_MAC;
    }
    cipher->n++;
    return LSX_OK;
}

void lsxi_noise_rekey(lsxi_noise_cipher_state *cipher) {
    static const uint8_t zeros[LSX_NOISE_KEY_BYTES];
    uint8_t nonce[LSX_NOISE_NONCE_BYTES];
    uint8_t encrypted[LSX_NOISE_KEY_BYTES + LSX_NOISE_TAG_BYTES];
    nonce_bytes(nonce, LSX_NOISE_RESERVED_NONCE);
    (void)crypto_aead_chacha20poly1305_ietf_encrypt(encrypted, NULL, zeros, sizeof zeros, NULL, 0, NULL, nonce,
                                                    cipher->k);
    memcpy(cipher->k, encrypted, LSX_NOISE_KEY_BYTES);
    sodium_memzero(encrypted, sizeof encrypted);
}

/* ---- SymmetricState ---- */

void lsxi_noise_symmetric_init(lsxi_noise_symmetric *symmetric, const char *protocol_name) {
    const size_t len = strlen(protocol_name);
    memset(symmetric, 0, sizeof *symmetric);
    if (len <= LSX_NOISE_HASH_BYTES)
        memcpy(symmetric->h, protocol_name, len);
    else
        (void)crypto_generichash(symmetric->h, LSX_NOISE_HASH_BYTES, (const uint8_t *)protocol_name, len, NULL, 0);
    memcpy(symmetric->ck, symmetric->h, LSX_NOISE_HASH_BYTES);
}

void lsxi_noise_mix_hash(lsxi_noise_symmetric *symmetric, const uint8_t *data, size_t len) {
    crypto_generichash_state state;
    (void)crypto_generichash_init(&state, NULL, 0, LSX_NOISE_HASH_BYTES);
    (void)crypto_generichash_update(&state, symmetric->h, LSX_NOISE_HASH_BYTES);
    if (len > 0) (void)crypto_generichash_update(&state, data, len);
    (void)crypto_generichash_final(&state, symmetric->h, LSX_NOISE_HASH_BYTES);
    sodium_memzero(&state, sizeof state);
}

void lsxi_noise_mix_key(lsxi_noise_symmetric *symmetric, const uint8_t *ikm, size_t ikm_len) {
    uint8_t temp_k[LSX_NOISE_HASH_BYTES];
    lsxi_noise_hkdf(symmetric->ck, temp_k, NULL, symmetric->ck, ikm, ikm_len);
    lsxi_noise_cipher_init_key(&symmetric->cipher, temp_k); /* truncated to the cipher's key length */
    sodium_memzero(temp_k, sizeof temp_k);
}

void lsxi_noise_mix_key_and_hash(lsxi_noise_symmetric *symmetric, const uint8_t *ikm, size_t ikm_len) {
    uint8_t temp_h[LSX_NOISE_HASH_BYTES], temp_k[LSX_NOISE_HASH_BYTES];
    lsxi_noise_hkdf(symmetric->ck, temp_h, temp_k, symmetric->ck, ikm, ikm_len);
    lsxi_noise_mix_hash(symmetric, temp_h, sizeof temp_h);
    lsxi_noise_cipher_init_key(&symmetric->cipher, temp_k);
    sodium_memzero(temp_h, sizeof temp_h);
    sodium_memzero(temp_k, sizeof temp_k);
}

int lsxi_noise_encrypt_and_hash(uint8_t *out, lsxi_noise_symmetric *symmetric, const uint8_t *plaintext, size_t len) {
    const size_t out_len = len + (symmetric->cipher.has_key ? LSX_NOISE_TAG_BYTES : 0);
    int rc = lsxi_noise_encrypt_with_ad(out, &symmetric->cipher, symmetric->h, LSX_NOISE_HASH_BYTES, plaintext, len);
    if (rc != LSX_OK) return rc;
    lsxi_noise_mix_hash(symmetric, out, out_len);
    return LSX_OK;
}

int lsxi_noise_decrypt_and_hash(uint8_t *out, lsxi_noise_symmetric *symmetric, const uint8_t *ciphertext,
                                size_t ciphertext_len) {
    /* h must absorb the ciphertext after it served as associated data. */
    int rc = lsxi_noise_decrypt_with_ad(out, &symmetric->cipher, symmetric->h, LSX_NOISE_HASH_BYTES, ciphertext,
                                        ciphertext_len);
    if (rc != LSX_OK) return rc;
    lsxi_noise_mix_hash(symmetric, ciphertext, ciphertext_len);
    return LSX_OK;
}

void lsxi_noise_symmetric_split(uint8_t initiator_key[LSX_NOISE_KEY_BYTES],
                                uint8_t responder_key[LSX_NOISE_KEY_BYTES], const lsxi_noise_symmetric *symmetric) {
    uint8_t temp_k1[LSX_NOISE_HASH_BYTES], temp_k2[LSX_NOISE_HASH_BYTES];
    lsxi_noise_hkdf(temp_k1, temp_k2, NULL, symmetric->ck, NULL, 0);
    memcpy(initiator_key, temp_k1, LSX_NOISE_KEY_BYTES);
    memcpy(responder_key, temp_k2, LSX_NOISE_KEY_BYTES);
    sodium_memzero(temp_k1, sizeof temp_k1);
    sodium_memzero(temp_k2, sizeof temp_k2);
}
