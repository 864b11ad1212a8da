/* libFuzzer target for the Noise core: handshake messages read by an XK
 * responder and initiator, transport messages decrypted, and handshakes and
 * transport messages made properly and then changed in one byte.
 *
 * Input: byte 0's low two bits pick the mode (fuzz_noise_common.h); the rest
 * is cut into chunks, each a 2-byte big-endian length and that many bytes
 * (fewer at the end of the input). Numbers past the end read as zero. */
#include "fuzz_noise_common.h"
#include "noise_internal.h"

/* A cipher pair in its first state: each input starts from a copy, so that
 * it runs the same however often it comes. */
static lsx_noise_cipher *first_send, *first_receive;
static lsx_noise_cipher send_copy, receive_copy;
static uint8_t frame[LSX_NOISE_MAX_MESSAGE_BYTES], payload[LSX_NOISE_MAX_MESSAGE_BYTES];
static uint8_t made[LSX_NOISE_MAX_MESSAGE_BYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    lsx_fuzz_noise_transcript transcript;
    if (sodium_init() < 0) abort();
    lsx_fuzz_noise_session(&transcript, &first_send, &first_receive);
    return 0;
}

/* The next chunk, or 0 when the input is used up. */
static int next_chunk(fuzz_reader *r, const uint8_t **chunk, size_t *len) {
    if (r->pos >= r->size) return 0;
    size_t want = fuzz_read_number(r, LSX_FUZZ_NOISE_LENGTH_BYTES);
    const size_t left = r->pos < r->size ? r->size - r->pos : 0;
    *len = want < left ? want : left;
    *chunk = r->data + (r->pos < r->size ? r->pos : 0);
    r->pos += *len;
    return 1;
}

/* A read either succeeds or leaves the handshake failed for good. */
static int read_checked(lsx_noise_handshake *hs, const uint8_t *message, size_t len) {
    size_t payload_len = 0;
    memcpy(made, message, len); /* a copy: the input buffer must not alias the payload */
    int rc = lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, hs, made, len);
    fuzz_check_code(rc);
    if (rc == LSX_OK) {
        FUZZ_ASSERT(payload_len <= len);
        return rc;
    }
    FUZZ_ASSERT(rc == LSX_ERR_MAC || rc == LSX_ERR_LENGTH || rc == LSX_ERR_LOW_ORDER);
    FUZZ_ASSERT(lsx_noise_handshake_next_step(hs) == LSX_NOISE_STEP_FAILED);
    FUZZ_ASSERT(lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, hs, made, len) ==
                    LSX_ERR_NOISE_STATE);
    return rc;
}

static void write_checked(uint8_t *message, size_t *len, lsx_noise_handshake *hs, const uint8_t *body, size_t n) {
    const size_t expected = lsx_noise_handshake_message_bytes(hs, n);
    int rc = lsx_noise_handshake_write_message(message, LSX_NOISE_MAX_MESSAGE_BYTES, len, hs, body, n);
    fuzz_check_code(rc);
    FUZZ_ASSERT(expected == 0 ? rc == LSX_ERR_LENGTH : rc == LSX_OK && *len == expected);
}

static void split_and_free(lsx_noise_handshake *hs) {
    lsx_noise_cipher *send = NULL, *receive = NULL;
    if (lsx_noise_handshake_next_step(hs) == LSX_NOISE_STEP_SPLIT)
        FUZZ_ASSERT(lsx_noise_handshake_split(&send, &receive, hs) == LSX_OK);
    lsx_noise_cipher_destroy(send);
    lsx_noise_cipher_destroy(receive);
    lsx_noise_handshake_destroy(hs);
}

static void responder_reads(fuzz_reader *r) {
    lsx_noise_handshake *hs = lsx_fuzz_noise_side(LSX_NOISE_RESPONDER);
    const uint8_t *chunk;
    size_t len, message_len;
    if (next_chunk(r, &chunk, &len) && read_checked(hs, chunk, len) == LSX_OK) {
        write_checked(frame, &message_len, hs, NULL, 0);
        if (next_chunk(r, &chunk, &len) && read_checked(hs, chunk, len) == LSX_OK) {
            uint8_t learned[LSX_NOISE_PUBLIC_KEY_BYTES];
            FUZZ_ASSERT(lsx_noise_handshake_next_step(hs) == LSX_NOISE_STEP_SPLIT);
            FUZZ_ASSERT(lsx_noise_handshake_remote_static(learned, hs) == LSX_OK);
        }
    }
    split_and_free(hs);
}

static void initiator_reads(fuzz_reader *r) {
    lsx_noise_handshake *hs = lsx_fuzz_noise_side(LSX_NOISE_INITIATOR);
    const uint8_t *chunk;
    size_t len, message_len;
    write_checked(frame, &message_len, hs, NULL, 0);
    if (next_chunk(r, &chunk, &len) && read_checked(hs, chunk, len) == LSX_OK) {
        write_checked(frame, &message_len, hs, chunk, len < 64 ? len : 64);
        FUZZ_ASSERT(lsx_noise_handshake_next_step(hs) == LSX_NOISE_STEP_SPLIT);
    }
    split_and_free(hs);
}

/* Raw: each chunk is decrypted as it comes. Made (bit 2 of byte 0): each
 * chunk is a plaintext, encrypted, then changed at a fuzzed position by a
 * fuzzed mask, then decrypted: it must come back whole exactly when nothing
 * changed. Either way, after the first failure nothing decrypts again. */
static void transport(fuzz_reader *r, int made_frames) {
    const uint8_t *chunk;
    size_t len, frame_len, plain_len;
    int ended = 0;
    send_copy = *first_send;
    receive_copy = *first_receive;
    while (next_chunk(r, &chunk, &len)) {
        int changed = 0;
        if (made_frames) {
            const size_t at = fuzz_read_number(r, 2);
            const uint8_t mask = (uint8_t)fuzz_read_number(r, 1);
            if (len > LSX_NOISE_MAX_PLAINTEXT_BYTES) len = LSX_NOISE_MAX_PLAINTEXT_BYTES;
            memcpy(frame, chunk, len);
            FUZZ_ASSERT(lsx_noise_cipher_encrypt(frame, sizeof frame, &frame_len, &send_copy, len) == LSX_OK);
            changed = mask != 0 && at < frame_len;
            if (changed) frame[at] ^= mask;
        } else {
            memcpy(frame, chunk, len);
            frame_len = len;
        }
        const uint64_t nonce = lsx_noise_cipher_nonce(&receive_copy);
        int rc = lsx_noise_cipher_decrypt(frame, &plain_len, &receive_copy, frame_len);
        fuzz_check_code(rc);
        if (ended) {
            FUZZ_ASSERT(rc == LSX_ERR_NOISE_STATE);
            continue;
        }
        if (made_frames) FUZZ_ASSERT((rc == LSX_OK) == !changed);
        if (rc == LSX_OK) {
            FUZZ_ASSERT(plain_len + LSX_NOISE_TAG_BYTES == frame_len);
            FUZZ_ASSERT(lsx_noise_cipher_nonce(&receive_copy) == nonce + 1);
            if (made_frames) FUZZ_ASSERT(len == 0 || memcmp(frame, chunk, len) == 0);
        } else {
            FUZZ_ASSERT(rc == LSX_ERR_MAC || rc == LSX_ERR_LENGTH);
            FUZZ_ASSERT(lsx_noise_cipher_nonce(&receive_copy) == LSX_NOISE_RESERVED_NONCE);
            ended = 1;
        }
    }
}

/* A whole XK handshake with fuzzed payloads; one byte of one message changed
 * (unless the mask is zero or the position past the end). The reader must
 * refuse exactly the changed message; an unchanged run must agree on the
 * hash and carry one transport message. */
static void tamper(fuzz_reader *r) {
    lsx_noise_handshake *side[2] = {lsx_fuzz_noise_side(LSX_NOISE_INITIATOR), lsx_fuzz_noise_side(LSX_NOISE_RESPONDER)};
    const size_t which = fuzz_read_number(r, 1) % 3, at = fuzz_read_number(r, 2);
    const uint8_t mask = (uint8_t)fuzz_read_number(r, 1);
    int refused = 0;
    for (size_t m = 0; m < 3 && !refused; m++) {
        const uint8_t *chunk = NULL;
        size_t len = 0, message_len;
        if (!next_chunk(r, &chunk, &len)) len = 0;
        if (len > 1024) len = 1024;
        write_checked(made, &message_len, side[m % 2], chunk, len);
        const int changed = m == which && mask != 0 && at < message_len;
        if (changed) made[at] ^= mask;
        size_t payload_len;
        int rc = lsx_noise_handshake_read_message(payload, sizeof payload, &payload_len, side[1 - m % 2], made,
                                                  message_len);
        fuzz_check_code(rc);
        FUZZ_ASSERT((rc == LSX_OK) == !changed);
        if (rc == LSX_OK) FUZZ_ASSERT(payload_len == len && (len == 0 || memcmp(payload, chunk, len) == 0));
        refused = rc != LSX_OK;
    }
    if (!refused) {
        uint8_t hash[2][LSX_NOISE_HASH_BYTES];
        FUZZ_ASSERT(lsx_noise_handshake_hash(hash[0], side[0]) == LSX_OK);
        FUZZ_ASSERT(lsx_noise_handshake_hash(hash[1], side[1]) == LSX_OK);
        FUZZ_ASSERT(memcmp(hash[0], hash[1], sizeof hash[0]) == 0);
        lsx_noise_cipher *send[2], *receive[2];
        FUZZ_ASSERT(lsx_noise_handshake_split(&send[0], &receive[0], side[0]) == LSX_OK);
        FUZZ_ASSERT(lsx_noise_handshake_split(&send[1], &receive[1], side[1]) == LSX_OK);
        size_t frame_len, plain_len;
        memcpy(frame, "frame", 5);
        FUZZ_ASSERT(lsx_noise_cipher_encrypt(frame, sizeof frame, &frame_len, send[1], 5) == LSX_OK);
        FUZZ_ASSERT(lsx_noise_cipher_decrypt(frame, &plain_len, receive[0], frame_len) == LSX_OK);
        FUZZ_ASSERT(plain_len == 5 && memcmp(frame, "frame", 5) == 0);
        for (int i = 0; i < 2; i++) {
            lsx_noise_cipher_destroy(send[i]);
            lsx_noise_cipher_destroy(receive[i]);
        }
    }
    lsx_noise_handshake_destroy(side[0]);
    lsx_noise_handshake_destroy(side[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    fuzz_reader r = {data, size, 1};
    switch (data[0] & 3) {
    case LSX_FUZZ_NOISE_RESPONDER_READS: responder_reads(&r); break;
    case LSX_FUZZ_NOISE_INITIATOR_READS: initiator_reads(&r); break;
    case LSX_FUZZ_NOISE_TRANSPORT: transport(&r, data[0] & 4); break;
    default: tamper(&r); break;
    }
    return 0;
}
