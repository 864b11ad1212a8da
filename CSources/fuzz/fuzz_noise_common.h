/* What the Noise fuzz target and its seed writer share: fixed static and
 * ephemeral keys, so that a transcript made once stays valid input, and the
 * length-prefixed chunks an input is cut into. */
#ifndef LSX_FUZZ_NOISE_COMMON_H
#define LSX_FUZZ_NOISE_COMMON_H

#include "fuzz_common.h"
#include "loopix_noise.h"
#include "loopix_test_hooks.h"

/* The first input byte's low two bits pick the mode. */
enum {
    LSX_FUZZ_NOISE_RESPONDER_READS = 0, /* chunks: message 1, message 3 to an XK responder */
    LSX_FUZZ_NOISE_INITIATOR_READS = 1, /* chunk: message 2 to an XK initiator */
    LSX_FUZZ_NOISE_TRANSPORT = 2,       /* chunks: transport messages (bit 2: made, then perhaps changed) */
    LSX_FUZZ_NOISE_TAMPER = 3           /* a whole handshake with one byte of one message changed */
};

#define LSX_FUZZ_NOISE_PROLOGUE "loopix-noise-fuzz"
/* Bytes of the length that opens each chunk (big-endian). */
#define LSX_FUZZ_NOISE_LENGTH_BYTES 2

/* BLAKE2b(label): the fixed keys. */
static inline void lsx_fuzz_noise_secret(uint8_t secret[LSX_NOISE_SECRET_KEY_BYTES], const char *label) {
    crypto_generichash(secret, LSX_NOISE_SECRET_KEY_BYTES, (const uint8_t *)label, strlen(label), NULL, 0);
}

/* One side of an XK handshake with its role's fixed static and ephemeral keys. */
static inline lsx_noise_handshake *lsx_fuzz_noise_side(lsx_noise_role role) {
    uint8_t initiator_static[32], responder_static[32], responder_public[32], ephemeral[32];
    lsx_noise_handshake *hs = NULL;
    const int initiator = role == LSX_NOISE_INITIATOR;
    lsx_fuzz_noise_secret(initiator_static, "loopix-noise-fuzz/initiator");
    lsx_fuzz_noise_secret(responder_static, "loopix-noise-fuzz/responder");
    lsx_fuzz_noise_secret(ephemeral, initiator ? "loopix-noise-fuzz/initiator-e" : "loopix-noise-fuzz/responder-e");
    FUZZ_ASSERT(lsx_noise_public_key(responder_public, responder_static) == LSX_OK);
    FUZZ_ASSERT(lsx_noise_handshake_create(&hs, LSX_NOISE_PROTOCOL_XK, role,
                                               (const uint8_t *)LSX_FUZZ_NOISE_PROLOGUE,
                                               strlen(LSX_FUZZ_NOISE_PROLOGUE),
                                               initiator ? initiator_static : responder_static,
                                               initiator ? responder_public : NULL, NULL, 0) == LSX_OK);
    FUZZ_ASSERT(lsx_test_noise_fix_ephemeral(hs, ephemeral) == LSX_OK);
    return hs;
}

/* The fixed session: the three messages (empty payloads) and, if wanted,
 * the initiator's sending and the responder's receiving cipher. */
typedef struct lsx_fuzz_noise_transcript {
    uint8_t message[3][LSX_NOISE_XK_MESSAGE3_BYTES(0)];
    size_t message_len[3];
} lsx_fuzz_noise_transcript;

static inline void lsx_fuzz_noise_session(lsx_fuzz_noise_transcript *t, lsx_noise_cipher **send,
                                          lsx_noise_cipher **receive) {
    lsx_noise_handshake *side[2] = {lsx_fuzz_noise_side(LSX_NOISE_INITIATOR), lsx_fuzz_noise_side(LSX_NOISE_RESPONDER)};
    lsx_noise_cipher *unused[2] = {NULL, NULL};
    size_t payload_len;
    for (int m = 0; m < 3; m++) {
        FUZZ_ASSERT(lsx_noise_handshake_write_message(t->message[m], sizeof t->message[m], &t->message_len[m],
                                                          side[m % 2], NULL, 0) == LSX_OK);
        FUZZ_ASSERT(lsx_noise_handshake_read_message(NULL, 0, &payload_len, side[1 - m % 2], t->message[m],
                                                         t->message_len[m]) == LSX_OK);
    }
    lsx_noise_cipher *initiator_send, *responder_receive;
    FUZZ_ASSERT(lsx_noise_handshake_split(&initiator_send, &unused[0], side[0]) == LSX_OK);
    FUZZ_ASSERT(lsx_noise_handshake_split(&unused[1], &responder_receive, side[1]) == LSX_OK);
    if (send != NULL) *send = initiator_send;
    else lsx_noise_cipher_destroy(initiator_send);
    if (receive != NULL) *receive = responder_receive;
    else lsx_noise_cipher_destroy(responder_receive);
    lsx_noise_cipher_destroy(unused[0]);
    lsx_noise_cipher_destroy(unused[1]);
    lsx_noise_handshake_destroy(side[0]);
    lsx_noise_handshake_destroy(side[1]);
}

#endif
