/* Ed25519 signatures for topology documents and pull requests. */
#include "lsx_internal.h"

size_t lsx_sign_public_key_bytes(void) { return LSX_SIGN_PUBLIC_KEY_BYTES; }
size_t lsx_sign_seed_bytes(void) { return LSX_SIGN_SEED_BYTES; }
size_t lsx_sign_secret_key_bytes(void) { return LSX_SIGN_SECRET_KEY_BYTES; }
size_t lsx_signature_bytes(void) { return LSX_SIGNATURE_BYTES; }

int lsx_sign_keypair(uint8_t public_key[LSX_SIGN_PUBLIC_KEY_BYTES], uint8_t secret_key[LSX_SIGN_SECRET_KEY_BYTES],
                     const uint8_t seed[LSX_SIGN_SEED_BYTES]) {
    if (public_key == NULL || secret_key == NULL) return LSX_ERR_ARGUMENT;
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    int rc = seed != NULL ? crypto_sign_seed_keypair(public_key, secret_key, seed)
                          : crypto_sign_keypair(public_key, secret_key);
    return rc == 0 ? LSX_OK : LSX_ERR_BACKEND;
}

int lsx_sign_seed(uint8_t seed[LSX_SIGN_SEED_BYTES], const uint8_t secret_key[LSX_SIGN_SECRET_KEY_BYTES]) {
    if (seed == NULL || secret_key == NULL) return LSX_ERR_ARGUMENT;
    return crypto_sign_ed25519_sk_to_seed(seed, secret_key) == 0 ? LSX_OK : LSX_ERR_BACKEND;
}

int lsx_sign(uint8_t signature[LSX_SIGNATURE_BYTES], const uint8_t *message, size_t message_len,
             const uint8_t secret_key[LSX_SIGN_SECRET_KEY_BYTES]) {
    if (signature == NULL || secret_key == NULL || (message == NULL && message_len > 0)) return LSX_ERR_ARGUMENT;
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    return crypto_sign_detached(signature, NULL, message, (unsigned long long)message_len, secret_key) == 0
               ? LSX_OK
               : LSX_ERR_BACKEND;
}

int lsx_verify(const uint8_t signature[LSX_SIGNATURE_BYTES], const uint8_t *message, size_t message_len,
               const uint8_t public_key[LSX_SIGN_PUBLIC_KEY_BYTES]) {
    if (signature == NULL || public_key == NULL || (message == NULL && message_len > 0)) return LSX_ERR_ARGUMENT;
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    static const uint8_t empty = 0;
    return crypto_sign_verify_detached(signature, message != NULL ? message : &empty, (unsigned long long)message_len,
                                       public_key) == 0
               ? LSX_OK
               : LSX_ERR_SIGNATURE;
}
