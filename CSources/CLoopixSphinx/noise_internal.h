/* Internal state of the Noise handshakes and ciphers (noise_*.c), shared with
 * the test hooks that fix ephemeral keys and nonces. Not part of the public API. */
#ifndef LSXI_NOISE_INTERNAL_H
#define LSXI_NOISE_INTERNAL_H

#include "loopix_noise.h"

#include <sodium.h>
#include <string.h>

/* ---- Patterns (noise_patterns.c) ---- */

typedef enum lsxi_noise_token {
    LSXI_NOISE_TOKEN_E = 1,
    LSXI_NOISE_TOKEN_S,
    LSXI_NOISE_TOKEN_EE,
    LSXI_NOISE_TOKEN_ES,
    LSXI_NOISE_TOKEN_SE,
    LSXI_NOISE_TOKEN_SS,
    LSXI_NOISE_TOKEN_PSK
} lsxi_noise_token;

/* The longest patterns of the specification (the deferred ones such as
 * X1X1) have four messages; a psk modifier adds one token to a message. */
#define LSXI_NOISE_MAX_MESSAGES 4
#define LSXI_NOISE_MAX_TOKENS 8
#define LSXI_NOISE_MAX_PSKS (LSXI_NOISE_MAX_MESSAGES + 1) /* psk0 .. psk4 */

/* A handshake pattern with its modifiers applied. Messages alternate,
 * the initiator's first. */
typedef struct lsxi_noise_pattern {
    uint8_t initiator_static_known; /* pre-message "-> s" */
    uint8_t responder_static_known; /* pre-message "<- s" */
    uint8_t one_way;                /* N, K, X: only the initiator ever sends */
    uint8_t psk_count;              /* psk tokens; > 0 puts the handshake in PSK mode */
    uint8_t message_count;
    uint8_t token_count[LSXI_NOISE_MAX_MESSAGES];
    uint8_t tokens[LSXI_NOISE_MAX_MESSAGES][LSXI_NOISE_MAX_TOKENS];
} lsxi_noise_pattern;

/* Parses "Noise_<pattern>_25519_ChaChaPoly_BLAKE2b"; LSX_ERR_NOISE_PROTOCOL
 * for any other suite, an unknown pattern or a modifier other than pskN. */
int lsxi_noise_pattern_parse(lsxi_noise_pattern *pattern, const char *protocol_name);

/* ---- Primitives and the symmetric state (noise_primitives.c) ---- */

typedef struct lsxi_noise_cipher_state {
    uint8_t k[LSX_NOISE_KEY_BYTES];
    uint64_t n;
    uint8_t has_key;
} lsxi_noise_cipher_state;

typedef struct lsxi_noise_symmetric {
    lsxi_noise_cipher_state cipher;
    uint8_t ck[LSX_NOISE_HASH_BYTES];
    uint8_t h[LSX_NOISE_HASH_BYTES];
} lsxi_noise_symmetric;

/* HMAC-BLAKE2b (RFC 2104 with BLOCKLEN 128) over data1 || data2, with a
 * HASHLEN-byte key: the only key length HKDF ever gives it. */
void lsxi_noise_hmac(uint8_t out[LSX_NOISE_HASH_BYTES], const uint8_t key[LSX_NOISE_HASH_BYTES], const uint8_t *data1,
                     size_t data1_len, const uint8_t *data2, size_t data2_len);
/* HKDF(chaining_key, ikm) of the specification: two outputs, or three when out3 is not NULL. */
void lsxi_noise_hkdf(uint8_t out1[LSX_NOISE_HASH_BYTES], uint8_t out2[LSX_NOISE_HASH_BYTES],
                     uint8_t out3[LSX_NOISE_HASH_BYTES], const uint8_t chaining_key[LSX_NOISE_HASH_BYTES],
                     const uint8_t *ikm, size_t ikm_len);

void lsxi_noise_cipher_init_key(lsxi_noise_cipher_state *cipher, const uint8_t key[LSX_NOISE_KEY_BYTES]);
/* EncryptWithAd: out receives len bytes (no key yet) or len + tag. out may
 * equal in. LSX_ERR_NONCE_EXHAUSTED at the reserved nonce. */
int lsxi_noise_encrypt_with_ad(uint8_t *out, lsxi_noise_cipher_state *cipher, const uint8_t *ad, size_t ad_len,
                               const uint8_t *in, size_t len);
/* DecryptWithAd: in_len includes the tag when there is a key; out may equal
 * in. LSX_ERR_MAC (out wiped) when the tag does not verify; the nonce only
 * advances on success. */
int lsxi_noise_decrypt_with_ad(uint8_t *out, lsxi_noise_cipher_state *cipher, const uint8_t *ad, size_t ad_len,
                               const uint8_t *in, size_t in_len);
void lsxi_noise_rekey(lsxi_noise_cipher_state *cipher);

void lsxi_noise_symmetric_init(lsxi_noise_symmetric *symmetric, const char *protocol_name);
void lsxi_noise_mix_hash(lsxi_noise_symmetric *symmetric, const uint8_t *data, size_t len);
void lsxi_noise_mix_key(lsxi_noise_symmetric *symmetric, const uint8_t *ikm, size_t ikm_len);
void lsxi_noise_mix_key_and_hash(lsxi_noise_symmetric *symmetric, const uint8_t *ikm, size_t ikm_len);
int lsxi_noise_encrypt_and_hash(uint8_t *out, lsxi_noise_symmetric *symmetric, const uint8_t *plaintext, size_t len);
int lsxi_noise_decrypt_and_hash(uint8_t *out, lsxi_noise_symmetric *symmetric, const uint8_t *ciphertext,
                                size_t ciphertext_len);
/* The two keys of Split(): initiator to responder, responder to initiator. */
void lsxi_noise_symmetric_split(uint8_t initiator_key[LSX_NOISE_KEY_BYTES],
                                uint8_t responder_key[LSX_NOISE_KEY_BYTES], const lsxi_noise_symmetric *symmetric);

/* ---- Handshakes and ciphers (noise_handshake.c, noise_transport.c) ---- */

typedef struct lsxi_noise_keypair {
    uint8_t secret[LSX_NOISE_SECRET_KEY_BYTES];
    uint8_t public_key[LSX_NOISE_PUBLIC_KEY_BYTES];
    uint8_t present;
} lsxi_noise_keypair;

typedef enum lsxi_noise_status {
    LSXI_NOISE_ACTIVE = 1, /* messages remain */
    LSXI_NOISE_COMPLETE,   /* every message done; not split yet */
    LSXI_NOISE_SPLIT,
    LSXI_NOISE_FAILED
} lsxi_noise_status;

struct lsx_noise_handshake {
    lsxi_noise_symmetric symmetric;
    lsxi_noise_pattern pattern;
    lsx_noise_role role;
    lsxi_noise_status status;
    size_t message_index;
    lsxi_noise_keypair s, e;
    uint8_t rs[LSX_NOISE_PUBLIC_KEY_BYTES], re[LSX_NOISE_PUBLIC_KEY_BYTES];
    uint8_t has_rs, has_re;
    uint8_t psks[LSXI_NOISE_MAX_PSKS][LSX_NOISE_PSK_BYTES];
    size_t psks_used;
    /* Set only by the test hooks (a separate library that production never
     * links): the next "e" token uses the key already in e. */
    uint8_t ephemeral_preset;
};

typedef enum lsxi_noise_direction {
    LSXI_NOISE_UNUSED = 0, /* the direction a one-way pattern never uses */
    LSXI_NOISE_SENDS,
    LSXI_NOISE_RECEIVES
} lsxi_noise_direction;

struct lsx_noise_cipher {
    lsxi_noise_cipher_state state;
    lsxi_noise_direction direction;
    uint8_t ended; /* a message failed to decrypt: the key is wiped */
};

/* A cipher for one direction of a split, or NULL when out of memory. */
lsx_noise_cipher *lsxi_noise_cipher_create(const uint8_t key[LSX_NOISE_KEY_BYTES], lsxi_noise_direction direction);

#endif
