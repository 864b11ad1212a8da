/* Internal helpers of the Sphinx core: the sizes and offsets of every field
 * inside a header, slot, command, payload and reply block, the primitives of
 * spec section 1, the per-hop key schedule of section 4, and the table of
 * packet suites and KEMs. Not part of the public API: internal functions and types start with `lsxi_`, macros with
 * `LSXI_`, and helpers used by one file are `static` there. */
#ifndef LSXI_INTERNAL_H
#define LSXI_INTERNAL_H

#include "loopix_sphinx.h"

#include <sodium.h>
#include <string.h>

/* ---- Sizes of the primitives (spec section 1) ---- */

/* An X25519 scalar: a secret key, an ephemeral secret, a blinding factor. */
#define LSXI_SCALAR_BYTES LSX_KEY_BYTES
/* An X25519 u-coordinate: a public key, alpha, a shared secret. */
#define LSXI_POINT_BYTES LSX_KEY_BYTES
/* A hop's shared secret (v1's s, a KEM's ss) is the key of every KDF call
 * of that hop; every suite's is this size (KEM spec section 2: Nss). */
#define LSXI_SHARED_BYTES 32
#define LSXI_KDF_KEY_BYTES LSXI_SHARED_BYTES
#define LSXI_STREAM_KEY_BYTES 32 /* kh, and a LIONESS round's L ^ K */
#define LSXI_MAC_KEY_BYTES 32    /* km */
#define LSXI_HASH_BYTES 32       /* H32 */

/* ---- LIONESS (spec section 7) ---- */

#define LSXI_LIONESS_KEYS 4
#define LSXI_LIONESS_KEY_BYTES 32
/* L, the left part of the block: the size of a stream key (L ^ K1 keys a
 * round) and of an H32 digest (which a round XORs into L). */
#define LSXI_LIONESS_LEFT_BYTES LSXI_STREAM_KEY_BYTES

/* ---- Header: version || element || beta || gamma (spec section 3, KEM
 * spec section 5). The element is v1's alpha or the KEM suite's first
 * encapsulation; each offset after it takes the suite. ---- */

#define LSXI_HEADER_VERSION_OFFSET 0
#define LSXI_HEADER_ELEMENT_OFFSET (LSXI_HEADER_VERSION_OFFSET + LSX_FORMAT_VERSION_BYTES)
#define LSXI_HEADER_ALPHA_OFFSET LSXI_HEADER_ELEMENT_OFFSET
#define LSXI_HEADER_BETA_OFFSET(suite) (LSXI_HEADER_ELEMENT_OFFSET + LSX_SUITE_ELEMENT_BYTES(suite))
#define LSXI_HEADER_GAMMA_OFFSET(suite, hops) (LSXI_HEADER_BETA_OFFSET(suite) + LSXI_BETA_BYTES(suite, hops))
/* beta: H slots; a hop decrypts it with one more slot of zeros behind. */
#define LSXI_BETA_BYTES(suite, hops) ((size_t)(hops) * LSX_SUITE_SLOT_BYTES(suite))
#define LSXI_ROUTING_BYTES(suite, hops) (LSXI_BETA_BYTES(suite, hops) + LSX_SUITE_SLOT_BYTES(suite))
/* The largest element, slot, beta, routing buffer and ephemeral randomness
 * any suite and geometry needs. */
#define LSXI_MAX_ELEMENT_BYTES LSX_KEM_X25519_CIPHERTEXT_BYTES
#define LSXI_MAX_SLOT_BYTES LSX_KEM_X25519_SLOT_BYTES
#define LSXI_MAX_BETA_BYTES ((size_t)LSX_MAX_HOPS * LSXI_MAX_SLOT_BYTES)
#define LSXI_MAX_ROUTING_BYTES (LSXI_MAX_BETA_BYTES + LSXI_MAX_SLOT_BYTES)
#define LSXI_MAX_EPHEMERAL_BYTES LSX_SUITE_EPHEMERAL_BYTES(LSX_SUITE_KEM_X25519, LSX_MAX_HOPS)
/* An X25519 public key is below 2^255: the top bit of its last byte is clear
 * in every canonical alpha. */
#define LSXI_ALPHA_TOP_BYTE (LSX_ALPHA_BYTES - 1)
#define LSXI_ALPHA_TOP_BIT 0x80

/* ---- Slot: command || the next hop's gamma || (KEM suite) the next hop's
 * encapsulation ---- */

#define LSXI_SLOT_COMMAND_OFFSET 0
#define LSXI_SLOT_GAMMA_OFFSET (LSXI_SLOT_COMMAND_OFFSET + LSX_COMMAND_BYTES)
#define LSXI_SLOT_ELEMENT_OFFSET (LSXI_SLOT_GAMMA_OFFSET + LSX_GAMMA_BYTES)

/* ---- Command: flag || delay_us || address || reserved ---- */

#define LSXI_COMMAND_FLAG_OFFSET 0
#define LSXI_COMMAND_DELAY_OFFSET (LSXI_COMMAND_FLAG_OFFSET + LSX_COMMAND_FLAG_BYTES)
#define LSXI_COMMAND_ADDRESS_OFFSET (LSXI_COMMAND_DELAY_OFFSET + LSX_COMMAND_DELAY_BYTES)
#define LSXI_COMMAND_RESERVED_OFFSET (LSXI_COMMAND_ADDRESS_OFFSET + LSX_ADDRESS_BYTES)

/* ---- Payload plaintext: zeros || length || message || zeros ---- */

#define LSXI_PAYLOAD_ZERO_OFFSET 0
#define LSXI_PAYLOAD_LENGTH_OFFSET (LSXI_PAYLOAD_ZERO_OFFSET + LSX_PAYLOAD_ZERO_BYTES)
#define LSXI_PAYLOAD_MESSAGE_OFFSET (LSXI_PAYLOAD_LENGTH_OFFSET + LSX_PAYLOAD_LENGTH_BYTES)

/* ---- Reply block: first_hop_id || header || kt (spec section 8) ---- */

#define LSXI_SURB_FIRST_HOP_OFFSET 0
#define LSXI_SURB_HEADER_OFFSET (LSXI_SURB_FIRST_HOP_OFFSET + LSX_ADDRESS_BYTES)
#define LSXI_SURB_REPLY_KEY_OFFSET(suite, hops) (LSXI_SURB_HEADER_OFFSET + LSX_SUITE_HEADER_BYTES(suite, hops))

/* ---- Reply block secret: route length || kt || each hop's payload keys ---- */

#define LSXI_SURB_SECRET_HOPS_OFFSET 0
#define LSXI_SURB_SECRET_REPLY_KEY_OFFSET (LSXI_SURB_SECRET_HOPS_OFFSET + LSX_ROUTE_LENGTH_BYTES)
#define LSXI_SURB_SECRET_HOP_KEYS_OFFSET (LSXI_SURB_SECRET_REPLY_KEY_OFFSET + LSX_REPLY_KEY_BYTES)

/* Key derivation ids of spec section 4 (KEM spec section 7: the same ids,
 * 7 unused). Each suite has its own KDF personalisation. */
enum {
    LSXI_KDF_HEADER_STREAM = 1,
    LSXI_KDF_HEADER_MAC = 2,
    LSXI_KDF_PAYLOAD_1 = 3, /* 3..6: LIONESS K1..K4 */
    LSXI_KDF_BLINDING = 7,  /* v1 only */
    LSXI_KDF_TAG = 8
};
#define LSXI_KDF_CONTEXT_V1 "LOOPIXv1"
#define LSXI_KDF_CONTEXT_KEM_X25519 "LOOPIXk2"


/* The four LIONESS keys of one hop (or kt of a reply block). */
typedef struct lsxi_lioness_keys {
    uint8_t k[LSXI_LIONESS_KEYS][LSXI_LIONESS_KEY_BYTES];
} lsxi_lioness_keys;

/* The sizes above against the primitives that use them and against the
 * public header: a mismatch is a build error, not a wrong packet. */
_Static_assert(LSXI_SCALAR_BYTES == crypto_scalarmult_SCALARBYTES, "X25519 scalar size");
_Static_assert(sizeof LSXI_KDF_CONTEXT_V1 - 1 == crypto_kdf_CONTEXTBYTES &&
                   sizeof LSXI_KDF_CONTEXT_KEM_X25519 - 1 == crypto_kdf_CONTEXTBYTES,
               "KDF personalisations");
_Static_assert(LSXI_POINT_BYTES == crypto_scalarmult_BYTES, "X25519 point size");
_Static_assert(LSXI_KDF_KEY_BYTES == crypto_kdf_KEYBYTES, "KDF key size");
_Static_assert(LSX_TAG_BYTES >= crypto_kdf_BYTES_MIN && LSX_TAG_BYTES <= crypto_kdf_BYTES_MAX, "tag from the KDF");
_Static_assert(LSXI_STREAM_KEY_BYTES == crypto_stream_chacha20_KEYBYTES, "stream key size");
_Static_assert(LSXI_MAC_KEY_BYTES >= crypto_generichash_KEYBYTES_MIN &&
                   LSXI_MAC_KEY_BYTES <= crypto_generichash_KEYBYTES_MAX,
               "MAC key size");
_Static_assert(LSX_GAMMA_BYTES >= crypto_generichash_BYTES_MIN, "MAC output size");
_Static_assert(LSXI_HASH_BYTES == LSXI_LIONESS_LEFT_BYTES, "H32 digest covers L");
_Static_assert(LSXI_STREAM_KEY_BYTES == LSXI_KDF_KEY_BYTES && LSXI_MAC_KEY_BYTES == LSXI_KDF_KEY_BYTES &&
                   LSXI_LIONESS_KEY_BYTES == LSXI_KDF_KEY_BYTES && LSXI_SCALAR_BYTES == LSXI_KDF_KEY_BYTES,
               "every per-hop key is one KDF output of the same size");
_Static_assert(LSXI_SHARED_BYTES == LSXI_POINT_BYTES, "v1's shared secret is an X25519 result");
_Static_assert(LSXI_SHARED_BYTES == LSX_KEM_SHARED_SECRET_BYTES, "a KEM's shared secret is a hop's");
_Static_assert(sizeof(lsxi_lioness_keys) == LSX_REPLY_KEY_BYTES, "kt and a hop's payload keys are four LIONESS keys");
_Static_assert(LSX_MIN_PAYLOAD >= LSX_PAYLOAD_OVERHEAD && LSX_MIN_PAYLOAD > LSXI_LIONESS_LEFT_BYTES,
               "the smallest payload holds the framing and both LIONESS halves");
_Static_assert(LSX_MAX_MESSAGE_BYTES(LSX_MAX_PAYLOAD) < (1 << (8 * LSX_PAYLOAD_LENGTH_BYTES)),
               "the length field holds the longest message");
_Static_assert(LSX_MAX_HOPS < (1 << (8 * LSX_ROUTE_LENGTH_BYTES)), "the route length field holds the longest route");
_Static_assert(LSX_COMMAND_DELAY_BYTES == sizeof(uint32_t), "delay_us is a 32-bit integer");
/* Each layout's last field ends where the public size says the whole ends. */
_Static_assert(LSXI_HEADER_GAMMA_OFFSET(LSX_SUITE_V1, LSX_MAX_HOPS) + LSX_GAMMA_BYTES == LSX_HEADER_BYTES(LSX_MAX_HOPS),
               "header");
_Static_assert(LSX_SUITE_HEADER_BYTES(LSX_SUITE_V1, LSX_MAX_HOPS) == LSX_HEADER_BYTES(LSX_MAX_HOPS) &&
                   LSX_SUITE_SURB_BYTES(LSX_SUITE_V1, LSX_MAX_HOPS) == LSX_SURB_BYTES(LSX_MAX_HOPS) &&
                   LSX_SUITE_SLOT_BYTES(LSX_SUITE_V1) == LSX_SLOT_BYTES &&
                   LSX_SUITE_EPHEMERAL_BYTES(LSX_SUITE_V1, LSX_MAX_HOPS) == LSX_SECRET_BYTES,
               "version 1's sizes, by suite and on their own");
_Static_assert(LSXI_HEADER_GAMMA_OFFSET(LSX_SUITE_KEM_X25519, LSX_MAX_HOPS) + LSX_GAMMA_BYTES ==
                   LSX_SUITE_HEADER_BYTES(LSX_SUITE_KEM_X25519, LSX_MAX_HOPS),
               "KEM header");
_Static_assert(LSXI_SLOT_GAMMA_OFFSET + LSX_GAMMA_BYTES == LSX_SLOT_BYTES, "slot");
_Static_assert(LSXI_SLOT_ELEMENT_OFFSET + LSX_KEM_X25519_CIPHERTEXT_BYTES == LSX_KEM_X25519_SLOT_BYTES, "KEM slot");
_Static_assert(LSX_SUITE_SLOT_BYTES(LSX_SUITE_KEM_X25519) <= LSXI_MAX_SLOT_BYTES &&
                   LSX_SUITE_SLOT_BYTES(LSX_SUITE_V1) <= LSXI_MAX_SLOT_BYTES &&
                   LSX_SUITE_ELEMENT_BYTES(LSX_SUITE_KEM_X25519) <= LSXI_MAX_ELEMENT_BYTES &&
                   LSX_SUITE_ELEMENT_BYTES(LSX_SUITE_V1) <= LSXI_MAX_ELEMENT_BYTES &&
                   LSX_SECRET_BYTES <= LSXI_MAX_EPHEMERAL_BYTES,
               "the largest buffers hold every suite's");
_Static_assert(LSX_SUITE_FORMAT_VERSION(LSX_SUITE_V1) == LSX_SUITE_V1 &&
                   LSX_SUITE_FORMAT_VERSION(LSX_SUITE_KEM_X25519) == LSX_SUITE_KEM_X25519,
               "a suite's value is its version byte");
_Static_assert(LSXI_COMMAND_RESERVED_OFFSET + LSX_COMMAND_RESERVED_BYTES == LSX_COMMAND_BYTES, "command");
_Static_assert(LSXI_PAYLOAD_MESSAGE_OFFSET == LSX_PAYLOAD_OVERHEAD, "payload framing");
_Static_assert(LSXI_SURB_REPLY_KEY_OFFSET(LSX_SUITE_KEM_X25519, LSX_MAX_HOPS) + LSX_REPLY_KEY_BYTES ==
                   LSX_SUITE_SURB_BYTES(LSX_SUITE_KEM_X25519, LSX_MAX_HOPS),
               "reply block");
_Static_assert(LSXI_SURB_SECRET_HOP_KEYS_OFFSET + LSX_MAX_HOPS * sizeof(lsxi_lioness_keys) ==
                   LSX_SURB_SECRET_BYTES(LSX_MAX_HOPS),
               "reply block secret");
_Static_assert(LSX_SIGN_PUBLIC_KEY_BYTES == crypto_sign_PUBLICKEYBYTES && LSX_SIGN_SEED_BYTES == crypto_sign_SEEDBYTES,
               "Ed25519 key sizes");
_Static_assert(LSX_SIGN_SECRET_KEY_BYTES == crypto_sign_SECRETKEYBYTES && LSX_SIGNATURE_BYTES == crypto_sign_BYTES,
               "Ed25519 secret key and signature sizes");

/* Integers on the wire are unsigned big-endian (spec section 1). */
static inline void lsxi_store_be(uint8_t *out, size_t n, uint64_t value) {
    for (size_t i = n; i-- > 0; value >>= 8) out[i] = (uint8_t)value;
}

static inline uint64_t lsxi_load_be(const uint8_t *in, size_t n) {
    uint64_t value = 0;
    for (size_t i = 0; i < n; i++) value = (value << 8) | in[i];
    return value;
}

/* KDF(s, id, n) under a suite's personalisation (crypto_kdf_CONTEXTBYTES characters). */
static inline void lsxi_kdf(uint8_t *out, size_t n, uint64_t id, const uint8_t secret[LSXI_KDF_KEY_BYTES],
                            const char *context) {
    /* crypto_kdf_derive_from_key only fails for out-of-range n; ours are checked above. */
    (void)crypto_kdf_derive_from_key(out, n, id, context, secret);
}

/* STREAM(k, n) XOR-ed into buf (in place): original ChaCha20, zero nonce. */
static inline void lsxi_stream_xor(uint8_t *buf, size_t n, const uint8_t key[LSXI_STREAM_KEY_BYTES]) {
    static const uint8_t zero_nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    (void)crypto_stream_chacha20_xor(buf, buf, (unsigned long long)n, zero_nonce, key);
}

static inline void lsxi_stream(uint8_t *out, size_t n, const uint8_t key[LSXI_STREAM_KEY_BYTES]) {
    static const uint8_t zero_nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    (void)crypto_stream_chacha20(out, (unsigned long long)n, zero_nonce, key);
}

/* MAC(km, version || beta): keyed BLAKE2b with a native LSX_GAMMA_BYTES output. */
static inline void lsxi_header_mac(uint8_t gamma[LSX_GAMMA_BYTES], const uint8_t key[LSXI_MAC_KEY_BYTES],
                                   uint8_t version, const uint8_t *beta, size_t beta_len) {
    crypto_generichash_state st;
    (void)crypto_generichash_init(&st, key, LSXI_MAC_KEY_BYTES, LSX_GAMMA_BYTES);
    (void)crypto_generichash_update(&st, &version, LSX_FORMAT_VERSION_BYTES);
    (void)crypto_generichash_update(&st, beta, beta_len);
    (void)crypto_generichash_final(&st, gamma, LSX_GAMMA_BYTES);
    sodium_memzero(&st, sizeof st);
}

/* ---- X25519 backends (x25519.c) ---- */

/* Backend-specific state of a node key: the libcrypto key object, if any. */
typedef struct lsxi_x25519_key {
    lsx_backend backend;
    void *evp_key; /* EVP_PKEY * for LSX_BACKEND_LIBCRYPTO, else NULL */
} lsxi_x25519_key;

/* point = X25519_BASE(scalar), the same for every backend (x25519_base.c:
 * libsodium's fixed-base Ed25519 table, then the map to the Montgomery u).
 * point may be the same buffer as scalar. */
int lsxi_x25519_base(uint8_t point[LSXI_POINT_BYTES], const uint8_t scalar[LSXI_SCALAR_BYTES]);
/* shared = X25519(scalar, point) with the given backend; LSX_ERR_LOW_ORDER
 * for an all-zero result. shared may be the same buffer as point. */
int lsxi_x25519(uint8_t shared[LSXI_POINT_BYTES], lsx_backend backend, const uint8_t scalar[LSXI_SCALAR_BYTES],
                const uint8_t point[LSXI_POINT_BYTES]);
/* shared = X25519(node secret, point) using the node's prebuilt key object. */
int lsxi_x25519_with_key(uint8_t shared[LSXI_POINT_BYTES], const lsxi_x25519_key *key,
                         const uint8_t secret[LSXI_SCALAR_BYTES], const uint8_t point[LSXI_POINT_BYTES]);
int lsxi_x25519_key_init(lsxi_x25519_key *key, lsx_backend backend, const uint8_t secret[LSXI_SCALAR_BYTES]);
void lsxi_x25519_key_free(lsxi_x25519_key *key);
/* The backend chosen for new packets and nodes. */
lsx_backend lsxi_active_backend(void);
int lsxi_initialized(void);

/* ---- LIONESS and the payload's framing (lioness.c) ---- */

void lsxi_lioness_keys_from_secret(lsxi_lioness_keys *keys, const uint8_t secret[LSXI_KDF_KEY_BYTES],
                                   const char *kdf_context);
void lsxi_lioness_encrypt(uint8_t *block, size_t len, const lsxi_lioness_keys *keys);
void lsxi_lioness_decrypt(uint8_t *block, size_t len, const lsxi_lioness_keys *keys);

/* pt = zeros || length || message || zeros. */
void lsxi_payload_encode(uint8_t *payload, size_t payload_len, const uint8_t *message, size_t message_len);
/* Checks the zero prefix (constant time) and the length field; on success
 * the message is payload[*message_offset .. +*message_len). */
int lsxi_payload_check(size_t *message_offset, size_t *message_len, const uint8_t *payload, size_t payload_len);

/* ---- Packet suites (core.c) and KEMs (kem_x25519.c) ---- */

typedef struct lsxi_suite lsxi_suite;

/* A node: its geometry and suite, its key pair, and the backend's prepared
 * key. Immutable once made (sphinx.c makes it). */
struct lsx_node {
    lsx_geometry geometry;
    const lsxi_suite *suite;
    uint8_t secret_key[LSX_KEY_BYTES];
    uint8_t public_key[LSX_KEY_BYTES];
    lsxi_x25519_key key;
};

/* A key encapsulation mechanism (KEM spec section 2): its sizes and its
 * functions. The packet code calls a KEM only through this table, so that
 * another KEM is one more instance and one more suite. Every KEM's shared
 * secret is LSXI_SHARED_BYTES. */
typedef struct lsxi_kem {
    size_t public_key_bytes, secret_key_bytes, ciphertext_bytes, seed_bytes;
    /* ENCAP(pk, seed) -> (ct, ss), with the backend's X25519 where it has
     * one; LSX_ERR_LOW_ORDER for a public key the KEM refuses. */
    int (*encap)(uint8_t *ciphertext, uint8_t shared[LSXI_SHARED_BYTES], lsx_backend backend,
                 const uint8_t *public_key, const uint8_t *seed);
    /* CHECK(ct): LSX_ERR_NONCANONICAL_ALPHA unless ct is in its one accepted
     * encoding. Reads public bytes only, before any work with a key. */
    int (*check)(const uint8_t *ciphertext);
    /* DECAP(sk, pk, ct) -> ss with the node's key pair and prepared key. */
    int (*decap)(uint8_t shared[LSXI_SHARED_BYTES], const struct lsx_node *node, const uint8_t *ciphertext);
    /* A ciphertext distributed as real ones are, from fresh randomness of
     * seed_bytes (for cover packets). */
    int (*dummy)(uint8_t *ciphertext, const uint8_t *seed);
} lsxi_kem;

extern const lsxi_kem lsxi_kem_x25519;

/* What a packet suite is (KEM spec section 2's table): its id and version
 * byte, its KDF personalisation, its sizes and its KEM; NULL for version 1,
 * which blinds a group element instead. */
struct lsxi_suite {
    lsx_suite id;
    uint8_t version;
    const char *kdf_context; /* crypto_kdf_CONTEXTBYTES characters */
    size_t element_bytes;    /* alpha, or the first hop's encapsulation */
    size_t slot_bytes;       /* command || next gamma || the KEM's next encapsulation */
    const lsxi_kem *kem;
    const char *name;
};

/* The suite a geometry names, or NULL for an unknown one. */
const lsxi_suite *lsxi_suite_of(lsx_suite id);

/* ---- Headers (sphinx.c) ---- */

/* Builds header (lsx_header_bytes(geometry)) for a route and, if
 * payload_keys is not NULL, each hop's LIONESS keys (`hops` of them), from
 * exactly lsx_ephemeral_bytes(geometry, hops) bytes of `ephemeral`. The
 * geometry and the route's length must have been checked; the commands are
 * not checked (tests use that to build headers a node must refuse). */
int lsxi_build_header(uint8_t *header, lsxi_lioness_keys *payload_keys, const lsx_geometry *geometry, size_t hops,
                      const uint8_t *public_keys, const uint8_t *commands, const uint8_t *ephemeral);

#endif
