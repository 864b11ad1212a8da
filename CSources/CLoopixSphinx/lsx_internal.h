/* Internal helpers of the Sphinx core: the primitives of spec section 1 and
 * the per-hop key schedule of section 4. Not part of the public API. */
#ifndef LSX_INTERNAL_H
#define LSX_INTERNAL_H

#include "loopix_sphinx.h"

#include <sodium.h>
#include <string.h>

#define LSX_KDF_CONTEXT "LOOPIXv1"
#define LSX_LIONESS_KEY_BYTES 32
#define LSX_PAYLOAD_ZERO_BYTES 16

/* Key derivation ids of spec section 4. */
enum {
    LSX_KDF_HEADER_STREAM = 1,
    LSX_KDF_HEADER_MAC = 2,
    LSX_KDF_PAYLOAD_1 = 3, /* 3..6: LIONESS K1..K4 */
    LSX_KDF_BLINDING = 7,
    LSX_KDF_TAG = 8
};

/* The four LIONESS keys of one hop (or kt of a reply block). */
typedef struct lsx_lioness_keys {
    uint8_t k[4][LSX_LIONESS_KEY_BYTES];
} lsx_lioness_keys;

/* Largest (H+1)*S and H*S buffers any geometry needs. */
#define LSX_MAX_ROUTING_BYTES ((LSX_MAX_HOPS + 1) * LSX_SLOT_BYTES)
#define LSX_MAX_BETA_BYTES (LSX_MAX_HOPS * LSX_SLOT_BYTES)

static inline void lsx_kdf(uint8_t *out, size_t n, uint64_t id, const uint8_t secret[32]) {
    /* crypto_kdf_derive_from_key only fails for out-of-range n; ours are 32. */
    (void)crypto_kdf_derive_from_key(out, n, id, LSX_KDF_CONTEXT, secret);
}

/* STREAM(k, n) XOR-ed into buf (in place): original ChaCha20, zero nonce. */
static inline void lsx_stream_xor(uint8_t *buf, size_t n, const uint8_t key[32]) {
    static const uint8_t zero_nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    (void)crypto_stream_chacha20_xor(buf, buf, (unsigned long long)n, zero_nonce, key);
}

static inline void lsx_stream(uint8_t *out, size_t n, const uint8_t key[32]) {
    static const uint8_t zero_nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    (void)crypto_stream_chacha20(out, (unsigned long long)n, zero_nonce, key);
}

/* MAC(km, 0x01 || beta): keyed BLAKE2b with a native 16-byte output. */
static inline void lsx_header_mac(uint8_t out[LSX_GAMMA_BYTES], const uint8_t key[32], const uint8_t *beta,
                                  size_t beta_len) {
    crypto_generichash_state st;
    static const uint8_t version = LSX_FORMAT_VERSION;
    (void)crypto_generichash_init(&st, key, 32, LSX_GAMMA_BYTES);
    (void)crypto_generichash_update(&st, &version, 1);
    (void)crypto_generichash_update(&st, beta, beta_len);
    (void)crypto_generichash_final(&st, out, LSX_GAMMA_BYTES);
    sodium_memzero(&st, sizeof st);
}

/* ---- X25519 backends (x25519.c) ---- */

/* Backend-specific state of a node key: the libcrypto key object, if any. */
typedef struct lsx_x25519_key {
    lsx_backend backend;
    void *evp_key; /* EVP_PKEY * for LSX_BACKEND_LIBCRYPTO, else NULL */
} lsx_x25519_key;

/* out = X25519(scalar, point) with the given backend; LSX_ERR_LOW_ORDER for
 * an all-zero result. */
int lsx_x25519(lsx_backend backend, uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]);
/* out = X25519(node secret, point) using the node's prebuilt key object. */
int lsx_x25519_with_key(const lsx_x25519_key *key, const uint8_t secret[32], uint8_t out[32],
                        const uint8_t point[32]);
int lsx_x25519_key_init(lsx_x25519_key *key, lsx_backend backend, const uint8_t secret[32]);
void lsx_x25519_key_free(lsx_x25519_key *key);
/* The backend chosen for new packets and nodes. */
lsx_backend lsx_active_backend(void);
int lsx_initialized(void);

/* ---- LIONESS (lioness.c) ---- */

void lsx_lioness_keys_from_secret(lsx_lioness_keys *keys, const uint8_t secret[32]);
void lsx_lioness_encrypt(uint8_t *block, size_t len, const lsx_lioness_keys *keys);
void lsx_lioness_decrypt(uint8_t *block, size_t len, const lsx_lioness_keys *keys);

/* ---- Payload framing (payload.c) ---- */

/* pt = 0^16 || len (2 bytes) || message || zeros. */
void lsx_payload_encode(uint8_t *payload, size_t payload_len, const uint8_t *message, size_t message_len);
/* Checks the zero prefix (constant time) and the length field. */
int lsx_payload_check(const uint8_t *payload, size_t payload_len, size_t *message_offset, size_t *message_len);

/* ---- Headers (sphinx.c) ---- */

int lsx_build_header(const lsx_geometry *geometry, size_t hops, const uint8_t *public_keys, const uint8_t *commands,
                     const uint8_t ephemeral_secret[32], uint8_t *header, lsx_lioness_keys *payload_keys);

#endif
