/* The X25519 backends (libsodium and libcrypto) and the choice between them.
 * This is the only file that knows about more than one backend. */
#include "lsx_internal.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static atomic_int lsx_backend_state = 0;  /* 0: not initialised, else an lsx_backend */

int lsx_initialized(void) { return atomic_load_explicit(&lsx_backend_state, memory_order_acquire) != 0; }

lsx_backend lsx_active_backend(void) {
    int b = atomic_load_explicit(&lsx_backend_state, memory_order_acquire);
    return b == 0 ? LSX_BACKEND_SODIUM : (lsx_backend)b;
}

lsx_backend lsx_get_backend(void) { return lsx_active_backend(); }

const char *lsx_backend_name(lsx_backend backend) {
    switch (backend) {
    case LSX_BACKEND_AUTO: return "auto";
    case LSX_BACKEND_SODIUM: return "sodium";
    case LSX_BACKEND_LIBCRYPTO: return "libcrypto";
    default: return "unknown";
    }
}

/* ---- libcrypto ---- */

static int lsx_evp_derive(EVP_PKEY *private_key, uint8_t out[32], const uint8_t point[32]) {
    int rc = LSX_ERR_BACKEND;
    size_t out_len = 32;
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, point, 32);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(private_key, NULL);
    if (peer != NULL && ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
        EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1) {
        /* OpenSSL refuses an all-zero shared secret, as the spec requires. */
        rc = (EVP_PKEY_derive(ctx, out, &out_len) == 1 && out_len == 32) ? LSX_OK : LSX_ERR_LOW_ORDER;
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    if (rc != LSX_OK) sodium_memzero(out, 32);
    return rc;
}

/* A private key object for a one-off scalar. EVP_PKEY_new_raw_private_key
 * would compute the matching public key, a whole base-point multiplication
 * that X25519 derivation never reads; importing the scalar together with a
 * placeholder public key (the peer's point) skips it. */
static EVP_PKEY *lsx_evp_scalar_key(const uint8_t scalar[32], const uint8_t placeholder_public[32]) {
    EVP_PKEY *key = NULL;
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, (void *)scalar, 32);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)placeholder_public, 32);
    params[2] = OSSL_PARAM_construct_end();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static int lsx_evp_x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]) {
    EVP_PKEY *key = lsx_evp_scalar_key(scalar, point);
    if (key == NULL) return LSX_ERR_BACKEND;
    int rc = lsx_evp_derive(key, out, point);
    EVP_PKEY_free(key); /* OpenSSL clears private key material when it frees it */
    return rc;
}

/* ---- dispatch ---- */

int lsx_x25519(lsx_backend backend, uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]) {
    if (backend == LSX_BACKEND_LIBCRYPTO) return lsx_evp_x25519(out, scalar, point);
    /* libsodium writes the result while still reading the point, so `out`
     * may not alias it: go through a temporary. It returns -1 for an
     * all-zero result (a low-order point). */
    uint8_t result[32];
    int rc = crypto_scalarmult(result, scalar, point) == 0 ? LSX_OK : LSX_ERR_LOW_ORDER;
    memcpy(out, result, 32);
    sodium_memzero(result, sizeof result);
    return rc;
}

int lsx_x25519_key_init(lsx_x25519_key *key, lsx_backend backend, const uint8_t secret[32]) {
    key->backend = backend;
    key->evp_key = NULL;
    if (backend == LSX_BACKEND_LIBCRYPTO) {
        key->evp_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret, 32);
        if (key->evp_key == NULL) return LSX_ERR_BACKEND;
    }
    return LSX_OK;
}

void lsx_x25519_key_free(lsx_x25519_key *key) {
    if (key->evp_key != NULL) EVP_PKEY_free((EVP_PKEY *)key->evp_key);
    key->evp_key = NULL;
}

int lsx_x25519_with_key(const lsx_x25519_key *key, const uint8_t secret[32], uint8_t out[32],
                        const uint8_t point[32]) {
    if (key->backend == LSX_BACKEND_LIBCRYPTO) return lsx_evp_derive((EVP_PKEY *)key->evp_key, out, point);
    return lsx_x25519(LSX_BACKEND_SODIUM, out, secret, point);
}

/* ---- choosing a backend ---- */

static double lsx_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds for `rounds` of what processing a packet costs in X25519: one
 * multiplication by a prebuilt node key and one by a fresh blinding scalar. */
static double lsx_time_backend(lsx_backend backend, int rounds) {
    uint8_t secret[32], point[32], out[32];
    lsx_x25519_key key;
    double start, elapsed;
    randombytes_buf(secret, sizeof secret);
    if (crypto_scalarmult_base(point, secret) != 0 || lsx_x25519_key_init(&key, backend, secret) != LSX_OK) return 1e9;
    start = lsx_now();
    for (int i = 0; i < rounds; i++) {
        if (lsx_x25519_with_key(&key, secret, out, point) != LSX_OK || lsx_x25519(backend, point, out, point) != LSX_OK) {
            elapsed = 1e9;
            goto done;
        }
    }
    elapsed = lsx_now() - start;
done:
    lsx_x25519_key_free(&key);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(out, sizeof out);
    return elapsed;
}

static lsx_backend lsx_measure_fastest(void) {
    double best_sodium = 1e9, best_libcrypto = 1e9;
    /* Best of three short runs each, interleaved, so that noise on a shared
     * machine hurts both alike. */
    for (int i = 0; i < 3; i++) {
        double s = lsx_time_backend(LSX_BACKEND_SODIUM, 24);
        double c = lsx_time_backend(LSX_BACKEND_LIBCRYPTO, 24);
        if (s < best_sodium) best_sodium = s;
        if (c < best_libcrypto) best_libcrypto = c;
    }
    /* libsodium is the default: libcrypto must win clearly (5 %). */
    return best_libcrypto < 0.95 * best_sodium ? LSX_BACKEND_LIBCRYPTO : LSX_BACKEND_SODIUM;
}

static lsx_backend lsx_resolve(lsx_backend requested) {
    return requested == LSX_BACKEND_AUTO ? lsx_measure_fastest() : requested;
}

int lsx_set_backend(lsx_backend backend) {
    if (backend != LSX_BACKEND_AUTO && backend != LSX_BACKEND_SODIUM && backend != LSX_BACKEND_LIBCRYPTO)
        return LSX_ERR_ARGUMENT;
    if (!lsx_initialized()) return LSX_ERR_NOT_INITIALIZED;
    atomic_store_explicit(&lsx_backend_state, (int)lsx_resolve(backend), memory_order_release);
    return LSX_OK;
}

int lsx_init(void) {
    if (lsx_initialized()) return LSX_OK;
    if (sodium_init() < 0) return LSX_ERR_BACKEND;
    lsx_backend requested = LSX_BACKEND_AUTO;
    const char *env = getenv("LOOPIX_SPHINX_BACKEND");
    if (env != NULL && env[0] != '\0') {
        if (strcmp(env, "sodium") == 0) requested = LSX_BACKEND_SODIUM;
        else if (strcmp(env, "libcrypto") == 0) requested = LSX_BACKEND_LIBCRYPTO;
        else if (strcmp(env, "auto") == 0) requested = LSX_BACKEND_AUTO;
        else return LSX_ERR_ARGUMENT;
    }
    lsx_backend chosen = lsx_resolve(requested);
    int expected = 0;
    /* Two threads racing here both measured; the first to finish wins. */
    atomic_compare_exchange_strong(&lsx_backend_state, &expected, (int)chosen);
    return LSX_OK;
}
