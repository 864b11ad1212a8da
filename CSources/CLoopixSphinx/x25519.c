/* Library set-up, the X25519 backends (libsodium and libcrypto) and the
 * choice between them. This is the only file that knows about more than one
 * backend. */
#include "lsx_internal.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static atomic_int backend_state = 0;  /* 0: not initialised, else an lsx_backend */

int lsxi_initialized(void) { return atomic_load_explicit(&backend_state, memory_order_acquire) != 0; }

lsx_backend lsxi_active_backend(void) {
    int b = atomic_load_explicit(&backend_state, memory_order_acquire);
    return b == 0 ? LSX_BACKEND_SODIUM : (lsx_backend)b;
}

lsx_backend lsx_get_backend(void) { return lsxi_active_backend(); }

const char *lsx_backend_name(lsx_backend backend) {
    switch (backend) {
    case LSX_BACKEND_AUTO: return "auto";
    case LSX_BACKEND_SODIUM: return "sodium";
    case LSX_BACKEND_LIBCRYPTO: return "libcrypto";
    default: return "unknown";
    }
}

/* ---- libcrypto ---- */

static int evp_derive(uint8_t shared[LSXI_POINT_BYTES], EVP_PKEY *private_key, const uint8_t point[LSXI_POINT_BYTES]) {
    int rc = LSX_ERR_BACKEND;
    size_t shared_len = LSXI_POINT_BYTES;
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, point, LSXI_POINT_BYTES);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(private_key, NULL);
    if (peer != NULL && ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
        EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1) {
        /* OpenSSL refuses an all-zero shared secret, as the spec requires. */
        rc = (EVP_PKEY_derive(ctx, shared, &shared_len) == 1 && shared_len == LSXI_POINT_BYTES) ? LSX_OK
                                                                                                 : LSX_ERR_LOW_ORDER;
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    if (rc != LSX_OK) sodium_memzero(shared, LSXI_POINT_BYTES);
    return rc;
}

/* A private key object for a one-off scalar. EVP_PKEY_new_raw_private_key
 * would compute the matching public key, a whole base-point multiplication
 * that X25519 derivation never reads; importing the scalar together with a
 * placeholder public key (the peer's point) skips it. */
static EVP_PKEY *evp_scalar_key(const uint8_t scalar[LSXI_SCALAR_BYTES],
                                const uint8_t placeholder_public[LSXI_POINT_BYTES]) {
    EVP_PKEY *key = NULL;
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, (void *)scalar, LSXI_SCALAR_BYTES);
    params[1] =
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)placeholder_public, LSXI_POINT_BYTES);
    params[2] = OSSL_PARAM_construct_end();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static int evp_x25519(uint8_t shared[LSXI_POINT_BYTES], const uint8_t scalar[LSXI_SCALAR_BYTES],
                      const uint8_t point[LSXI_POINT_BYTES]) {
    EVP_PKEY *key = evp_scalar_key(scalar, point);
    if (key == NULL) return LSX_ERR_BACKEND;
    int rc = evp_derive(shared, key, point);
    EVP_PKEY_free(key); /* OpenSSL clears private key material when it frees it */
    return rc;
}

/* ---- dispatch ---- */

int lsxi_x25519(uint8_t shared[LSXI_POINT_BYTES], lsx_backend backend, const uint8_t scalar[LSXI_SCALAR_BYTES],
                const uint8_t point[LSXI_POINT_BYTES]) {
    if (backend == LSX_BACKEND_LIBCRYPTO) return evp_x25519(shared, scalar, point);
    /* libsodium writes the result while still reading the point, so `shared`
     * may not alias it: go through a temporary. It returns -1 for an
     * all-zero result (a low-order point). */
    uint8_t result[LSXI_POINT_BYTES];
    int rc = crypto_scalarmult(result, scalar, point) == 0 ? LSX_OK : LSX_ERR_LOW_ORDER;
    memcpy(shared, result, sizeof result);
    sodium_memzero(result, sizeof result);
    return rc;
}

int lsxi_x25519_key_init(lsxi_x25519_key *key, lsx_backend backend, const uint8_t secret[LSXI_SCALAR_BYTES]) {
    key->backend = backend;
    key->evp_key = NULL;
    if (backend == LSX_BACKEND_LIBCRYPTO) {
        key->evp_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, secret, LSXI_SCALAR_BYTES);
        if (key->evp_key == NULL) return LSX_ERR_BACKEND;
    }
    return LSX_OK;
}

void lsxi_x25519_key_free(lsxi_x25519_key *key) {
    if (key->evp_key != NULL) EVP_PKEY_free((EVP_PKEY *)key->evp_key);
    key->evp_key = NULL;
}

int lsxi_x25519_with_key(uint8_t shared[LSXI_POINT_BYTES], const lsxi_x25519_key *key,
                         const uint8_t secret[LSXI_SCALAR_BYTES], const uint8_t point[LSXI_POINT_BYTES]) {
    if (key->backend == LSX_BACKEND_LIBCRYPTO) return evp_derive(shared, (EVP_PKEY *)key->evp_key, point);
    return lsxi_x25519(shared, LSX_BACKEND_SODIUM, secret, point);
}

/* ---- choosing a backend ---- */

/* AUTO's measurement: the best of a few short interleaved runs per backend,
 * and the margin by which libcrypto must beat libsodium, the default. */
#define LSXI_AUTO_RUNS 3
#define LSXI_AUTO_ROUNDS 24
#define LSXI_AUTO_MARGIN 0.95
#define LSXI_NEVER 1e9 /* seconds: what a backend that fails takes */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds for `rounds` of what processing a packet costs in X25519: one
 * multiplication by a prebuilt node key and one by a fresh blinding scalar. */
static double time_backend(lsx_backend backend, int rounds) {
    uint8_t secret[LSXI_SCALAR_BYTES], point[LSXI_POINT_BYTES], shared[LSXI_POINT_BYTES];
    lsxi_x25519_key key;
    double start, elapsed;
    randombytes_buf(secret, sizeof secret);
    if (crypto_scalarmult_base(point, secret) != 0 || lsxi_x25519_key_init(&key, backend, secret) != LSX_OK)
        return LSXI_NEVER;
    start = now();
    for (int i = 0; i < rounds; i++) {
        if (lsxi_x25519_with_key(shared, &key, secret, point) != LSX_OK ||
            lsxi_x25519(point, backend, shared, point) != LSX_OK) {
            elapsed = LSXI_NEVER;
            goto done;
        }
    }
    elapsed = now() - start;
done:
    lsxi_x25519_key_free(&key);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(shared, sizeof shared);
    return elapsed;
}

static lsx_backend measure_fastest(void) {
    double best_sodium = LSXI_NEVER, best_libcrypto = LSXI_NEVER;
    /* Interleaved, so that noise on a shared machine hurts both alike. */
    for (int i = 0; i < LSXI_AUTO_RUNS; i++) {
        double s = time_backend(LSX_BACKEND_SODIUM, LSXI_AUTO_ROUNDS);
        double c = time_backend(LSX_BACKEND_LIBCRYPTO, LSXI_AUTO_ROUNDS);
        if (s < best_sodium) best_sodium = s;
        if (c < best_libcrypto) best_libcrypto = c;
    }
    return best_libcrypto < LSXI_AUTO_MARGIN * best_sodium ? LSX_BACKEND_LIBCRYPTO : LSX_BACKEND_SODIUM;
}

static lsx_backend resolve(lsx_backend requested) {
    return requested == LSX_BACKEND_AUTO ? measure_fastest() : requested;
}

int lsx_set_backend(lsx_backend backend) {
    if (backend != LSX_BACKEND_AUTO && backend != LSX_BACKEND_SODIUM && backend != LSX_BACKEND_LIBCRYPTO)
        return LSX_ERR_ARGUMENT;
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    atomic_store_explicit(&backend_state, (int)resolve(backend), memory_order_release);
    return LSX_OK;
}

int lsx_init(void) {
    if (lsxi_initialized()) return LSX_OK;
    if (sodium_init() < 0) return LSX_ERR_BACKEND;
    lsx_backend requested = LSX_BACKEND_AUTO;
    const char *env = getenv("LOOPIX_SPHINX_BACKEND");
    if (env != NULL && env[0] != '\0') {
        if (strcmp(env, "sodium") == 0) requested = LSX_BACKEND_SODIUM;
        else if (strcmp(env, "libcrypto") == 0) requested = LSX_BACKEND_LIBCRYPTO;
        else if (strcmp(env, "auto") == 0) requested = LSX_BACKEND_AUTO;
        else return LSX_ERR_ARGUMENT;
    }
    lsx_backend chosen = resolve(requested);
    int expected = 0;
    /* Two threads racing here both measured; the first to finish wins. */
    atomic_compare_exchange_strong(&backend_state, &expected, (int)chosen);
    return LSX_OK;
}
