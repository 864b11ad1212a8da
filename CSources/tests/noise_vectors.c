/* Replays a file of Noise test vectors (the Noise wiki's format, as cacophony
 * and snow publish them) through the C core: both sides of every handshake
 * with the vector's keys and ephemerals, each message byte for byte, the
 * handshake hash, the learned static keys and every transport message.
 * Prints, per protocol name, how many vectors it reproduced out of how many
 * it found and how many it skipped because the library does not implement
 * them (another DH, cipher or hash, or a modifier such as fallback).
 *
 * Usage: noise_vectors [--strict] FILE.json
 *   exits 1 if a supported vector fails; with --strict also if the file holds
 *   none or any is skipped (for the project's own copy, which must pass whole). */
#include "json.h"
#include "loopix_noise.h"
#include "loopix_test_hooks.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REPRODUCED, FAILED, SKIPPED };

typedef struct tally {
    char *name;
    int found, outcome[3];
} tally;

typedef struct tallies {
    tally *items;
    size_t count;
} tallies;

static tally *tally_for(tallies *t, const char *name) {
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->items[i].name, name) == 0) return &t->items[i];
    t->items = realloc(t->items, (t->count + 1) * sizeof *t->items);
    tally *new_tally = &t->items[t->count++];
    memset(new_tally, 0, sizeof *new_tally);
    new_tally->name = strdup(name);
    return new_tally;
}

/* One side of a vector: its handshake, its ciphers after the split, and the
 * static public key it holds (to check what the peer learns). */
typedef struct side {
    const char *label;
    lsx_noise_handshake *handshake;
    lsx_noise_cipher *send, *receive;
    uint8_t static_public[LSX_NOISE_PUBLIC_KEY_BYTES];
    int has_static;
} side;

static void side_free(side *s) {
    lsx_noise_handshake_destroy(s->handshake);
    lsx_noise_cipher_destroy(s->send);
    lsx_noise_cipher_destroy(s->receive);
}

/* The reason a vector failed, for the report. */
static char reason[256];

static int failure(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(reason, sizeof reason, format, args);
    va_end(args);
    return FAILED;
}

static int hex_field(uint8_t **out, size_t *len, const json *vector, const char *prefix, const char *field) {
    char key[64];
    snprintf(key, sizeof key, "%s_%s", prefix, field);
    *out = json_hex(vector, key, len);
    return *out != NULL;
}

/* Sets up one side from the vector's "init_" or "resp_" fields. */
static int side_create(side *s, const json *vector, const char *prefix, lsx_noise_role role) {
    uint8_t *prologue, *static_secret, *remote_static, *ephemeral, *psks = NULL;
    size_t prologue_len, len, psk_count = 0;
    char key[64];
    const char *name = json_string(vector, "protocol_name");
    hex_field(&prologue, &prologue_len, vector, prefix, "prologue");
    hex_field(&static_secret, &len, vector, prefix, "static");
    int ok = static_secret == NULL || len == LSX_NOISE_SECRET_KEY_BYTES;
    hex_field(&remote_static, &len, vector, prefix, "remote_static");
    ok = ok && (remote_static == NULL || len == LSX_NOISE_PUBLIC_KEY_BYTES);
    hex_field(&ephemeral, &len, vector, prefix, "ephemeral");
    ok = ok && (ephemeral == NULL || len == LSX_NOISE_SECRET_KEY_BYTES);
    snprintf(key, sizeof key, "%s_psks", prefix);
    const json *psk_list = json_get(vector, key);
    if (psk_list != NULL && psk_list->kind == JSON_ARRAY && psk_list->count > 0) {
        psk_count = psk_list->count;
        psks = malloc(psk_count * LSX_NOISE_PSK_BYTES);
        for (size_t i = 0; i < psk_count; i++) {
            uint8_t *psk = json_hex_value(psk_list->items[i], &len);
            ok = ok && psk != NULL && len == LSX_NOISE_PSK_BYTES;
            if (psk != NULL && len == LSX_NOISE_PSK_BYTES) memcpy(psks + i * LSX_NOISE_PSK_BYTES, psk, len);
            free(psk);
        }
    }
    int rc = ok ? lsx_noise_handshake_create(&s->handshake, name, role, prologue, prologue_len, static_secret,
                                             remote_static, psks, psk_count)
                : LSX_ERR_LENGTH;
    if (rc == LSX_OK && ephemeral != NULL) rc = lsx_test_noise_fix_ephemeral(s->handshake, ephemeral);
    s->has_static = static_secret != NULL && lsx_noise_public_key(s->static_public, static_secret) == LSX_OK;
    free(prologue);
    free(static_secret);
    free(remote_static);
    free(ephemeral);
    free(psks);
    return rc;
}

static uint8_t buffer[LSX_NOISE_MAX_MESSAGE_BYTES], plain[LSX_NOISE_MAX_MESSAGE_BYTES];

/* Whether `receiver` learned the static key `sender` holds, as every pattern
 * in which a side has a static key makes its peer do. */
static int learned_static(const side *receiver, const side *sender) {
    uint8_t learned[LSX_NOISE_PUBLIC_KEY_BYTES];
    if (!sender->has_static) return lsx_noise_handshake_remote_static(learned, receiver->handshake) != LSX_OK;
    return lsx_noise_handshake_remote_static(learned, receiver->handshake) == LSX_OK &&
           memcmp(learned, sender->static_public, sizeof learned) == 0;
}

static int finish_handshake(side *initiator, side *responder, const json *vector) {
    uint8_t hash[2][LSX_NOISE_HASH_BYTES];
    size_t expected_len;
    if (lsx_noise_handshake_hash(hash[0], initiator->handshake) != LSX_OK ||
        lsx_noise_handshake_hash(hash[1], responder->handshake) != LSX_OK)
        return failure("the handshake did not complete on both sides");
    uint8_t *expected = json_hex(vector, "handshake_hash", &expected_len);
    const int hash_ok = expected == NULL || (expected_len == LSX_NOISE_HASH_BYTES &&
                                             memcmp(expected, hash[0], expected_len) == 0);
    free(expected);
    if (!hash_ok || memcmp(hash[0], hash[1], sizeof hash[0]) != 0) return failure("handshake hash differs");
    if (!learned_static(initiator, responder) || !learned_static(responder, initiator))
        return failure("a side did not learn its peer's static key");
    if (lsx_noise_handshake_split(&initiator->send, &initiator->receive, initiator->handshake) != LSX_OK ||
        lsx_noise_handshake_split(&responder->send, &responder->receive, responder->handshake) != LSX_OK)
        return failure("split failed");
    return REPRODUCED;
}

/* One message: the sender makes it (handshake or transport), it must equal
 * the vector's ciphertext, and the receiver must get the payload back. */
static int replay_message(side *sender, side *receiver, const json *message, size_t index, int transport) {
    size_t payload_len, expected_len, len = 0, got_len = 0;
    uint8_t *payload = json_hex(message, "payload", &payload_len);
    uint8_t *expected = json_hex(message, "ciphertext", &expected_len);
    int outcome = REPRODUCED, rc;
    if (payload == NULL || expected == NULL || payload_len > LSX_NOISE_MAX_PLAINTEXT_BYTES ||
        expected_len > sizeof buffer) {
        outcome = failure("message %zu lacks a payload or ciphertext, or is too long", index);
        goto done;
    }
    if (transport) {
        memcpy(buffer, payload, payload_len);
        rc = lsx_noise_cipher_encrypt(buffer, sizeof buffer, &len, sender->send, payload_len);
    } else {
        rc = lsx_noise_handshake_write_message(buffer, sizeof buffer, &len, sender->handshake, payload, payload_len);
    }
    if (rc != LSX_OK || len != expected_len || memcmp(buffer, expected, len) != 0) {
        outcome = failure("message %zu (%s, by the %s) %s", index, transport ? "transport" : "handshake",
                          sender->label, rc != LSX_OK ? lsx_error_name(rc) : "differs from the vector");
        goto done;
    }
    if (transport) {
        rc = lsx_noise_cipher_decrypt(buffer, &got_len, receiver->receive, len);
        memcpy(plain, buffer, got_len);
    } else {
        rc = lsx_noise_handshake_read_message(plain, sizeof plain, &got_len, receiver->handshake, buffer, len);
    }
    if (rc != LSX_OK || got_len != payload_len || memcmp(plain, payload, got_len) != 0)
        outcome = failure("message %zu: the %s read %s", index, receiver->label,
                          rc != LSX_OK ? lsx_error_name(rc) : "another payload");
done:
    free(payload);
    free(expected);
    return outcome;
}

static int replay(const json *vector) {
    side initiator = {.label = "initiator"}, responder = {.label = "responder"};
    const json *messages = json_get(vector, "messages");
    int outcome = REPRODUCED, rc;
    reason[0] = '\0';
    if (lsx_noise_protocol_check(json_string(vector, "protocol_name")) != LSX_OK) {
        outcome = SKIPPED;
        goto done;
    }
    if ((rc = side_create(&initiator, vector, "init", LSX_NOISE_INITIATOR)) != LSX_OK ||
        (rc = side_create(&responder, vector, "resp", LSX_NOISE_RESPONDER)) != LSX_OK) {
        outcome = failure("set-up: %s", lsx_error_name(rc));
        goto done;
    }
    if (messages == NULL || messages->kind != JSON_ARRAY || messages->count == 0) {
        outcome = failure("no messages");
        goto done;
    }
    /* Handshake messages alternate; transport messages alternate too, except
     * after a one-way pattern (one handshake message), where only the
     * initiator sends. */
    size_t handshake_messages = 0;
    for (size_t i = 0; i < messages->count && outcome == REPRODUCED; i++) {
        const int transport = lsx_noise_handshake_next_step(initiator.handshake) == LSX_NOISE_STEP_DONE;
        const int initiator_sends = transport && handshake_messages == 1 ? 1 : i % 2 == 0;
        side *sender = initiator_sends ? &initiator : &responder, *receiver = initiator_sends ? &responder : &initiator;
        if (!transport && lsx_noise_handshake_next_step(sender->handshake) != LSX_NOISE_STEP_WRITE) {
            outcome = failure("message %zu: the %s does not expect to write", i, sender->label);
            break;
        }
        outcome = replay_message(sender, receiver, messages->items[i], i, transport);
        if (transport || outcome != REPRODUCED) continue;
        handshake_messages++;
        if (lsx_noise_handshake_next_step(initiator.handshake) == LSX_NOISE_STEP_SPLIT)
            outcome = finish_handshake(&initiator, &responder, vector);
    }
    if (outcome == REPRODUCED && lsx_noise_handshake_next_step(initiator.handshake) != LSX_NOISE_STEP_DONE)
        outcome = failure("the vector ends before the handshake does");
done:
    side_free(&initiator);
    side_free(&responder);
    return outcome;
}

int main(int argc, char **argv) {
    int strict = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--strict") == 0) strict = 1;
        else if (path == NULL) path = argv[i];
        else path = NULL, i = argc;
    }
    if (path == NULL) {
        fprintf(stderr, "usage: %s [--strict] FILE.json\n", argv[0]);
        return 2;
    }
    json *doc = json_parse_file(path);
    const json *vectors = json_get(doc, "vectors");
    if (vectors == NULL || vectors->kind != JSON_ARRAY) {
        fprintf(stderr, "noise_vectors: %s: not a JSON file with a \"vectors\" array\n", path);
        json_free(doc);
        return 2;
    }
    tallies t = {0};
    int totals[3] = {0};
    const size_t found = vectors->count;
    for (size_t i = 0; i < vectors->count; i++) {
        const char *name = json_string(vectors->items[i], "protocol_name");
        tally *entry = tally_for(&t, name != NULL ? name : "(no protocol_name)");
        const int outcome = name != NULL ? replay(vectors->items[i]) : failure("no protocol_name");
        entry->found++;
        entry->outcome[outcome]++;
        totals[outcome]++;
        if (outcome == FAILED) fprintf(stderr, "FAIL %s (vector %zu): %s\n", entry->name, i, reason);
    }
    for (size_t i = 0; i < t.count; i++) {
        const tally *e = &t.items[i];
        printf("%-44s %d/%d reproduced", e->name, e->outcome[REPRODUCED], e->found);
        if (e->outcome[SKIPPED] > 0) printf(", %d skipped (unsupported)", e->outcome[SKIPPED]);
        if (e->outcome[FAILED] > 0) printf(", %d FAILED", e->outcome[FAILED]);
        printf("\n");
        free(e->name);
    }
    printf("noise-vectors: %zu vectors in %s: %d reproduced, %d failed, %d skipped as unsupported\n", found, path, totals[REPRODUCED], totals[FAILED], totals[SKIPPED]);
    free(t.items);
    json_free(doc);
    if (totals[FAILED] > 0) return 1;
    if (strict && (found == 0 || totals[SKIPPED] > 0)) {
        fprintf(stderr, "noise-vectors: --strict: every vector must be supported and there must be some\n");
        return 1;
    }
    return 0;
}
