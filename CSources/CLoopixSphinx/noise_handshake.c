/* The Noise HandshakeState (specification section 5.3): one engine that runs
 * any pattern of noise_patterns.c token by token, for either role. */
#include "noise_internal.h"

#include <stdint.h>
#include <stdlib.h>

/* ---- Sizes and keys ---- */

size_t lsx_noise_public_key_bytes(void) { return LSX_NOISE_PUBLIC_KEY_BYTES; }
size_t lsx_noise_secret_key_bytes(void) { return LSX_NOISE_SECRET_KEY_BYTES; }
size_t lsx_noise_key_bytes(void) { return LSX_NOISE_KEY_BYTES; }
size_t lsx_noise_psk_bytes(void) { return LSX_NOISE_PSK_BYTES; }
size_t lsx_noise_hash_bytes(void) { return LSX_NOISE_HASH_BYTES; }
size_t lsx_noise_tag_bytes(void) { return LSX_NOISE_TAG_BYTES; }
size_t lsx_noise_max_message_bytes(void) { return LSX_NOISE_MAX_MESSAGE_BYTES; }
size_t lsx_noise_max_plaintext_bytes(void) { return LSX_NOISE_MAX_PLAINTEXT_BYTES; }

size_t lsx_noise_xk_message_bytes(unsigned message_number, size_t payload_len) {
    size_t size;
    if (payload_len > LSX_NOISE_MAX_MESSAGE_BYTES) return 0;
    switch (message_number) {
    case 1: size = LSX_NOISE_XK_MESSAGE1_BYTES(payload_len); break;
    case 2: size = LSX_NOISE_XK_MESSAGE2_BYTES(payload_len); break;
    case 3: size = LSX_NOISE_XK_MESSAGE3_BYTES(payload_len); break;
    default: return 0;
    }
    return size <= LSX_NOISE_MAX_MESSAGE_BYTES ? size : 0;
}

static int sodium_ready(void) { return sodium_init() < 0 ? LSX_ERR_BACKEND : LSX_OK; }

int lsx_noise_public_key(uint8_t public_key[LSX_NOISE_PUBLIC_KEY_BYTES],
                         const uint8_t secret_key[LSX_NOISE_SECRET_KEY_BYTES]) {
    if (public_key == NULL || secret_key == NULL) return LSX_ERR_ARGUMENT;
    int rc = sodium_ready();
    if (rc != LSX_OK) return rc;
    /* The base point has no small order, so this only fails for a broken libsodium. */
    return crypto_scalarmult_base(public_key, secret_key) == 0 ? LSX_OK : LSX_ERR_BACKEND;
}

int lsx_noise_keypair(uint8_t public_key[LSX_NOISE_PUBLIC_KEY_BYTES], uint8_t secret_key[LSX_NOISE_SECRET_KEY_BYTES]) {
    if (public_key == NULL || secret_key == NULL) return LSX_ERR_ARGUMENT;
    int rc = sodium_ready();
    if (rc != LSX_OK) return rc;
    randombytes_buf(secret_key, LSX_NOISE_SECRET_KEY_BYTES);
    return lsx_noise_public_key(public_key, secret_key);
}

int lsx_noise_secret_key_from_signing_seed(uint8_t secret_key[LSX_NOISE_SECRET_KEY_BYTES],
                                           const uint8_t seed[LSX_SIGN_SEED_BYTES]) {
    if (secret_key == NULL || seed == NULL) return LSX_ERR_ARGUMENT;
    int rc = sodium_ready();
    if (rc != LSX_OK) return rc;
    uint8_t ed_public[crypto_sign_ed25519_PUBLICKEYBYTES];
    uint8_t ed_secret[crypto_sign_ed25519_SECRETKEYBYTES];
    rc = crypto_sign_ed25519_seed_keypair(ed_public, ed_secret, seed) == 0 &&
                 crypto_sign_ed25519_sk_to_curve25519(secret_key, ed_secret) == 0
             ? LSX_OK
             : LSX_ERR_BACKEND;
    sodium_memzero(ed_secret, sizeof ed_secret);
    if (rc != LSX_OK) sodium_memzero(secret_key, LSX_NOISE_SECRET_KEY_BYTES);
    return rc;
}

int lsx_noise_public_key_from_signing_key(uint8_t public_key[LSX_NOISE_PUBLIC_KEY_BYTES],
                                          const uint8_t signing_public_key[LSX_SIGN_PUBLIC_KEY_BYTES]) {
    if (public_key == NULL || signing_public_key == NULL) return LSX_ERR_ARGUMENT;
    int rc = sodium_ready();
    if (rc != LSX_OK) return rc;
    /* libsodium refuses small-order points, points off the curve and (since 1.0.16) points
     * outside the prime-order subgroup. */
    if (crypto_sign_ed25519_pk_to_curve25519(public_key, signing_public_key) != 0) {
        memset(public_key, 0, LSX_NOISE_PUBLIC_KEY_BYTES);
        return LSX_ERR_LOW_ORDER;
    }
    return LSX_OK;
}

/* ---- Whose turn, which keys ---- */

static int writes_message(lsx_noise_role role, size_t message_index) {
    return (message_index % 2 == 0) == (role == LSX_NOISE_INITIATOR);
}

static int has_token(const lsxi_noise_pattern *pattern, size_t message, lsxi_noise_token token) {
    for (size_t t = 0; t < pattern->token_count[message]; t++)
        if (pattern->tokens[message][t] == token) return 1;
    return 0;
}

/* A side has a static key when the peer knows it beforehand or when it sends it. */
static int uses_local_static(const lsxi_noise_pattern *pattern, lsx_noise_role role) {
    if (role == LSX_NOISE_INITIATOR ? pattern->initiator_static_known : pattern->responder_static_known) return 1;
    for (size_t m = 0; m < pattern->message_count; m++)
        if (writes_message(role, m) && has_token(pattern, m, LSXI_NOISE_TOKEN_S)) return 1;
    return 0;
}

static int knows_remote_static_beforehand(const lsxi_noise_pattern *pattern, lsx_noise_role role) {
    return role == LSX_NOISE_INITIATOR ? pattern->responder_static_known : pattern->initiator_static_known;
}

/* The bytes message `index` adds around its payload: public keys, the tag of
 * an encrypted static key, and the payload's tag once a key exists. Whether
 * a key exists at each point follows from the tokens alone, which lets both
 * sides check lengths before anything changes. */
static size_t message_overhead(const lsx_noise_handshake *hs, size_t index) {
    const lsxi_noise_pattern *pattern = &hs->pattern;
    int has_key = hs->symmetric.cipher.has_key;
    size_t overhead = 0;
    for (size_t t = 0; t < pattern->token_count[index]; t++) {
        switch (pattern->tokens[index][t]) {
        case LSXI_NOISE_TOKEN_E:
            overhead += LSX_NOISE_PUBLIC_KEY_BYTES;
            if (pattern->psk_count > 0) has_key = 1; /* PSK mode mixes e into the key */
            break;
        case LSXI_NOISE_TOKEN_S:
            overhead += LSX_NOISE_PUBLIC_KEY_BYTES + (has_key ? LSX_NOISE_TAG_BYTES : 0);
            break;
        default: has_key = 1; break; /* every DH and psk token calls MixKey */
        }
    }
    return overhead + (has_key ? LSX_NOISE_TAG_BYTES : 0);
}

size_t lsx_noise_handshake_message_bytes(const lsx_noise_handshake *handshake, size_t payload_len) {
    if (handshake == NULL || handshake->status != LSXI_NOISE_ACTIVE || payload_len > LSX_NOISE_MAX_MESSAGE_BYTES)
        return 0;
    const size_t size = message_overhead(handshake, handshake->message_index) + payload_len;
    return size <= LSX_NOISE_MAX_MESSAGE_BYTES ? size : 0;
}

lsx_noise_step lsx_noise_handshake_next_step(const lsx_noise_handshake *handshake) {
    if (handshake == NULL) return LSX_NOISE_STEP_FAILED;
    switch (handshake->status) {
    case LSXI_NOISE_ACTIVE:
        return writes_message(handshake->role, handshake->message_index) ? LSX_NOISE_STEP_WRITE : LSX_NOISE_STEP_READ;
    case LSXI_NOISE_COMPLETE: return LSX_NOISE_STEP_SPLIT;
    case LSXI_NOISE_SPLIT: return LSX_NOISE_STEP_DONE;
    default: return LSX_NOISE_STEP_FAILED;
    }
}

/* ---- Set-up ---- */

int lsx_noise_protocol_check(const char *protocol_name) {
    lsxi_noise_pattern pattern;
    return lsxi_noise_pattern_parse(&pattern, protocol_name);
}

int lsx_noise_handshake_create(lsx_noise_handshake **handshake, const char *protocol_name, lsx_noise_role role,
                               const uint8_t *prologue, size_t prologue_len,
                               const uint8_t local_static_secret[LSX_NOISE_SECRET_KEY_BYTES],
                               const uint8_t remote_static_public[LSX_NOISE_PUBLIC_KEY_BYTES], const uint8_t *psks,
                               size_t psk_count) {
    lsxi_noise_pattern pattern;
    if (handshake == NULL) return LSX_ERR_ARGUMENT;
    *handshake = NULL;
    if ((role != LSX_NOISE_INITIATOR && role != LSX_NOISE_RESPONDER) || (prologue == NULL && prologue_len > 0) ||
        (psks == NULL && psk_count > 0))
        return LSX_ERR_ARGUMENT;
    int rc = lsxi_noise_pattern_parse(&pattern, protocol_name);
    if (rc != LSX_OK) return rc;
    if ((local_static_secret != NULL) != uses_local_static(&pattern, role) ||
        (remote_static_public != NULL) != knows_remote_static_beforehand(&pattern, role) ||
        psk_count != pattern.psk_count)
        return LSX_ERR_NOISE_KEYS;
    if ((rc = sodium_ready()) != LSX_OK) return rc;

    lsx_noise_handshake *hs = calloc(1, sizeof *hs);
    if (hs == NULL) return LSX_ERR_NO_MEMORY;
    hs->pattern = pattern;
    hs->role = role;
    lsxi_noise_symmetric_init(&hs->symmetric, protocol_name);
    lsxi_noise_mix_hash(&hs->symmetric, prologue, prologue_len);
    if (local_static_secret != NULL) {
        memcpy(hs->s.secret, local_static_secret, LSX_NOISE_SECRET_KEY_BYTES);
        if ((rc = lsx_noise_public_key(hs->s.public_key, hs->s.secret)) != LSX_OK) {
            lsx_noise_handshake_destroy(hs);
            return rc;
        }
        hs->s.present = 1;
    }
    if (remote_static_public != NULL) {
        memcpy(hs->rs, remote_static_public, LSX_NOISE_PUBLIC_KEY_BYTES);
        hs->has_rs = 1;
    }
    /* Pre-messages: the initiator's static key first, then the responder's. */
    if (pattern.initiator_static_known)
        lsxi_noise_mix_hash(&hs->symmetric, role == LSX_NOISE_INITIATOR ? hs->s.public_key : hs->rs,
                            LSX_NOISE_PUBLIC_KEY_BYTES);
    if (pattern.responder_static_known)
        lsxi_noise_mix_hash(&hs->symmetric, role == LSX_NOISE_RESPONDER ? hs->s.public_key : hs->rs,
                            LSX_NOISE_PUBLIC_KEY_BYTES);
    if (psk_count > 0) memcpy(hs->psks, psks, psk_count * LSX_NOISE_PSK_BYTES);
    hs->status = LSXI_NOISE_ACTIVE;
    *handshake = hs;
    return LSX_OK;
}

void lsx_noise_handshake_destroy(lsx_noise_handshake *handshake) {
    if (handshake == NULL) return;
    sodium_memzero(handshake, sizeof *handshake);
    free(handshake);
}

/* ---- Tokens ---- */

/* Ends a handshake for good: nothing secret survives, and every later call sees FAILED. */
static int fail(lsx_noise_handshake *hs, int rc) {
    const lsx_noise_role role = hs->role;
    sodium_memzero(hs, sizeof *hs);
    hs->role = role;
    hs->status = LSXI_NOISE_FAILED;
    return rc;
}

/* ee, es, se, ss: the first letter is the initiator's key, the second the responder's. */
static int mix_dh(lsx_noise_handshake *hs, lsxi_noise_token token) {
    const int initiator_ephemeral = token == LSXI_NOISE_TOKEN_EE || token == LSXI_NOISE_TOKEN_ES;
    const int responder_ephemeral = token == LSXI_NOISE_TOKEN_EE || token == LSXI_NOISE_TOKEN_SE;
    const int initiator = hs->role == LSX_NOISE_INITIATOR;
    const int local_ephemeral = initiator ? initiator_ephemeral : responder_ephemeral;
    const int remote_ephemeral = initiator ? responder_ephemeral : initiator_ephemeral;
    const lsxi_noise_keypair *local = local_ephemeral ? &hs->e : &hs->s;
    const uint8_t *remote = remote_ephemeral ? (hs->has_re ? hs->re : NULL) : (hs->has_rs ? hs->rs : NULL);
    uint8_t shared[LSX_NOISE_DH_BYTES];
    /* The table's patterns never use a key before it exists; this guards the engine. */
    if (!local->present || remote == NULL) return LSX_ERR_NOISE_STATE;
    /* libsodium answers -1 for an all-zero result: a low-order peer key. */
    if (crypto_scalarmult(shared, local->secret, remote) != 0) {
        sodium_memzero(shared, sizeof shared);
        return LSX_ERR_LOW_ORDER;
    }
    lsxi_noise_mix_key(&hs->symmetric, shared, sizeof shared);
    sodium_memzero(shared, sizeof shared);
    return LSX_OK;
}

static int shared_token(lsx_noise_handshake *hs, lsxi_noise_token token) {
    if (token != LSXI_NOISE_TOKEN_PSK) return mix_dh(hs, token);
    lsxi_noise_mix_key_and_hash(&hs->symmetric, hs->psks[hs->psks_used++], LSX_NOISE_PSK_BYTES);
    return LSX_OK;
}

/* After an ephemeral public key is hashed, PSK mode also mixes it into the key
 * (section 9.2), so that nothing is encrypted under a psk alone. */
static void absorb_ephemeral(lsx_noise_handshake *hs, const uint8_t public_key[LSX_NOISE_PUBLIC_KEY_BYTES]) {
    lsxi_noise_mix_hash(&hs->symmetric, public_key, LSX_NOISE_PUBLIC_KEY_BYTES);
    if (hs->pattern.psk_count > 0) lsxi_noise_mix_key(&hs->symmetric, public_key, LSX_NOISE_PUBLIC_KEY_BYTES);
}

static int write_token(uint8_t *out, size_t *written, lsx_noise_handshake *hs, lsxi_noise_token token) {
    switch (token) {
    case LSXI_NOISE_TOKEN_E:
        if (!hs->ephemeral_preset) {
            randombytes_buf(hs->e.secret, LSX_NOISE_SECRET_KEY_BYTES);
            if (crypto_scalarmult_base(hs->e.public_key, hs->e.secret) != 0) return LSX_ERR_BACKEND;
        }
        hs->e.present = 1;
        memcpy(out, hs->e.public_key, LSX_NOISE_PUBLIC_KEY_BYTES);
        absorb_ephemeral(hs, hs->e.public_key);
        *written = LSX_NOISE_PUBLIC_KEY_BYTES;
        return LSX_OK;
    case LSXI_NOISE_TOKEN_S:
        *written = LSX_NOISE_PUBLIC_KEY_BYTES + (hs->symmetric.cipher.has_key ? LSX_NOISE_TAG_BYTES : 0);
        return lsxi_noise_encrypt_and_hash(out, &hs->symmetric, hs->s.public_key, LSX_NOISE_PUBLIC_KEY_BYTES);
    default:
        *written = 0;
        return shared_token(hs, token);
    }
}

static int read_token(size_t *consumed, lsx_noise_handshake *hs, lsxi_noise_token token, const uint8_t *in) {
    switch (token) {
    case LSXI_NOISE_TOKEN_E:
        memcpy(hs->re, in, LSX_NOISE_PUBLIC_KEY_BYTES);
        hs->has_re = 1;
        absorb_ephemeral(hs, hs->re);
        *consumed = LSX_NOISE_PUBLIC_KEY_BYTES;
        return LSX_OK;
    case LSXI_NOISE_TOKEN_S: {
        *consumed = LSX_NOISE_PUBLIC_KEY_BYTES + (hs->symmetric.cipher.has_key ? LSX_NOISE_TAG_BYTES : 0);
        int rc = lsxi_noise_decrypt_and_hash(hs->rs, &hs->symmetric, in, *consumed);
        if (rc == LSX_OK) hs->has_rs = 1;
        return rc;
    }
    default:
        *consumed = 0;
        return shared_token(hs, token);
    }
}

/* One message done: the next one, or the end, where no private key is needed any more. */
static void advance(lsx_noise_handshake *hs) {
    if (++hs->message_index < hs->pattern.message_count) return;
    hs->status = LSXI_NOISE_COMPLETE;
    sodium_memzero(hs->e.secret, sizeof hs->e.secret);
    sodium_memzero(hs->s.secret, sizeof hs->s.secret);
    sodium_memzero(hs->psks, sizeof hs->psks);
}

static int overlap(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len) {
    const uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
    return a_len > 0 && b_len > 0 && a0 < b0 + b_len && b0 < a0 + a_len;
}

/* ---- Messages ---- */

int lsx_noise_handshake_write_message(uint8_t *message, size_t message_capacity, size_t *message_len,
                                      lsx_noise_handshake *handshake, const uint8_t *payload, size_t payload_len) {
    if (message == NULL || message_len == NULL || handshake == NULL || (payload == NULL && payload_len > 0))
        return LSX_ERR_ARGUMENT;
    lsx_noise_handshake *hs = handshake;
    if (hs->status != LSXI_NOISE_ACTIVE || !writes_message(hs->role, hs->message_index)) return LSX_ERR_NOISE_STATE;
    const size_t total = lsx_noise_handshake_message_bytes(hs, payload_len);
    if (total == 0 || message_capacity < total) return LSX_ERR_LENGTH;
    if (overlap(message, total, payload, payload_len)) return LSX_ERR_ARGUMENT;

    const lsxi_noise_pattern *pattern = &hs->pattern;
    const size_t index = hs->message_index;
    size_t at = 0;
    for (size_t t = 0; t < pattern->token_count[index]; t++) {
        size_t written;
        int rc = write_token(message + at, &written, hs, pattern->tokens[index][t]);
        if (rc != LSX_OK) return fail(hs, rc);
        at += written;
    }
    int rc = lsxi_noise_encrypt_and_hash(message + at, &hs->symmetric, payload, payload_len);
    if (rc != LSX_OK) return fail(hs, rc);
    advance(hs);
    *message_len = total;
    return LSX_OK;
}

int lsx_noise_handshake_read_message(uint8_t *payload, size_t payload_capacity, size_t *payload_len,
                                     lsx_noise_handshake *handshake, const uint8_t *message, size_t message_len) {
    if (payload_len == NULL || handshake == NULL || (message == NULL && message_len > 0) ||
        (payload == NULL && payload_capacity > 0))
        return LSX_ERR_ARGUMENT;
    lsx_noise_handshake *hs = handshake;
    if (hs->status != LSXI_NOISE_ACTIVE || writes_message(hs->role, hs->message_index)) return LSX_ERR_NOISE_STATE;
    /* From here on every failure ends the handshake: a peer must not learn
     * anything by trying a message twice. */
    const size_t index = hs->message_index;
    const size_t overhead = message_overhead(hs, index);
    if (message_len > LSX_NOISE_MAX_MESSAGE_BYTES || message_len < overhead) return fail(hs, LSX_ERR_LENGTH);
    const size_t plain_len = message_len - overhead;
    if (payload_capacity < plain_len) return fail(hs, LSX_ERR_LENGTH);
    if (overlap(payload, plain_len, message, message_len)) return fail(hs, LSX_ERR_ARGUMENT);

    const lsxi_noise_pattern *pattern = &hs->pattern;
    size_t at = 0;
    for (size_t t = 0; t < pattern->token_count[index]; t++) {
        size_t consumed;
        int rc = read_token(&consumed, hs, pattern->tokens[index][t], message + at);
        if (rc != LSX_OK) return fail(hs, rc);
        at += consumed;
    }
    int rc = lsxi_noise_decrypt_and_hash(payload, &hs->symmetric, message + at, message_len - at);
    if (rc != LSX_OK) return fail(hs, rc);
    advance(hs);
    *payload_len = plain_len;
    return LSX_OK;
}

/* ---- Results ---- */

int lsx_noise_handshake_hash(uint8_t hash[LSX_NOISE_HASH_BYTES], const lsx_noise_handshake *handshake) {
    if (hash == NULL || handshake == NULL) return LSX_ERR_ARGUMENT;
    if (handshake->status != LSXI_NOISE_COMPLETE && handshake->status != LSXI_NOISE_SPLIT) return LSX_ERR_NOISE_STATE;
    memcpy(hash, handshake->symmetric.h, LSX_NOISE_HASH_BYTES);
    return LSX_OK;
}

int lsx_noise_handshake_remote_static(uint8_t public_key[LSX_NOISE_PUBLIC_KEY_BYTES],
                                      const lsx_noise_handshake *handshake) {
    if (public_key == NULL || handshake == NULL) return LSX_ERR_ARGUMENT;
    if (handshake->status == LSXI_NOISE_FAILED || !handshake->has_rs) return LSX_ERR_NOISE_STATE;
    memcpy(public_key, handshake->rs, LSX_NOISE_PUBLIC_KEY_BYTES);
    return LSX_OK;
}

int lsx_noise_handshake_split(lsx_noise_cipher **send, lsx_noise_cipher **receive, lsx_noise_handshake *handshake) {
    uint8_t initiator_key[LSX_NOISE_KEY_BYTES], responder_key[LSX_NOISE_KEY_BYTES];
    if (send == NULL || receive == NULL || handshake == NULL) return LSX_ERR_ARGUMENT;
    *send = *receive = NULL;
    if (handshake->status != LSXI_NOISE_COMPLETE) return LSX_ERR_NOISE_STATE;
    const int initiator = handshake->role == LSX_NOISE_INITIATOR;
    const int one_way = handshake->pattern.one_way;
    lsxi_noise_symmetric_split(initiator_key, responder_key, &handshake->symmetric);
    lsx_noise_cipher *sending = lsxi_noise_cipher_create(initiator ? initiator_key : responder_key,
                                                         one_way && !initiator ? LSXI_NOISE_UNUSED : LSXI_NOISE_SENDS);
    lsx_noise_cipher *receiving = lsxi_noise_cipher_create(
        initiator ? responder_key : initiator_key, one_way && initiator ? LSXI_NOISE_UNUSED : LSXI_NOISE_RECEIVES);
    sodium_memzero(initiator_key, sizeof initiator_key);
    sodium_memzero(responder_key, sizeof responder_key);
    if (sending == NULL || receiving == NULL) {
        lsx_noise_cipher_destroy(sending);
        lsx_noise_cipher_destroy(receiving);
        return LSX_ERR_NO_MEMORY;
    }
    sodium_memzero(handshake->symmetric.ck, sizeof handshake->symmetric.ck);
    sodium_memzero(&handshake->symmetric.cipher, sizeof handshake->symmetric.cipher);
    handshake->status = LSXI_NOISE_SPLIT;
    *send = sending;
    *receive = receiving;
    return LSX_OK;
}
