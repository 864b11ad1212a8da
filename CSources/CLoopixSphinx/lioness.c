/* LIONESS over the payload (spec section 7) and the payload's framing. */
#include "lsx_internal.h"

void lsxi_lioness_keys_from_secret(lsxi_lioness_keys *keys, const uint8_t secret[LSXI_KDF_KEY_BYTES],
                                   const char *kdf_context) {
    for (int i = 0; i < LSXI_LIONESS_KEYS; i++)
        lsxi_kdf(keys->k[i], LSXI_LIONESS_KEY_BYTES, (uint64_t)(LSXI_KDF_PAYLOAD_1 + i), secret, kdf_context);
}

/* R ^= STREAM(L ^ key, |R|) */
static void stream_round(uint8_t *block, size_t len, const uint8_t key[LSXI_LIONESS_KEY_BYTES]) {
    uint8_t round_key[LSXI_STREAM_KEY_BYTES];
    for (size_t i = 0; i < LSXI_LIONESS_LEFT_BYTES; i++) round_key[i] = block[i] ^ key[i];
    lsxi_stream_xor(block + LSXI_LIONESS_LEFT_BYTES, len - LSXI_LIONESS_LEFT_BYTES, round_key);
    sodium_memzero(round_key, sizeof round_key);
}

/* L ^= H32(key, R) */
static void hash_round(uint8_t *block, size_t len, const uint8_t key[LSXI_LIONESS_KEY_BYTES]) {
    uint8_t digest[LSXI_HASH_BYTES];
    (void)crypto_generichash(digest, sizeof digest, block + LSXI_LIONESS_LEFT_BYTES,
                             (unsigned long long)(len - LSXI_LIONESS_LEFT_BYTES), key, LSXI_LIONESS_KEY_BYTES);
    for (size_t i = 0; i < LSXI_LIONESS_LEFT_BYTES; i++) block[i] ^= digest[i];
    sodium_memzero(digest, sizeof digest);
}

void lsxi_lioness_encrypt(uint8_t *block, size_t len, const lsxi_lioness_keys *keys) {
    stream_round(block, len, keys->k[0]);
    hash_round(block, len, keys->k[1]);
    stream_round(block, len, keys->k[2]);
    hash_round(block, len, keys->k[3]);
}

void lsxi_lioness_decrypt(uint8_t *block, size_t len, const lsxi_lioness_keys *keys) {
    hash_round(block, len, keys->k[3]);
    stream_round(block, len, keys->k[2]);
    hash_round(block, len, keys->k[1]);
    stream_round(block, len, keys->k[0]);
}

void lsxi_payload_encode(uint8_t *payload, size_t payload_len, const uint8_t *message, size_t message_len) {
    memset(payload + LSXI_PAYLOAD_ZERO_OFFSET, 0, LSX_PAYLOAD_ZERO_BYTES);
    lsxi_store_be(payload + LSXI_PAYLOAD_LENGTH_OFFSET, LSX_PAYLOAD_LENGTH_BYTES, message_len);
    if (message_len > 0) memcpy(payload + LSXI_PAYLOAD_MESSAGE_OFFSET, message, message_len);
    memset(payload + LSXI_PAYLOAD_MESSAGE_OFFSET + message_len, 0,
           payload_len - LSXI_PAYLOAD_MESSAGE_OFFSET - message_len);
}

int lsxi_payload_check(size_t *message_offset, size_t *message_len, const uint8_t *payload, size_t payload_len) {
    const size_t len = (size_t)lsxi_load_be(payload + LSXI_PAYLOAD_LENGTH_OFFSET, LSX_PAYLOAD_LENGTH_BYTES);
    /* The zero prefix is checked in constant time; the length is only
     * compared once the prefix shows the payload is genuine. */
    if (!sodium_is_zero(payload + LSXI_PAYLOAD_ZERO_OFFSET, LSX_PAYLOAD_ZERO_BYTES) ||
        len > LSX_MAX_MESSAGE_BYTES(payload_len))
        return LSX_ERR_PAYLOAD;
    *message_offset = LSXI_PAYLOAD_MESSAGE_OFFSET;
    *message_len = len;
    return LSX_OK;
}
