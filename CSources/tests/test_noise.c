/* Unit tests for the Noise core: HMAC and HKDF against a second
 * implementation, every pattern end to end, and what hostile or mistaken
 * input must do (tampering, replays, wrong keys, low-order points, turns,
 * nonce exhaustion, rekeying). The published vectors run in noise_vectors.
 * Usage: test_noise */
#include "check.h"
#include "loopix_noise.h"
#include "loopix_test_hooks.h"
#include "noise_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XK LSX_NOISE_PROTOCOL_XK
#define MAX_MESSAGE LSX_NOISE_MAX_MESSAGE_BYTES

static void from_hex(uint8_t *out, const char *hex) {
    for (size_t i = 0; hex[2 * i] != '\0'; i++) {
        unsigned byte;
        sscanf(hex + 2 * i, "%2x", &byte);
        out[i] = (uint8_t)byte;
    }
}

/* Static keys of two nodes, fresh for each run of the tests. */
typedef struct keys {
    uint8_t initiator_secret[32], initiator_public[32];
    uint8_t responder_secret[32], responder_public[32];
    uint8_t psks[LSXI_NOISE_MAX_PSKS][32];
} keys;

static keys k;

/* An XK pair: the initiator knows the responder's key. */
typedef struct pair {
    lsx_noise_handshake *initiator, *responder;
    lsx_noise_cipher *initiator_send, *initiator_receive, *responder_send, *responder_receive;
} pair;

static void pair_xk(pair *p, const uint8_t *responder_public) {
    memset(p, 0, sizeof *p);
    CHECK_RC(lsx_noise_handshake_create(&p->initiator, XK, LSX_NOISE_INITIATOR, (const uint8_t *)"prologue", 8,
                                        k.initiator_secret, responder_public, NULL, 0),
             LSX_OK);
    CHECK_RC(lsx_noise_handshake_create(&p->responder, XK, LSX_NOISE_RESPONDER, (const uint8_t *)"prologue", 8,
                                        k.responder_secret, NULL, NULL, 0),
             LSX_OK);
}

static void pair_free(pair *p) {
    lsx_noise_handshake_destroy(p->initiator);
    lsx_noise_handshake_destroy(p->responder);
    lsx_noise_cipher_destroy(p->initiator_send);
    lsx_noise_cipher_destroy(p->initiator_receive);
    lsx_noise_cipher_destroy(p->responder_send);
    lsx_noise_cipher_destroy(p->responder_receive);
    memset(p, 0, sizeof *p);
}

/* Writes with `from` and reads with `to`; returns the read's code. The
 * message is left in message[0 .. *len) for tampering tests. */
static int exchange(lsx_noise_handshake *from, lsx_noise_handshake *to, uint8_t *message, size_t *len) {
    uint8_t payload[64];
    size_t payload_len;
    CHECK_RC(lsx_noise_handshake_write_message(message, MAX_MESSAGE, len, from, (const uint8_t *)"hello", 5), LSX_OK);
    int rc = lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, to, message, *len);
    if (rc == LSX_OK) CHECK(payload_len == 5 && memcmp(payload, "hello", 5) == 0);
    return rc;
}

static void pair_split(pair *p) {
    CHECK_RC(lsx_noise_handshake_split(&p->initiator_send, &p->initiator_receive, p->initiator), LSX_OK);
    CHECK_RC(lsx_noise_handshake_split(&p->responder_send, &p->responder_receive, p->responder), LSX_OK);
}

/* A complete XK handshake and split. */
static void pair_complete(pair *p) {
    static uint8_t message[MAX_MESSAGE];
    size_t len;
    pair_xk(p, k.responder_public);
    CHECK_RC(exchange(p->initiator, p->responder, message, &len), LSX_OK);
    CHECK_RC(exchange(p->responder, p->initiator, message, &len), LSX_OK);
    CHECK_RC(exchange(p->initiator, p->responder, message, &len), LSX_OK);
    pair_split(p);
}

static void test_sizes(void) {
    current_test = "sizes";
    CHECK(lsx_noise_public_key_bytes() == LSX_NOISE_PUBLIC_KEY_BYTES && LSX_NOISE_PUBLIC_KEY_BYTES == 32);
    CHECK(lsx_noise_secret_key_bytes() == 32 && lsx_noise_key_bytes() == 32 && lsx_noise_psk_bytes() == 32);
    CHECK(lsx_noise_hash_bytes() == 64 && lsx_noise_tag_bytes() == 16);
    CHECK(lsx_noise_max_message_bytes() == 65535 && lsx_noise_max_plaintext_bytes() == 65519);
    CHECK(lsx_noise_xk_message_bytes(1, 0) == 48 && lsx_noise_xk_message_bytes(2, 10) == 58);
    CHECK(lsx_noise_xk_message_bytes(3, 0) == 64 && LSX_NOISE_XK_MESSAGE3_BYTES(100) == 164);
    CHECK(lsx_noise_xk_message_bytes(0, 0) == 0 && lsx_noise_xk_message_bytes(4, 0) == 0);
    CHECK(lsx_noise_xk_message_bytes(3, 65535 - 64) == 65535 && lsx_noise_xk_message_bytes(3, 65535 - 63) == 0);
    CHECK(LSX_NOISE_TRANSPORT_BYTES(2500) == 2516);
    CHECK(strcmp(lsx_error_name(LSX_ERR_NOISE_PROTOCOL), "noise_protocol_unsupported") == 0);
    CHECK(strcmp(lsx_error_name(LSX_ERR_NOISE_KEYS), "noise_keys_mismatch") == 0);
    CHECK(strcmp(lsx_error_name(LSX_ERR_NOISE_STATE), "noise_bad_state") == 0);
    CHECK(strcmp(lsx_error_name(LSX_ERR_NONCE_EXHAUSTED), "nonce_exhausted") == 0);
}

/* The expected values come from Python's hmac module over hashlib.blake2b
 * (BLOCKLEN 128, HASHLEN 64), a second implementation of the same construction. */
static void test_hmac_and_hkdf(void) {
    current_test = "HMAC-BLAKE2b and HKDF";
    uint8_t key[64], ck[64], ikm[32], out[64], o1[64], o2[64], o3[64], expected[64];
    for (int i = 0; i < 64; i++) key[i] = (uint8_t)i, ck[i] = (uint8_t)(64 + i);
    memset(ikm, 0x42, sizeof ikm);
    lsxi_noise_hmac(out, key, (const uint8_t *)"Loopix", 6, (const uint8_t *)" link", 5);
    from_hex(expected, "feb922e2524aee39f6794bb7042b366c8a5177733e83c84992f81d2397773c8c"
                       "f98d9f3fbe7473a168b86af042a9fc95b00715506535ddbdb07b23ae26326df3");
    CHECK(memcmp(out, expected, 64) == 0);
    lsxi_noise_hkdf(o1, o2, o3, ck, ikm, sizeof ikm);
    from_hex(expected, "f68aca5d19b02cbc7a1cf7ba0ae03f81d852c312a4afc7e7334b6250e0df017d"
                       "0d2ed06f06ed38c679dc56b6a413d3dbb8b7ec96726adb58cb84133ba27abd55");
    CHECK(memcmp(o1, expected, 64) == 0);
    from_hex(expected, "6c7078447fed0c7cc4ad3e830bb28cf2394bb7b5207a3d59bc7da8aa6b305f2a"
                       "4e874242d2ffde7199ff11a289aae02e87da2045b8013d0ac9c1895f11b5393b");
    CHECK(memcmp(o2, expected, 64) == 0);
    from_hex(expected, "32d6beba37ff9a17d5da1d5cca04ec600a77865567a72cc1b145a5960171948f"
                       "253f59b01d906f77b68132e1126c632389ccd9a39ad239b0c2fcde480a23e61d");
    CHECK(memcmp(o3, expected, 64) == 0);
    /* Split's HKDF has empty input, and its output may overwrite the chaining key. */
    lsxi_noise_hkdf(ck, o2, NULL, ck, NULL, 0);
    from_hex(expected, "fbae6305753b22641f6bc7924aaae82065a324f57985244d97c623b209ffc86e"
                       "88b1496ad12ae6de65727d4c0be2b3a44cda6af02a62a454f88d38c69353e8af");
    CHECK(memcmp(ck, expected, 64) == 0);
}

static void test_xk_round_trip(void) {
    current_test = "XK round trip";
    uint8_t message[MAX_MESSAGE], hash_i[64], hash_r[64], learned[32];
    size_t len;
    pair p;
    pair_xk(&p, k.responder_public);
    CHECK(lsx_noise_handshake_next_step(p.initiator) == LSX_NOISE_STEP_WRITE);
    CHECK(lsx_noise_handshake_next_step(p.responder) == LSX_NOISE_STEP_READ);
    CHECK(lsx_noise_handshake_message_bytes(p.initiator, 5) == LSX_NOISE_XK_MESSAGE1_BYTES(5));
    CHECK_RC(lsx_noise_handshake_remote_static(learned, p.responder), LSX_ERR_NOISE_STATE);
    CHECK_RC(exchange(p.initiator, p.responder, message, &len), LSX_OK);
    CHECK(len == LSX_NOISE_XK_MESSAGE1_BYTES(5));
    CHECK_RC(exchange(p.responder, p.initiator, message, &len), LSX_OK);
    CHECK(len == LSX_NOISE_XK_MESSAGE2_BYTES(5));
    CHECK_RC(lsx_noise_handshake_remote_static(learned, p.responder), LSX_ERR_NOISE_STATE);
    CHECK(lsx_noise_handshake_message_bytes(p.initiator, 5) == LSX_NOISE_XK_MESSAGE3_BYTES(5));
    CHECK_RC(exchange(p.initiator, p.responder, message, &len), LSX_OK);
    CHECK(len == LSX_NOISE_XK_MESSAGE3_BYTES(5));
    CHECK(lsx_noise_handshake_next_step(p.initiator) == LSX_NOISE_STEP_SPLIT);
    CHECK(lsx_noise_handshake_next_step(p.responder) == LSX_NOISE_STEP_SPLIT);
    /* The responder learned who connected; the initiator still holds the key it pinned. */
    CHECK_RC(lsx_noise_handshake_remote_static(learned, p.responder), LSX_OK);
    CHECK(memcmp(learned, k.initiator_public, 32) == 0);
    CHECK_RC(lsx_noise_handshake_remote_static(learned, p.initiator), LSX_OK);
    CHECK(memcmp(learned, k.responder_public, 32) == 0);
    CHECK_RC(lsx_noise_handshake_hash(hash_i, p.initiator), LSX_OK);
    CHECK_RC(lsx_noise_handshake_hash(hash_r, p.responder), LSX_OK);
    CHECK(memcmp(hash_i, hash_r, 64) == 0);
    pair_split(&p);
    CHECK(lsx_noise_handshake_next_step(p.initiator) == LSX_NOISE_STEP_DONE);
    CHECK_RC(lsx_noise_handshake_hash(hash_r, p.initiator), LSX_OK); /* still readable after the split */
    CHECK(memcmp(hash_i, hash_r, 64) == 0);

    /* Transport, in place, both ways. */
    uint8_t frame[2500 + LSX_NOISE_TAG_BYTES], original[2500];
    size_t frame_len, plain_len;
    randombytes_buf(original, sizeof original);
    for (uint64_t n = 0; n < 3; n++) {
        CHECK(lsx_noise_cipher_nonce(p.initiator_send) == n && lsx_noise_cipher_nonce(p.responder_receive) == n);
        memcpy(frame, original, sizeof original);
        CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &frame_len, p.initiator_send, sizeof original), LSX_OK);
        CHECK(frame_len == sizeof frame && memcmp(frame, original, sizeof original) != 0);
        CHECK_RC(lsx_noise_cipher_decrypt(frame, &plain_len, p.responder_receive, frame_len), LSX_OK);
        CHECK(plain_len == sizeof original && memcmp(frame, original, plain_len) == 0);
        memcpy(frame, original, 100);
        CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &frame_len, p.responder_send, 100), LSX_OK);
        CHECK_RC(lsx_noise_cipher_decrypt(frame, &plain_len, p.initiator_receive, frame_len), LSX_OK);
        CHECK(plain_len == 100 && memcmp(frame, original, 100) == 0);
    }
    /* An empty message and the largest one. */
    static uint8_t big[MAX_MESSAGE];
    CHECK_RC(lsx_noise_cipher_encrypt(big, sizeof big, &frame_len, p.initiator_send, 0), LSX_OK);
    CHECK_RC(lsx_noise_cipher_decrypt(big, &plain_len, p.responder_receive, frame_len), LSX_OK);
    CHECK(frame_len == 16 && plain_len == 0);
    CHECK_RC(lsx_noise_cipher_encrypt(big, sizeof big, &frame_len, p.initiator_send, LSX_NOISE_MAX_PLAINTEXT_BYTES),
             LSX_OK);
    CHECK_RC(lsx_noise_cipher_decrypt(big, &plain_len, p.responder_receive, frame_len), LSX_OK);
    CHECK(frame_len == MAX_MESSAGE && plain_len == LSX_NOISE_MAX_PLAINTEXT_BYTES);
    pair_free(&p);
}

/* Runs `name` between two fresh sides with the keys its letters call for, and
 * checks the hash, the learned keys and transport. Deriving the keys from the
 * name here checks the core's own rule for which keys a pattern needs. */
static void run_pattern(const char *name) {
    const char *pattern = name + strlen("Noise_");
    const char first = pattern[0];
    const char *rest = pattern + 1 + (pattern[1] == '1');
    const int one_way = !(*rest >= 'A' && *rest <= 'Z');
    const char second = one_way ? 'K' : *rest; /* one-way: the responder's key is always known */
    const int initiator_static = first != 'N', responder_static = second != 'N';
    size_t psks = 0;
    for (const char *p = strstr(name, "psk"); p != NULL; p = strstr(p + 1, "psk")) psks++;
    lsx_noise_handshake *hs[2] = {NULL, NULL};
    current_test = name;
    CHECK_RC(lsx_noise_handshake_create(&hs[0], name, LSX_NOISE_INITIATOR, NULL, 0,
                                        initiator_static ? k.initiator_secret : NULL,
                                        second == 'K' ? k.responder_public : NULL, k.psks[0], psks),
             LSX_OK);
    CHECK_RC(lsx_noise_handshake_create(&hs[1], name, LSX_NOISE_RESPONDER, NULL, 0,
                                        responder_static ? k.responder_secret : NULL,
                                        first == 'K' ? k.initiator_public : NULL, k.psks[0], psks),
             LSX_OK);
    if (hs[0] == NULL || hs[1] == NULL) goto done;
    uint8_t message[512], payload[64], hash[2][64], learned[32];
    size_t len, payload_len, messages = 0;
    while (lsx_noise_handshake_next_step(hs[0]) != LSX_NOISE_STEP_SPLIT && messages < 8) {
        const int writer = lsx_noise_handshake_next_step(hs[0]) == LSX_NOISE_STEP_WRITE ? 0 : 1;
        CHECK(lsx_noise_handshake_next_step(hs[1 - writer]) == LSX_NOISE_STEP_READ);
        CHECK_RC(lsx_noise_handshake_write_message(message, sizeof message, &len, hs[writer], (const uint8_t *)"ab", 2),
                 LSX_OK);
        CHECK_RC(lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, hs[1 - writer], message, len),
                 LSX_OK);
        CHECK(payload_len == 2 && memcmp(payload, "ab", 2) == 0);
        messages++;
    }
    CHECK(one_way ? messages == 1 : messages >= 2);
    CHECK(lsx_noise_handshake_next_step(hs[1]) == LSX_NOISE_STEP_SPLIT);
    CHECK_RC(lsx_noise_handshake_hash(hash[0], hs[0]), LSX_OK);
    CHECK_RC(lsx_noise_handshake_hash(hash[1], hs[1]), LSX_OK);
    CHECK(memcmp(hash[0], hash[1], 64) == 0);
    CHECK_RC(lsx_noise_handshake_remote_static(learned, hs[0]), responder_static ? LSX_OK : LSX_ERR_NOISE_STATE);
    CHECK(!responder_static || memcmp(learned, k.responder_public, 32) == 0);
    CHECK_RC(lsx_noise_handshake_remote_static(learned, hs[1]), initiator_static ? LSX_OK : LSX_ERR_NOISE_STATE);
    CHECK(!initiator_static || memcmp(learned, k.initiator_public, 32) == 0);

    lsx_noise_cipher *send[2], *receive[2];
    CHECK_RC(lsx_noise_handshake_split(&send[0], &receive[0], hs[0]), LSX_OK);
    CHECK_RC(lsx_noise_handshake_split(&send[1], &receive[1], hs[1]), LSX_OK);
    for (int from = 0; from < 2; from++) {
        uint8_t frame[32] = "transport";
        const int allowed = !one_way || from == 0;
        CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &len, send[from], 9),
                 allowed ? LSX_OK : LSX_ERR_NOISE_STATE);
        if (!allowed) continue;
        CHECK_RC(lsx_noise_cipher_decrypt(frame, &payload_len, receive[1 - from], len), LSX_OK);
        CHECK(payload_len == 9 && memcmp(frame, "transport", 9) == 0);
    }
    if (one_way) CHECK_RC(lsx_noise_cipher_rekey(receive[0]), LSX_ERR_NOISE_STATE);
    for (int i = 0; i < 2; i++) {
        lsx_noise_cipher_destroy(send[i]);
        lsx_noise_cipher_destroy(receive[i]);
    }
done:
    lsx_noise_handshake_destroy(hs[0]);
    lsx_noise_handshake_destroy(hs[1]);
}

static void test_every_pattern(void) {
    static const char *names[] = {
        "N", "K", "X", "NN", "NK", "NX", "XN", "XK", "XX", "KN", "KK", "KX", "IN", "IK", "IX",
        "NK1", "NX1", "X1N", "X1K", "XK1", "X1K1", "X1X", "XX1", "X1X1", "K1N", "K1K", "KK1", "K1K1", "K1X",
        "KX1", "K1X1", "I1N", "I1K", "IK1", "I1K1", "I1X", "IX1", "I1X1",
        "Npsk0", "Kpsk0", "Xpsk1", "NNpsk0", "NNpsk2", "XKpsk3", "IKpsk1", "IKpsk2", "XXpsk3", "NNpsk0+psk2",
        "XXpsk0+psk1+psk2+psk3", "X1X1psk0+psk1+psk2+psk3+psk4",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "Noise_%s_25519_ChaChaPoly_BLAKE2b", names[i]);
        CHECK_RC(lsx_noise_protocol_check(name), LSX_OK);
        run_pattern(name);
    }
}

static void test_protocol_names(void) {
    current_test = "protocol names";
    static const char *refused[] = {
        "Noise_XK_448_ChaChaPoly_BLAKE2b", "Noise_XK_25519_AESGCM_BLAKE2b", "Noise_XK_25519_ChaChaPoly_SHA256",
        "Noise_XK_25519_ChaChaPoly_BLAKE2s", "Noise_QQ_25519_ChaChaPoly_BLAKE2b", "Noise_XKpsk4_25519_ChaChaPoly_BLAKE2b",
        "Noise_XKpsk3+_25519_ChaChaPoly_BLAKE2b", "Noise_XKpsk3+psk3_25519_ChaChaPoly_BLAKE2b",
        "Noise_XKfallback_25519_ChaChaPoly_BLAKE2b", "Noise_XK+psk3_25519_ChaChaPoly_BLAKE2b",
        "Noise_XKpsk_25519_ChaChaPoly_BLAKE2b", "Noise_XKpsk10_25519_ChaChaPoly_BLAKE2b", "Noise__25519_ChaChaPoly_BLAKE2b",
        "Noise_XK_XK_25519_ChaChaPoly_BLAKE2b", "NoiseXK_25519_ChaChaPoly_BLAKE2b", "Noise_XK_25519_ChaChaPoly_BLAKE2b_",
        "noise_XK_25519_ChaChaPoly_BLAKE2b", "", "Noise_XK1K_25519_ChaChaPoly_BLAKE2b",
    };
    lsx_noise_handshake *hs = NULL;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        CHECK_RC(lsx_noise_protocol_check(refused[i]), LSX_ERR_NOISE_PROTOCOL);
        CHECK_RC(lsx_noise_handshake_create(&hs, refused[i], LSX_NOISE_RESPONDER, NULL, 0, k.responder_secret, NULL,
                                            k.psks[0], 1),
                 LSX_ERR_NOISE_PROTOCOL);
        CHECK(hs == NULL);
    }
    CHECK_RC(lsx_noise_protocol_check(NULL), LSX_ERR_ARGUMENT);
}

static void test_key_requirements(void) {
    current_test = "keys a pattern needs";
    lsx_noise_handshake *hs = NULL;
    const lsx_noise_role I = LSX_NOISE_INITIATOR, R = LSX_NOISE_RESPONDER;
    /* XK: the initiator must pin the responder's key and may not go without its own. */
    CHECK_RC(lsx_noise_handshake_create(&hs, XK, I, NULL, 0, k.initiator_secret, NULL, NULL, 0), LSX_ERR_NOISE_KEYS);
    CHECK_RC(lsx_noise_handshake_create(&hs, XK, I, NULL, 0, NULL, k.responder_public, NULL, 0), LSX_ERR_NOISE_KEYS);
    /* The XK responder learns the initiator's key: giving one would look like pinning and is refused. */
    CHECK_RC(lsx_noise_handshake_create(&hs, XK, R, NULL, 0, k.responder_secret, k.initiator_public, NULL, 0),
             LSX_ERR_NOISE_KEYS);
    CHECK_RC(lsx_noise_handshake_create(&hs, "Noise_XX_25519_ChaChaPoly_BLAKE2b", I, NULL, 0, k.initiator_secret,
                                        k.responder_public, NULL, 0),
             LSX_ERR_NOISE_KEYS);
    CHECK_RC(lsx_noise_handshake_create(&hs, "Noise_NN_25519_ChaChaPoly_BLAKE2b", I, NULL, 0, k.initiator_secret, NULL,
                                        NULL, 0),
             LSX_ERR_NOISE_KEYS);
    CHECK_RC(lsx_noise_handshake_create(&hs, "Noise_XKpsk3_25519_ChaChaPoly_BLAKE2b", R, NULL, 0, k.responder_secret,
                                        NULL, NULL, 0),
             LSX_ERR_NOISE_KEYS);
    CHECK_RC(lsx_noise_handshake_create(&hs, "Noise_XKpsk3_25519_ChaChaPoly_BLAKE2b", R, NULL, 0, k.responder_secret,
                                        NULL, k.psks[0], 2),
             LSX_ERR_NOISE_KEYS);
    CHECK_RC(lsx_noise_handshake_create(&hs, XK, R, NULL, 0, k.responder_secret, NULL, k.psks[0], 1),
             LSX_ERR_NOISE_KEYS);
    CHECK_RC(lsx_noise_handshake_create(&hs, XK, (lsx_noise_role)0, NULL, 0, k.responder_secret, NULL, NULL, 0),
             LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_noise_handshake_create(&hs, XK, R, NULL, 3, k.responder_secret, NULL, NULL, 0), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_noise_handshake_create(NULL, XK, R, NULL, 0, k.responder_secret, NULL, NULL, 0), LSX_ERR_ARGUMENT);
    CHECK(hs == NULL);
}

static void test_turns(void) {
    current_test = "turns";
    uint8_t message[MAX_MESSAGE], payload[64], hash[64];
    size_t len, payload_len;
    lsx_noise_cipher *a, *b;
    pair p;
    pair_xk(&p, k.responder_public);
    /* Out of turn: refused, and the handshake goes on unharmed. */
    CHECK_RC(lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, p.initiator, message, 48),
             LSX_ERR_NOISE_STATE);
    CHECK_RC(lsx_noise_handshake_write_message(message, sizeof message, &len, p.responder, NULL, 0),
             LSX_ERR_NOISE_STATE);
    CHECK_RC(lsx_noise_handshake_hash(hash, p.initiator), LSX_ERR_NOISE_STATE);
    CHECK_RC(lsx_noise_handshake_split(&a, &b, p.initiator), LSX_ERR_NOISE_STATE);
    CHECK(a == NULL && b == NULL);
    /* A buffer too small or a payload too long changes nothing either. */
    CHECK_RC(lsx_noise_handshake_write_message(message, 47, &len, p.initiator, NULL, 0), LSX_ERR_LENGTH);
    CHECK_RC(lsx_noise_handshake_write_message(message, sizeof message, &len, p.initiator, message, 65535 - 47),
             LSX_ERR_LENGTH);
    CHECK_RC(lsx_noise_handshake_write_message(message, sizeof message, &len, p.initiator, message + 10, 5),
             LSX_ERR_ARGUMENT); /* payload inside the message buffer */
    CHECK(lsx_noise_handshake_next_step(p.initiator) == LSX_NOISE_STEP_WRITE);
    CHECK_RC(exchange(p.initiator, p.responder, message, &len), LSX_OK);
    CHECK_RC(exchange(p.responder, p.initiator, message, &len), LSX_OK);
    CHECK_RC(exchange(p.initiator, p.responder, message, &len), LSX_OK);
    pair_split(&p);
    CHECK_RC(lsx_noise_handshake_split(&a, &b, p.initiator), LSX_ERR_NOISE_STATE);
    CHECK_RC(lsx_noise_handshake_write_message(message, sizeof message, &len, p.initiator, NULL, 0),
             LSX_ERR_NOISE_STATE);
    CHECK(lsx_noise_handshake_message_bytes(p.initiator, 0) == 0);
    pair_free(&p);
    CHECK(lsx_noise_handshake_next_step(NULL) == LSX_NOISE_STEP_FAILED);
    lsx_noise_handshake_destroy(NULL);
    lsx_noise_cipher_destroy(NULL);
}

/* After a failed read nothing more works: the real message, the hash, the peer's key. */
static void check_failed(lsx_noise_handshake *hs, const uint8_t *good, size_t good_len) {
    uint8_t payload[MAX_MESSAGE], out[64];
    size_t payload_len;
    CHECK(lsx_noise_handshake_next_step(hs) == LSX_NOISE_STEP_FAILED);
    CHECK_RC(lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, hs, good, good_len),
             LSX_ERR_NOISE_STATE);
    CHECK_RC(lsx_noise_handshake_remote_static(out, hs), LSX_ERR_NOISE_STATE);
    CHECK_RC(lsx_noise_handshake_hash(out, hs), LSX_ERR_NOISE_STATE);
}

/* Flips each bit position class (low, high) of every byte of each XK
 * message, and cuts and extends it: the reader must refuse every one. */
static void test_tampered_handshake(void) {
    current_test = "tampered handshake messages";
    static uint8_t message[MAX_MESSAGE], changed[MAX_MESSAGE], payload[MAX_MESSAGE];
    size_t len, payload_len;
    for (int which = 0; which < 3; which++) {
        for (size_t variant = 0;; variant++) {
            pair p;
            pair_xk(&p, k.responder_public);
            for (int m = 0; m < which; m++) CHECK_RC(exchange(m % 2 ? p.responder : p.initiator,
                                                              m % 2 ? p.initiator : p.responder, message, &len),
                                                     LSX_OK);
            lsx_noise_handshake *writer = which % 2 ? p.responder : p.initiator;
            lsx_noise_handshake *reader = which % 2 ? p.initiator : p.responder;
            CHECK_RC(lsx_noise_handshake_write_message(message, sizeof message, &len, writer, (const uint8_t *)"hi", 2),
                     LSX_OK);
            const size_t changes = 2 * len + 3;
            size_t changed_len = len;
            memcpy(changed, message, len);
            if (variant < 2 * len) changed[variant / 2] ^= variant % 2 ? 0x80 : 0x01;
            else if (variant == 2 * len) changed_len = len - 1;
            else if (variant == 2 * len + 1) changed[changed_len++] = 0;
            else changed_len = 0;
            int rc = lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, reader, changed,
                                                      changed_len);
            CHECK(rc == LSX_ERR_MAC || rc == LSX_ERR_LENGTH || rc == LSX_ERR_LOW_ORDER);
            check_failed(reader, message, len);
            pair_free(&p);
            if (variant + 1 == changes) break;
        }
    }
}

static void test_payload_buffer_too_small(void) {
    current_test = "payload buffer too small";
    uint8_t message[MAX_MESSAGE], payload[4];
    size_t len, payload_len;
    pair p;
    pair_xk(&p, k.responder_public);
    CHECK_RC(lsx_noise_handshake_write_message(message, sizeof message, &len, p.initiator, (const uint8_t *)"hello", 5),
             LSX_OK);
    CHECK_RC(lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, p.responder, message, len),
             LSX_ERR_LENGTH);
    check_failed(p.responder, message, len);
    pair_free(&p);
}

/* Noise's first XK message carries no freshness: a copy of it is accepted by
 * a new responder. What must fail is finishing that session, and feeding a
 * message to a handshake twice. */
static void test_replays(void) {
    current_test = "replayed handshake messages";
    uint8_t m1[128], m2[128], m3[128], scratch[128], payload[64];
    size_t l1, l2, l3, len, payload_len;
    pair p, q;
    pair_xk(&p, k.responder_public);
    CHECK_RC(exchange(p.initiator, p.responder, m1, &l1), LSX_OK);
    CHECK_RC(lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, p.responder, m1, l1),
             LSX_ERR_NOISE_STATE);
    CHECK_RC(exchange(p.responder, p.initiator, m2, &l2), LSX_OK);
    CHECK_RC(exchange(p.initiator, p.responder, m3, &l3), LSX_OK);

    /* Message 1 again, to a new responder: accepted; the recorded message 3 is not. */
    pair_xk(&q, k.responder_public);
    CHECK_RC(lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, q.responder, m1, l1), LSX_OK);
    CHECK_RC(lsx_noise_handshake_write_message(scratch, sizeof scratch, &len, q.responder, NULL, 0), LSX_OK);
    CHECK(len == l2 - 5 && memcmp(scratch, m2, 32) != 0); /* a fresh ephemeral key */
    CHECK_RC(lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, q.responder, m3, l3),
             LSX_ERR_MAC);
    check_failed(q.responder, m3, l3);
    /* Message 2 of the first session, to a new initiator. */
    CHECK_RC(lsx_noise_handshake_write_message(scratch, sizeof scratch, &len, q.initiator, NULL, 0), LSX_OK);
    CHECK_RC(lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, q.initiator, m2, l2),
             LSX_ERR_MAC);
    pair_free(&p);
    pair_free(&q);
}

static void test_wrong_responder_key(void) {
    current_test = "wrong responder key";
    uint8_t other_secret[32], other_public[32], message[128], ephemeral[32];
    size_t len;
    pair wrong, right;
    CHECK_RC(lsx_noise_keypair(other_public, other_secret), LSX_OK);
    /* The real responder cannot read what was encrypted to another key. */
    pair_xk(&wrong, other_public);
    CHECK_RC(exchange(wrong.initiator, wrong.responder, message, &len), LSX_ERR_MAC);
    pair_free(&wrong);
    /* And an initiator expecting another key refuses the real responder's
     * answer: with the same ephemeral key, it differs from an initiator that
     * expects the right key only in that key. */
    randombytes_buf(ephemeral, sizeof ephemeral);
    pair_xk(&wrong, other_public);
    pair_xk(&right, k.responder_public);
    CHECK_RC(lsx_test_noise_fix_ephemeral(wrong.initiator, ephemeral), LSX_OK);
    CHECK_RC(lsx_test_noise_fix_ephemeral(right.initiator, ephemeral), LSX_OK);
    CHECK_RC(exchange(wrong.initiator, wrong.responder, message, &len), LSX_ERR_MAC);
    CHECK_RC(exchange(right.initiator, right.responder, message, &len), LSX_OK);
    uint8_t payload[64];
    size_t payload_len;
    CHECK_RC(lsx_noise_handshake_write_message(message, sizeof message, &len, right.responder, NULL, 0), LSX_OK);
    CHECK_RC(lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, wrong.initiator, message, len),
             LSX_ERR_MAC);
    check_failed(wrong.initiator, message, len);
    CHECK_RC(lsx_test_noise_fix_ephemeral(right.initiator, ephemeral), LSX_ERR_NOISE_STATE); /* already used */
    pair_free(&wrong);
    pair_free(&right);
}

/* X25519 points of small order give an all-zero shared secret, which is refused. */
static void test_low_order_points(void) {
    current_test = "low-order points";
    uint8_t low_order[2][32] = {{0}, {1}}, message[128], payload[64];
    size_t len, payload_len;
    for (int i = 0; i < 2; i++) {
        pair p;
        pair_xk(&p, low_order[i]);
        CHECK_RC(lsx_noise_handshake_write_message(message, sizeof message, &len, p.initiator, NULL, 0),
                 LSX_ERR_LOW_ORDER);
        CHECK(lsx_noise_handshake_next_step(p.initiator) == LSX_NOISE_STEP_FAILED);
        memset(message, 0, sizeof message);
        memcpy(message, low_order[i], 32);
        CHECK_RC(lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, p.responder, message, 48),
                 LSX_ERR_LOW_ORDER);
        check_failed(p.responder, message, 48);
        pair_free(&p);
    }
}

static void test_transport_failures(void) {
    current_test = "transport failures";
    uint8_t frame[256], copy[256];
    size_t len, plain_len;
    pair p;
    pair_complete(&p);
    /* Caller errors change nothing. */
    CHECK_RC(lsx_noise_cipher_encrypt(frame, 115, &len, p.initiator_send, 100), LSX_ERR_LENGTH);
    CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &len, p.initiator_send, LSX_NOISE_MAX_PLAINTEXT_BYTES + 1),
             LSX_ERR_LENGTH);
    CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &len, p.initiator_receive, 10), LSX_ERR_NOISE_STATE);
    CHECK_RC(lsx_noise_cipher_decrypt(frame, &plain_len, p.initiator_send, 26), LSX_ERR_NOISE_STATE);
    CHECK(lsx_noise_cipher_nonce(p.initiator_send) == 0);
    /* A tampered message is refused, and so is everything after it, even the genuine message. */
    memset(frame, 0x61, 100);
    CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &len, p.initiator_send, 100), LSX_OK);
    CHECK_RC(lsx_noise_cipher_decrypt(frame, &plain_len, p.responder_receive, len), LSX_OK);
    memset(frame, 0x61, 100);
    CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &len, p.initiator_send, 100), LSX_OK);
    memcpy(copy, frame, len);
    frame[20] ^= 0x04;
    CHECK_RC(lsx_noise_cipher_decrypt(frame, &plain_len, p.responder_receive, len), LSX_ERR_MAC);
    CHECK(frame[0] != 0x61 && frame[50] != 0x61); /* no plaintext left behind */
    CHECK(lsx_noise_cipher_nonce(p.responder_receive) == LSX_NOISE_RESERVED_NONCE);
    CHECK_RC(lsx_noise_cipher_decrypt(copy, &plain_len, p.responder_receive, len), LSX_ERR_NOISE_STATE);
    CHECK_RC(lsx_noise_cipher_rekey(p.responder_receive), LSX_ERR_NOISE_STATE);
    /* A message shorter than a tag ends the receiving cipher too. */
    CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &len, p.responder_send, 0), LSX_OK);
    CHECK_RC(lsx_noise_cipher_decrypt(frame, &plain_len, p.initiator_receive, 15), LSX_ERR_LENGTH);
    CHECK_RC(lsx_noise_cipher_decrypt(frame, &plain_len, p.initiator_receive, 16), LSX_ERR_NOISE_STATE);
    /* A message out of order does not decrypt (each nonce is used once, in order). */
    pair_free(&p);
    pair_complete(&p);
    uint8_t first[64] = {0}, second[64] = {0};  /* plaintexts: defined bytes, for valgrind */
    size_t first_len, second_len;
    CHECK_RC(lsx_noise_cipher_encrypt(first, sizeof first, &first_len, p.initiator_send, 8), LSX_OK);
    CHECK_RC(lsx_noise_cipher_encrypt(second, sizeof second, &second_len, p.initiator_send, 8), LSX_OK);
    CHECK_RC(lsx_noise_cipher_decrypt(second, &plain_len, p.responder_receive, second_len), LSX_ERR_MAC);
    pair_free(&p);
}

static void test_nonce_exhaustion(void) {
    current_test = "nonce exhaustion";
    uint8_t frame[64];
    size_t len, plain_len;
    pair p;
    pair_complete(&p);
    CHECK_RC(lsx_test_noise_cipher_set_nonce(p.initiator_send, LSX_NOISE_RESERVED_NONCE - 1), LSX_OK);
    CHECK_RC(lsx_test_noise_cipher_set_nonce(p.responder_receive, LSX_NOISE_RESERVED_NONCE - 1), LSX_OK);
    /* 2^64-2 is the last nonce a message may use. */
    CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &len, p.initiator_send, 10), LSX_OK);
    CHECK_RC(lsx_noise_cipher_decrypt(frame, &plain_len, p.responder_receive, len), LSX_OK);
    CHECK(lsx_noise_cipher_nonce(p.initiator_send) == LSX_NOISE_RESERVED_NONCE);
    CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &len, p.initiator_send, 10), LSX_ERR_NONCE_EXHAUSTED);
    CHECK_RC(lsx_noise_cipher_decrypt(frame, &plain_len, p.responder_receive, 26), LSX_ERR_NONCE_EXHAUSTED);
    /* Rekeying is still allowed, but it does not give the nonces back. */
    CHECK_RC(lsx_noise_cipher_rekey(p.initiator_send), LSX_OK);
    CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &len, p.initiator_send, 10), LSX_ERR_NONCE_EXHAUSTED);
    pair_free(&p);
}

static void test_rekey(void) {
    current_test = "rekey";
    uint8_t before[32], after[32], expected[48], nonce[12] = {0}, frame[64];
    static const uint8_t zeros[32];
    size_t len, plain_len;
    pair p;
    pair_complete(&p);
    CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &len, p.initiator_send, 10), LSX_OK);
    CHECK_RC(lsx_noise_cipher_decrypt(frame, &plain_len, p.responder_receive, len), LSX_OK);
    /* REKEY(k) = the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zeros), checked against libsodium directly. */
    CHECK_RC(lsx_test_noise_cipher_key(before, p.initiator_send), LSX_OK);
    memset(nonce + 4, 0xff, 8);
    crypto_aead_chacha20poly1305_ietf_encrypt(expected, NULL, zeros, 32, NULL, 0, NULL, nonce, before);
    CHECK_RC(lsx_noise_cipher_rekey(p.initiator_send), LSX_OK);
    CHECK_RC(lsx_test_noise_cipher_key(after, p.initiator_send), LSX_OK);
    CHECK(memcmp(after, expected, 32) == 0 && memcmp(after, before, 32) != 0);
    CHECK(lsx_noise_cipher_nonce(p.initiator_send) == 1); /* the count goes on */
    /* Only one end rekeyed: the other cannot read. Both: it can. */
    CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &len, p.initiator_send, 10), LSX_OK);
    uint8_t copy[64];
    memcpy(copy, frame, len);
    CHECK_RC(lsx_noise_cipher_rekey(p.responder_receive), LSX_OK);
    CHECK_RC(lsx_noise_cipher_decrypt(frame, &plain_len, p.responder_receive, len), LSX_OK);
    CHECK_RC(lsx_noise_cipher_rekey(p.responder_send), LSX_OK);
    CHECK_RC(lsx_noise_cipher_encrypt(frame, sizeof frame, &len, p.responder_send, 10), LSX_OK);
    CHECK_RC(lsx_noise_cipher_decrypt(frame, &plain_len, p.initiator_receive, len), LSX_ERR_MAC);
    pair_free(&p);
}

/* The X25519 form of an Ed25519 identity: a vector computed with Python's `cryptography`
 * (SHA-512 of the seed, clamped; u = (1 + y) / (1 - y) mod p), and the two halves agree
 * for random keys, so a link authenticates with the key the directory lists. */
static void test_keys_from_signing_keys(void) {
    current_test = "keys_from_signing_keys";
    uint8_t seed[32], ed_public[32], ed_secret[64], x_secret[32], x_public[32], derived[32], expected[32];
    for (int i = 0; i < 32; i++) seed[i] = (uint8_t)i;
    CHECK_RC(lsx_noise_secret_key_from_signing_seed(x_secret, seed), LSX_OK);
    from_hex(expected, "3894eea49c580aef816935762be049559d6d1440dede12e6a125f1841fff8e6f");
    CHECK(memcmp(x_secret, expected, 32) == 0);
    from_hex(ed_public, "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8");
    CHECK_RC(lsx_noise_public_key_from_signing_key(x_public, ed_public), LSX_OK);
    from_hex(expected, "4701d08488451f545a409fb58ae3e58581ca40ac3f7f114698cd71deac73ca01");
    CHECK(memcmp(x_public, expected, 32) == 0);
    for (int round = 0; round < 16; round++) {
        randombytes_buf(seed, sizeof seed);
        CHECK(crypto_sign_seed_keypair(ed_public, ed_secret, seed) == 0);
        CHECK_RC(lsx_noise_secret_key_from_signing_seed(x_secret, seed), LSX_OK);
        CHECK_RC(lsx_noise_public_key(derived, x_secret), LSX_OK);
        CHECK_RC(lsx_noise_public_key_from_signing_key(x_public, ed_public), LSX_OK);
        CHECK(memcmp(derived, x_public, 32) == 0);
    }
    /* A handshake between converted keys completes. */
    uint8_t responder_seed[32], responder_secret[32], responder_public[32], responder_ed[32], scratch[64];
    randombytes_buf(responder_seed, sizeof responder_seed);
    CHECK(crypto_sign_seed_keypair(responder_ed, scratch, responder_seed) == 0);
    CHECK_RC(lsx_noise_secret_key_from_signing_seed(responder_secret, responder_seed), LSX_OK);
    CHECK_RC(lsx_noise_public_key_from_signing_key(responder_public, responder_ed), LSX_OK);
    lsx_noise_handshake *i = NULL, *r = NULL;
    CHECK_RC(lsx_noise_handshake_create(&i, LSX_NOISE_PROTOCOL_XK, LSX_NOISE_INITIATOR, NULL, 0, x_secret,
                                        responder_public, NULL, 0), LSX_OK);
    CHECK_RC(lsx_noise_handshake_create(&r, LSX_NOISE_PROTOCOL_XK, LSX_NOISE_RESPONDER, NULL, 0, responder_secret,
                                        NULL, NULL, 0), LSX_OK);
    uint8_t message[128], payload[128];
    size_t len, plen;
    for (int m = 0; m < 3; m++) {
        lsx_noise_handshake *writer = m % 2 == 0 ? i : r, *reader = m % 2 == 0 ? r : i;
        CHECK_RC(lsx_noise_handshake_write_message(message, sizeof message, &len, writer, NULL, 0), LSX_OK);
        CHECK_RC(lsx_noise_handshake_read_message(payload, sizeof payload, &plen, reader, message, len), LSX_OK);
    }
    CHECK_RC(lsx_noise_handshake_remote_static(derived, r), LSX_OK);
    CHECK(memcmp(derived, x_public, 32) == 0);
    lsx_noise_handshake_destroy(i);
    lsx_noise_handshake_destroy(r);
    /* Keys that are not points of the prime-order group are refused; so are NULLs. */
    uint8_t identity_point[32] = {1}; /* y = 1: the neutral element, of small order */
    CHECK_RC(lsx_noise_public_key_from_signing_key(x_public, identity_point), LSX_ERR_LOW_ORDER);
    uint8_t off_curve[32];
    memset(off_curve, 0xff, sizeof off_curve); /* y >= p: not canonical */
    off_curve[31] = 0x7f;
    CHECK_RC(lsx_noise_public_key_from_signing_key(x_public, off_curve), LSX_ERR_LOW_ORDER);
    CHECK_RC(lsx_noise_public_key_from_signing_key(NULL, ed_public), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_noise_secret_key_from_signing_seed(x_secret, NULL), LSX_ERR_ARGUMENT);
    sodium_memzero(ed_secret, sizeof ed_secret);
    sodium_memzero(scratch, sizeof scratch);
}

int main(void) {
    if (sodium_init() < 0) {
        fprintf(stderr, "sodium_init failed\n");
        return 2;
    }
    CHECK_RC(lsx_noise_keypair(k.initiator_public, k.initiator_secret), LSX_OK);
    CHECK_RC(lsx_noise_keypair(k.responder_public, k.responder_secret), LSX_OK);
    randombytes_buf(k.psks, sizeof k.psks);
    test_sizes();
    test_hmac_and_hkdf();
    test_xk_round_trip();
    test_every_pattern();
    test_protocol_names();
    test_key_requirements();
    test_turns();
    test_tampered_handshake();
    test_payload_buffer_too_small();
    test_replays();
    test_wrong_responder_key();
    test_low_order_points();
    test_transport_failures();
    test_nonce_exhaustion();
    test_rekey();
    test_keys_from_signing_keys();
    printf("noise: %d passed, %d failed\n", checks_run - checks_failed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}
