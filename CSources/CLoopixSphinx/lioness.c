/* LIONESS over the payload (spec section 7) and the payload's framing. */
#include "lsx_internal.h"

void lsx_lioness_keys_from_secret(lsx_lioness_keys *keys, const uint8_t secret[32]) {
    for (int i = 0; i < 4; i++) lsx_kdf(keys->k[i], LSX_LIONESS_KEY_BYTES, (uint64_t)(LSX_KDF_PAYLOAD_1 + i), secret);
}

/* R ^= STREAM(L ^ key, |R|) */
static void lsx_lioness_stream_round(uint8_t *block, size_t len, const uint8_t key[32]) {
    uint8_t round_key[32];
    for (int i = 0; i < 32; i++) round_key[i] = block[i] ^ key[i];
    lsx_stream_xor(block + 32, len - 32, round_key);
    sodium_memzero(round_key, sizeof round_key);
}

/* L ^= H32(key, R) */
static void lsx_lioness_hash_round(uint8_t *block, size_t len, const uint8_t key[32]) {
    uint8_t digest[32];
    (void)crypto_generichash(digest, 32, block + 32, (unsigned long long)(len - 32), key, 32);
    for (int i = 0; i < 32; i++) block[i] ^= digest[i];
    sodium_memzero(digest, sizeof digest);
}

void lsx_lioness_encrypt(uint8_t *block, size_t len, const lsx_lioness_keys *keys) {
    lsx_lioness_stream_round(block, len, keys->k[0]);
    lsx_lioness_hash_round(block, len, keys->k[1]);
    lsx_lioness_stream_round(block, len, keys->k[2]);
    lsx_lioness_hash_round(block, len, keys->k[3]);
}

void lsx_lioness_decrypt(uint8_t *block, size_t len, const lsx_lioness_keys *keys) {
    lsx_lioness_hash_round(block, len, keys->k[3]);
    lsx_lioness_stream_round(block, len, keys->k[2]);
    lsx_lioness_hash_round(block, len, keys->k[1]);
    lsx_lioness_stream_round(block, len, keys->k[0]);
}

void lsx_payload_encode(uint8_t *payload, size_t payload_len, const uint8_t *message, size_t message_len) {
    memset(payload, 0, LSX_PAYLOAD_ZERO_BYTES);
    payload[16] = (uint8_t)(message_len >> 8);
    payload[17] = (uint8_t)message_len;
    if (message_len > 0) memcpy(payload + LSX_PAYLOAD_OVERHEAD, message, message_len);
    memset(payload + LSX_PAYLOAD_OVERHEAD + message_len, 0, payload_len - LSX_PAYLOAD_OVERHEAD - message_len);
}

int lsx_payload_check(const uint8_t *payload, size_t payload_len, size_t *message_offset, size_t *message_len) {
    size_t len = ((size_t)payload[16] << 8) | (size_t)payload[17];
    /* The zero prefix is checked in constant time; the length is only read
     * once the prefix shows the payload is genuine. */
    if (!sodium_is_zero(payload, LSX_PAYLOAD_ZERO_BYTES) || len > payload_len - LSX_PAYLOAD_OVERHEAD)
        return LSX_ERR_PAYLOAD;
    *message_offset = LSX_PAYLOAD_OVERHEAD;
    *message_len = len;
    return LSX_OK;
}
