/* The X25519 KEM of the KEM suite (docs/packet-format-kem.md section 3):
 * ct = X25519_BASE(seed), and a shared secret that hashes the Diffie-Hellman
 * value with the ciphertext and the node's public key, so that every other
 * encoding of the same point decapsulates to an unrelated secret. */
#include "lsx_internal.h"

#define LSXI_KEM_HASH_INPUT_BYTES (LSX_KEM_X25519_CIPHERTEXT_BYTES + LSX_KEY_BYTES) /* ct || pk */

/* The 16 bytes of the personalisation, without a terminating zero. */
static const uint8_t kem_hash_personal[crypto_generichash_blake2b_PERSONALBYTES] = {
    'L', 'O', 'O', 'P', 'I', 'X', '-', 'X', '2', '5', '5', '1', '9', 'K', 'E', 'M'};

/* p = 2^255 - 19 in little-endian bytes: a canonical encoding is below it. */
static const uint8_t field_prime[LSX_KEM_X25519_CIPHERTEXT_BYTES] = {
    0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};

_Static_assert(LSX_KEM_X25519_CIPHERTEXT_BYTES == LSXI_POINT_BYTES && LSX_KEM_X25519_SEED_BYTES == LSXI_SCALAR_BYTES,
               "an encapsulation is an X25519 public key made from a scalar");
_Static_assert(LSXI_SHARED_BYTES >= crypto_generichash_blake2b_BYTES_MIN &&
                   LSXI_SHARED_BYTES <= crypto_generichash_blake2b_BYTES_MAX &&
                   LSXI_POINT_BYTES <= crypto_generichash_blake2b_KEYBYTES_MAX,
               "KEM_HASH: a BLAKE2b output keyed with an X25519 result");

/* KEM_HASH(dh, ct, pk) = BLAKE2b-256 of ct || pk, keyed with dh, salt zero,
 * personalisation "LOOPIX-X25519KEM". */
static void kem_hash(uint8_t shared[LSXI_SHARED_BYTES], const uint8_t dh[LSXI_POINT_BYTES],
                     const uint8_t ciphertext[LSX_KEM_X25519_CIPHERTEXT_BYTES],
                     const uint8_t public_key[LSX_KEY_BYTES]) {
    uint8_t input[LSXI_KEM_HASH_INPUT_BYTES];
    memcpy(input, ciphertext, LSX_KEM_X25519_CIPHERTEXT_BYTES);
    memcpy(input + LSX_KEM_X25519_CIPHERTEXT_BYTES, public_key, LSX_KEY_BYTES);
    /* Fails only for sizes out of range, which the assertions above exclude. */
    (void)crypto_generichash_blake2b_salt_personal(shared, LSXI_SHARED_BYTES, input, sizeof input, dh,
                                                   LSXI_POINT_BYTES, NULL, kem_hash_personal);
}

static int encap(uint8_t *ciphertext, uint8_t shared[LSXI_SHARED_BYTES], lsx_backend backend,
                 const uint8_t *public_key, const uint8_t *seed) {
    uint8_t dh[LSXI_POINT_BYTES];
    int rc = lsxi_x25519_base(ciphertext, seed);
    if (rc == LSX_OK) rc = lsxi_x25519(dh, backend, seed, public_key);
    if (rc == LSX_OK) kem_hash(shared, dh, ciphertext, public_key);
    sodium_memzero(dh, sizeof dh);
    return rc;
}

/* LE(ct) < p. The bytes are public, so the comparison may stop early. */
static int check(const uint8_t *ciphertext) {
    for (size_t i = LSX_KEM_X25519_CIPHERTEXT_BYTES; i-- > 0;)
        if (ciphertext[i] != field_prime[i])
            return ciphertext[i] < field_prime[i] ? LSX_OK : LSX_ERR_NONCANONICAL_ALPHA;
    return LSX_ERR_NONCANONICAL_ALPHA; /* p itself */
}

static int decap(uint8_t shared[LSXI_SHARED_BYTES], const struct lsx_node *node, const uint8_t *ciphertext) {
    uint8_t dh[LSXI_POINT_BYTES];
    int rc = lsxi_x25519_with_key(dh, &node->key, node->secret_key, ciphertext);
    if (rc == LSX_OK) kem_hash(shared, dh, ciphertext, node->public_key);
    sodium_memzero(dh, sizeof dh);
    return rc;
}

/* A real encapsulation is X25519_BASE of a uniform seed; so is a dummy's. */
static int dummy(uint8_t *ciphertext, const uint8_t *seed) { return lsxi_x25519_base(ciphertext, seed); }

const lsxi_kem lsxi_kem_x25519 = {
    .public_key_bytes = LSX_KEY_BYTES,
    .secret_key_bytes = LSX_KEY_BYTES,
    .ciphertext_bytes = LSX_KEM_X25519_CIPHERTEXT_BYTES,
    .seed_bytes = LSX_KEM_X25519_SEED_BYTES,
    .encap = encap,
    .check = check,
    .decap = decap,
    .dummy = dummy,
};
