/* Sphinx packets: creation (spec 5), processing (spec 6), reply blocks
 * (spec 8) and cover packets (spec 9). */
#include "lsx_internal.h"

#include <stdlib.h>

struct lsx_node {
    lsx_geometry geometry;
    uint8_t secret_key[LSX_KEY_BYTES];
    uint8_t public_key[LSX_KEY_BYTES];
    lsx_x25519_key key;
};

/* Everything a sender derives for one route; wiped after use. */
typedef struct lsx_route_secrets {
    uint8_t blinding[LSX_MAX_HOPS][32];
    uint8_t stream_key[LSX_MAX_HOPS][32];
    uint8_t mac_key[LSX_MAX_HOPS][32];
    uint8_t stream[LSX_MAX_ROUTING_BYTES];
    uint8_t shared[32];
} lsx_route_secrets;

static int lsx_check_route(const lsx_geometry *geometry, size_t hops, const uint8_t *public_keys,
                           const uint8_t *commands) {
    int rc = lsx_geometry_check(geometry);
    if (rc != LSX_OK) return rc;
    if (public_keys == NULL || commands == NULL) return LSX_ERR_ARGUMENT;
    if (hops < 1 || hops > geometry->hops) return LSX_ERR_ROUTE;
    for (size_t i = 0; i < hops; i++) {
        rc = lsx_command_decode(commands + i * LSX_COMMAND_BYTES, NULL, NULL, NULL);
        if (rc != LSX_OK) return rc;
    }
    return LSX_OK;
}

/* Builds header = version || alpha_0 || beta_0 || gamma_0 for a checked
 * route (spec 5.1-5.5) and, if payload_keys is not NULL, each hop's LIONESS
 * keys. Commands are not checked here (tests use that to build headers a
 * node must refuse). */
int lsx_build_header(const lsx_geometry *geometry, size_t hops, const uint8_t *public_keys,
                            const uint8_t *commands, const uint8_t ephemeral_secret[32], uint8_t *header,
                            lsx_lioness_keys *payload_keys) {
    const size_t H = geometry->hops, S = LSX_SLOT_BYTES;
    const size_t beta_len = H * S, routing_len = (H + 1) * S;
    const lsx_backend backend = lsx_active_backend();
    uint8_t *alpha = header + 1, *beta = header + 1 + LSX_ALPHA_BYTES, *gamma = beta + beta_len;
    uint8_t filler[LSX_MAX_BETA_BYTES];
    uint8_t next_beta[LSX_MAX_BETA_BYTES];
    lsx_route_secrets rs;
    int rc = LSX_OK;

    if (crypto_scalarmult_base(alpha, ephemeral_secret) != 0) {
        rc = LSX_ERR_LOW_ORDER;
        goto done;
    }
    /* s_i = pk_i * x * b_0 * ... * b_{i-1}, then the hop's keys. */
    for (size_t i = 0; i < hops; i++) {
        rc = lsx_x25519(backend, rs.shared, ephemeral_secret, public_keys + i * LSX_KEY_BYTES);
        for (size_t j = 0; rc == LSX_OK && j < i; j++) rc = lsx_x25519(backend, rs.shared, rs.blinding[j], rs.shared);
        if (rc != LSX_OK) goto done;
        lsx_kdf(rs.blinding[i], 32, LSX_KDF_BLINDING, rs.shared);
        lsx_kdf(rs.stream_key[i], 32, LSX_KDF_HEADER_STREAM, rs.shared);
        lsx_kdf(rs.mac_key[i], 32, LSX_KDF_HEADER_MAC, rs.shared);
        if (payload_keys != NULL) lsx_lioness_keys_from_secret(&payload_keys[i], rs.shared);
    }
    /* Filler: phi_i = (phi_{i-1} || 0^S) xor stream_{i-1}[(H-i+1)S .. (H+1)S). */
    memset(filler, 0, sizeof filler);
    for (size_t i = 1; i < hops; i++) {
        lsx_stream(rs.stream, routing_len, rs.stream_key[i - 1]);
        for (size_t k = 0; k < i * S; k++) filler[k] ^= rs.stream[(H - i + 1) * S + k];
    }
    /* Last hop: (c || 0^16 || 0^((H-n)S)) xor stream, then the filler. */
    {
        const size_t n = hops, head_len = (H - n + 1) * S;
        memset(beta, 0, beta_len);
        memcpy(beta, commands + (n - 1) * LSX_COMMAND_BYTES, LSX_COMMAND_BYTES);
        lsx_stream(rs.stream, routing_len, rs.stream_key[n - 1]);
        for (size_t k = 0; k < head_len; k++) beta[k] ^= rs.stream[k];
        memcpy(beta + head_len, filler, (n - 1) * S);
        lsx_header_mac(gamma, rs.mac_key[n - 1], beta, beta_len);
    }
    /* Earlier hops, from the last but one down to the first. */
    for (size_t i = hops - 1; i-- > 0;) {
        memcpy(next_beta, beta, beta_len);
        memcpy(beta, commands + i * LSX_COMMAND_BYTES, LSX_COMMAND_BYTES);
        memcpy(beta + LSX_COMMAND_BYTES, gamma, LSX_GAMMA_BYTES);
        memcpy(beta + S, next_beta, beta_len - S);
        lsx_stream_xor(beta, beta_len, rs.stream_key[i]);
        lsx_header_mac(gamma, rs.mac_key[i], beta, beta_len);
    }
    header[0] = LSX_FORMAT_VERSION;
done:
    sodium_memzero(&rs, sizeof rs);
    sodium_memzero(filler, sizeof filler);
    sodium_memzero(next_beta, sizeof next_beta);
    if (rc != LSX_OK) sodium_memzero(header, LSX_HEADER_BYTES(H));
    return rc;
}

int lsx_create_packet(const lsx_geometry *geometry, size_t hops, const uint8_t *public_keys, const uint8_t *commands,
                      const uint8_t *message, size_t message_len, const uint8_t ephemeral_secret[LSX_SECRET_BYTES],
                      uint8_t *packet, size_t packet_len) {
    lsx_lioness_keys keys[LSX_MAX_HOPS];
    uint8_t secret[LSX_SECRET_BYTES];
    int rc;

    if (!lsx_initialized()) return LSX_ERR_NOT_INITIALIZED;
    if ((rc = lsx_check_route(geometry, hops, public_keys, commands)) != LSX_OK) return rc;
    if (packet == NULL || (message == NULL && message_len > 0)) return LSX_ERR_ARGUMENT;
    if (packet_len != LSX_PACKET_BYTES(geometry->hops, geometry->payload)) return LSX_ERR_LENGTH;
    if (message_len > LSX_MAX_MESSAGE_BYTES(geometry->payload)) return LSX_ERR_MESSAGE_TOO_LONG;

    if (ephemeral_secret != NULL) memcpy(secret, ephemeral_secret, sizeof secret);
    else randombytes_buf(secret, sizeof secret);
    rc = lsx_build_header(geometry, hops, public_keys, commands, secret, packet, keys);
    if (rc == LSX_OK) {
        uint8_t *payload = packet + LSX_HEADER_BYTES(geometry->hops);
        lsx_payload_encode(payload, geometry->payload, message, message_len);
        for (size_t i = hops; i-- > 0;) lsx_lioness_encrypt(payload, geometry->payload, &keys[i]);
    }
    sodium_memzero(keys, sizeof keys);
    sodium_memzero(secret, sizeof secret);
    return rc;
}

int lsx_create_dummy(const lsx_geometry *geometry, uint8_t *packet, size_t packet_len) {
    uint8_t secret[32];
    int rc = lsx_geometry_check(geometry);
    if (rc != LSX_OK) return rc;
    if (!lsx_initialized()) return LSX_ERR_NOT_INITIALIZED;
    if (packet == NULL) return LSX_ERR_ARGUMENT;
    if (packet_len != LSX_PACKET_BYTES(geometry->hops, geometry->payload)) return LSX_ERR_LENGTH;
    randombytes_buf(secret, sizeof secret);
    packet[0] = LSX_FORMAT_VERSION;
    /* A real public key: its top bit is clear, as in every real alpha. */
    rc = crypto_scalarmult_base(packet + 1, secret) == 0 ? LSX_OK : LSX_ERR_BACKEND;
    randombytes_buf(packet + 1 + LSX_ALPHA_BYTES, packet_len - 1 - LSX_ALPHA_BYTES);
    sodium_memzero(secret, sizeof secret);
    return rc;
}

/* ---- nodes ---- */

int lsx_node_create(lsx_node **node, const lsx_geometry *geometry, const uint8_t secret_key[LSX_KEY_BYTES]) {
    int rc;
    if (node == NULL || secret_key == NULL) return LSX_ERR_ARGUMENT;
    *node = NULL;
    if ((rc = lsx_geometry_check(geometry)) != LSX_OK) return rc;
    if (!lsx_initialized()) return LSX_ERR_NOT_INITIALIZED;
    lsx_node *made = calloc(1, sizeof *made);
    if (made == NULL) return LSX_ERR_NO_MEMORY;
    made->geometry = *geometry;
    memcpy(made->secret_key, secret_key, LSX_KEY_BYTES);
    if ((rc = lsx_public_key(made->public_key, secret_key)) != LSX_OK ||
        (rc = lsx_x25519_key_init(&made->key, lsx_active_backend(), secret_key)) != LSX_OK) {
        lsx_node_destroy(made);
        return rc;
    }
    *node = made;
    return LSX_OK;
}

void lsx_node_destroy(lsx_node *node) {
    if (node == NULL) return;
    lsx_x25519_key_free(&node->key);
    sodium_memzero(node, sizeof *node);
    free(node);
}

int lsx_node_public_key(const lsx_node *node, uint8_t public_key[LSX_KEY_BYTES]) {
    if (node == NULL || public_key == NULL) return LSX_ERR_ARGUMENT;
    memcpy(public_key, node->public_key, LSX_KEY_BYTES);
    return LSX_OK;
}

lsx_backend lsx_node_backend(const lsx_node *node) { return node == NULL ? LSX_BACKEND_AUTO : node->key.backend; }

/* ---- processing ---- */

/* The secrets of one unwrap; wiped on every exit. */
typedef struct lsx_hop_secrets {
    uint8_t shared[32];
    uint8_t key[32];
    uint8_t expected_gamma[LSX_GAMMA_BYTES];
    uint8_t routing[LSX_MAX_ROUTING_BYTES];
    uint8_t alpha[LSX_ALPHA_BYTES];
    lsx_lioness_keys payload_keys;
} lsx_hop_secrets;

static int lsx_buffers_overlap(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len) {
    return a < b + b_len && b < a + a_len;
}

int lsx_process(const lsx_node *node, lsx_replay_filter *filter, const uint8_t *packet, size_t packet_len,
                uint8_t *packet_out, size_t packet_out_len, lsx_processed *result) {
    lsx_hop_secrets hs;
    int rc;
    if (node == NULL || packet == NULL || packet_out == NULL || result == NULL) return LSX_ERR_ARGUMENT;

    const lsx_geometry *g = &node->geometry;
    const size_t H = g->hops, S = LSX_SLOT_BYTES, beta_len = H * S;
    const size_t header_len = LSX_HEADER_BYTES(H), total = header_len + g->payload;
    const uint8_t *alpha = packet + 1, *beta = alpha + LSX_ALPHA_BYTES, *gamma = beta + beta_len;

    memset(result, 0, sizeof *result);
    /* 1. Length, version and a canonical alpha (X25519 ignores the top bit,
     * which would otherwise give a second encoding of the same packet). */
    if (packet_len != total || packet_out_len != total) return LSX_ERR_LENGTH;
    if (packet != packet_out && lsx_buffers_overlap(packet, total, packet_out, total)) return LSX_ERR_ARGUMENT;
    if (packet[0] != LSX_FORMAT_VERSION) return LSX_ERR_VERSION;
    if (alpha[31] & 0x80) return LSX_ERR_NONCANONICAL_ALPHA;

    /* 2. The shared secret. */
    if ((rc = lsx_x25519_with_key(&node->key, node->secret_key, hs.shared, alpha)) != LSX_OK) goto done;
    /* 3. Replay check first, so that a flood of replays costs one scalar
     * multiplication each. */
    lsx_kdf(result->tag, LSX_TAG_BYTES, LSX_KDF_TAG, hs.shared);
    if (filter != NULL && lsx_replay_filter_contains(filter, result->tag)) {
        rc = LSX_ERR_REPLAY;
        goto done;
    }
    /* 4. The header MAC, in constant time. */
    lsx_kdf(hs.key, 32, LSX_KDF_HEADER_MAC, hs.shared);
    lsx_header_mac(hs.expected_gamma, hs.key, beta, beta_len);
    if (crypto_verify_16(hs.expected_gamma, gamma) != 0) {
        rc = LSX_ERR_MAC;
        goto done;
    }
    /* 5. Decrypt the routing information and read this hop's command. */
    lsx_kdf(hs.key, 32, LSX_KDF_HEADER_STREAM, hs.shared);
    memcpy(hs.routing, beta, beta_len);
    memset(hs.routing + beta_len, 0, S);
    lsx_stream_xor(hs.routing, beta_len + S, hs.key);
    if ((rc = lsx_command_decode(hs.routing, &result->flag, &result->delay_us, result->address)) != LSX_OK) goto done;
    /* 6. Record the tag only now: a forged MAC must not poison the filter. */
    if (filter != NULL && (rc = lsx_replay_filter_insert(filter, result->tag)) != LSX_OK) goto done;
    /* 7. Blind alpha for the next hop. */
    lsx_kdf(hs.key, 32, LSX_KDF_BLINDING, hs.shared);
    if ((rc = lsx_x25519(node->key.backend, hs.alpha, hs.key, alpha)) != LSX_OK) goto done;
    /* 8. Decrypt the payload (in place when the buffers are the same). */
    lsx_lioness_keys_from_secret(&hs.payload_keys, hs.shared);
    if (packet_out != packet) memcpy(packet_out + header_len, packet + header_len, g->payload);
    lsx_lioness_decrypt(packet_out + header_len, g->payload, &hs.payload_keys);
    /* 9. The new packet. */
    packet_out[0] = LSX_FORMAT_VERSION;
    memcpy(packet_out + 1, hs.alpha, LSX_ALPHA_BYTES);
    memcpy(packet_out + 1 + LSX_ALPHA_BYTES, hs.routing + S, beta_len);
    memcpy(packet_out + 1 + LSX_ALPHA_BYTES + beta_len, hs.routing + LSX_COMMAND_BYTES, LSX_GAMMA_BYTES);
    if (result->flag == LSX_FLAG_FINAL) {
        size_t offset = 0, len = 0;
        result->final_status = lsx_payload_check(packet_out + header_len, g->payload, &offset, &len);
        if (result->final_status == LSX_OK) {
            result->message_offset = (uint32_t)(header_len + offset);
            result->message_len = (uint32_t)len;
        }
    }
done:
    sodium_memzero(&hs, sizeof hs);
    if (rc != LSX_OK) {
        uint8_t tag[LSX_TAG_BYTES];
        memcpy(tag, result->tag, sizeof tag);
        memset(result, 0, sizeof *result);
        memcpy(result->tag, tag, sizeof tag); /* the tag stays: callers may log replays by tag */
    }
    return rc;
}

/* ---- reply blocks ---- */

int lsx_surb_create(const lsx_geometry *geometry, size_t hops, const uint8_t *public_keys, const uint8_t *commands,
                    const uint8_t first_hop_id[LSX_ADDRESS_BYTES], const uint8_t ephemeral_secret[LSX_SECRET_BYTES],
                    const uint8_t reply_key[LSX_REPLY_KEY_BYTES], uint8_t *surb, size_t surb_len,
                    uint8_t *surb_secret, size_t surb_secret_len) {
    lsx_lioness_keys keys[LSX_MAX_HOPS];
    uint8_t secret[LSX_SECRET_BYTES];
    uint8_t flag = 0;
    int rc;

    if (!lsx_initialized()) return LSX_ERR_NOT_INITIALIZED;
    if ((rc = lsx_check_route(geometry, hops, public_keys, commands)) != LSX_OK) return rc;
    if (first_hop_id == NULL || surb == NULL || surb_secret == NULL) return LSX_ERR_ARGUMENT;
    if (surb_len != LSX_SURB_BYTES(geometry->hops) || surb_secret_len != LSX_SURB_SECRET_BYTES(geometry->hops))
        return LSX_ERR_LENGTH;
    if (lsx_command_decode(commands + (hops - 1) * LSX_COMMAND_BYTES, &flag, NULL, NULL) != LSX_OK ||
        flag != LSX_FLAG_FINAL)
        return LSX_ERR_ROUTE;

    if (ephemeral_secret != NULL) memcpy(secret, ephemeral_secret, sizeof secret);
    else randombytes_buf(secret, sizeof secret);
    uint8_t *header = surb + LSX_ADDRESS_BYTES, *kt = header + LSX_HEADER_BYTES(geometry->hops);
    rc = lsx_build_header(geometry, hops, public_keys, commands, secret, header, keys);
    if (rc == LSX_OK) {
        memcpy(surb, first_hop_id, LSX_ADDRESS_BYTES);
        if (reply_key != NULL) memcpy(kt, reply_key, LSX_REPLY_KEY_BYTES);
        else randombytes_buf(kt, LSX_REPLY_KEY_BYTES);
        memset(surb_secret, 0, surb_secret_len);
        surb_secret[0] = (uint8_t)hops;
        memcpy(surb_secret + 1, kt, LSX_REPLY_KEY_BYTES);
        memcpy(surb_secret + 1 + LSX_REPLY_KEY_BYTES, keys, hops * sizeof keys[0]);
    }
    sodium_memzero(keys, sizeof keys);
    sodium_memzero(secret, sizeof secret);
    return rc;
}

int lsx_surb_use(const lsx_geometry *geometry, const uint8_t *surb, size_t surb_len, const uint8_t *message,
                 size_t message_len, uint8_t first_hop_id[LSX_ADDRESS_BYTES], uint8_t *packet, size_t packet_len) {
    lsx_lioness_keys kt;
    int rc = lsx_geometry_check(geometry);
    if (rc != LSX_OK) return rc;
    if (surb == NULL || first_hop_id == NULL || packet == NULL || (message == NULL && message_len > 0))
        return LSX_ERR_ARGUMENT;
    const size_t header_len = LSX_HEADER_BYTES(geometry->hops);
    if (surb_len != LSX_SURB_BYTES(geometry->hops) || packet_len != header_len + geometry->payload)
        return LSX_ERR_LENGTH;
    if (message_len > LSX_MAX_MESSAGE_BYTES(geometry->payload)) return LSX_ERR_MESSAGE_TOO_LONG;
    if (lsx_buffers_overlap(surb, surb_len, packet, packet_len)) return LSX_ERR_ARGUMENT;

    memcpy(&kt, surb + LSX_ADDRESS_BYTES + header_len, sizeof kt);
    memcpy(first_hop_id, surb, LSX_ADDRESS_BYTES);
    memcpy(packet, surb + LSX_ADDRESS_BYTES, header_len);
    lsx_payload_encode(packet + header_len, geometry->payload, message, message_len);
    lsx_lioness_encrypt(packet + header_len, geometry->payload, &kt);
    sodium_memzero(&kt, sizeof kt);
    return LSX_OK;
}

int lsx_surb_open(const lsx_geometry *geometry, const uint8_t *surb_secret, size_t surb_secret_len,
                  uint8_t *payload, size_t payload_len, size_t *message_offset, size_t *message_len) {
    lsx_lioness_keys keys;
    int rc = lsx_geometry_check(geometry);
    if (rc != LSX_OK) return rc;
    if (surb_secret == NULL || payload == NULL || message_offset == NULL || message_len == NULL)
        return LSX_ERR_ARGUMENT;
    if (surb_secret_len != LSX_SURB_SECRET_BYTES(geometry->hops) || payload_len != geometry->payload)
        return LSX_ERR_LENGTH;
    const size_t hops = surb_secret[0];
    if (hops < 1 || hops > geometry->hops) return LSX_ERR_ROUTE;

    /* Undo the hops' decryptions (including the creator's own), then kt. */
    for (size_t i = hops; i-- > 0;) {
        memcpy(&keys, surb_secret + 1 + LSX_REPLY_KEY_BYTES + i * sizeof keys, sizeof keys);
        lsx_lioness_encrypt(payload, payload_len, &keys);
    }
    memcpy(&keys, surb_secret + 1, sizeof keys);
    lsx_lioness_decrypt(payload, payload_len, &keys);
    sodium_memzero(&keys, sizeof keys);
    rc = lsx_payload_check(payload, payload_len, message_offset, message_len);
    if (rc != LSX_OK) sodium_memzero(payload, payload_len);
    return rc;
}
