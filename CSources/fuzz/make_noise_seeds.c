/* Writes a starting corpus for fuzz_noise: the fixed session's real handshake
 * messages and transport messages, so that mutations start past the tags,
 * and inputs for the modes that make their own messages.
 * Usage: make_noise_seeds DIR */
#include "fuzz_noise_common.h"

static const char *dir;

typedef struct seed {
    uint8_t bytes[8192];
    size_t len;
} seed;

static void put(seed *s, const void *bytes, size_t n) {
    if (s->len + n > sizeof s->bytes) abort();
    memcpy(s->bytes + s->len, bytes, n);
    s->len += n;
}

static void put_number(seed *s, size_t value, size_t bytes) {
    for (size_t i = bytes; i-- > 0;) {
        const uint8_t b = (uint8_t)(value >> (8 * i));
        put(s, &b, 1);
    }
}

static void put_chunk(seed *s, const void *bytes, size_t n) {
    put_number(s, n, LSX_FUZZ_NOISE_LENGTH_BYTES);
    put(s, bytes, n);
}

static void write_seed(const char *name, const seed *s) {
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(s->bytes, 1, s->len, f) != s->len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 2 || sodium_init() < 0) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    lsx_fuzz_noise_transcript t;
    lsx_noise_cipher *send;
    lsx_fuzz_noise_session(&t, &send, NULL);

    seed s = {.len = 0};
    put_number(&s, LSX_FUZZ_NOISE_RESPONDER_READS, 1);
    put_chunk(&s, t.message[0], t.message_len[0]);
    put_chunk(&s, t.message[2], t.message_len[2]);
    write_seed("responder", &s);

    s.len = 0;
    put_number(&s, LSX_FUZZ_NOISE_INITIATOR_READS, 1);
    put_chunk(&s, t.message[1], t.message_len[1]);
    write_seed("initiator", &s);

    /* Three real transport messages of 0, 20 and 2,500 bytes, in order. */
    s.len = 0;
    put_number(&s, LSX_FUZZ_NOISE_TRANSPORT, 1);
    const size_t plain[3] = {0, 20, 2500};
    for (int i = 0; i < 3; i++) {
        uint8_t frame[2500 + LSX_NOISE_TAG_BYTES];
        size_t frame_len;
        memset(frame, 'a' + i, plain[i]);
        if (lsx_noise_cipher_encrypt(frame, sizeof frame, &frame_len, send, plain[i]) != LSX_OK) return 1;
        put_chunk(&s, frame, frame_len);
    }
    write_seed("transport", &s);
    lsx_noise_cipher_destroy(send);

    /* Made transport messages: each plaintext, then where to change it and how. */
    s.len = 0;
    put_number(&s, LSX_FUZZ_NOISE_TRANSPORT | 4, 1);
    put_chunk(&s, "abc", 3);
    put_number(&s, 0, 2);
    put_number(&s, 0, 1);
    put_chunk(&s, "defgh", 5);
    put_number(&s, 4, 2);
    put_number(&s, 0x20, 1);
    write_seed("transport-made", &s);

    /* A handshake: which message to change, where, how; then the three payloads. */
    s.len = 0;
    put_number(&s, LSX_FUZZ_NOISE_TAMPER, 1);
    put_number(&s, 2, 1);
    put_number(&s, 40, 2);
    put_number(&s, 0, 1);
    put_chunk(&s, "one", 3);
    put_chunk(&s, "two", 3);
    put_chunk(&s, "three", 5);
    write_seed("tamper", &s);
    printf("make_noise_seeds: wrote 5 seeds to %s\n", dir);
    return 0;
}
