/* Sphinx packets: creation (spec 5), processing (spec 6), reply blocks
 * (spec 8) and cover packets (spec 9). */
#include "lsx_internal.h"

#include <stdlib.h>

struct lsx_node {
    lsx_geometry geometry;
    uint8_t secret_key[LSX_KEY_BYTES];
    uint8_t public_key[LSX_KEY_BYTES];
    lsxi_x25519_key key;
};

/* Everything a sender derives for one route; wiped after use. */
typedef struct route_secrets {
    uint8_t blinding[LSX_MAX_HOPS][LSXI_SCALAR_BYTES];
    uint8_t stream_key[LSX_MAX_HOPS][LSXI_STREAM_KEY_BYTES];
    uint8_t mac_key[LSX_MAX_HOPS][LSXI_MAC_KEY_BYTES];
    uint8_t stream[LSXI_MAX_ROUTING_BYTES];
    uint8_t shared[LSXI_POINT_BYTES];
} route_secrets;

static int check_route(const lsx_geometry *geometry, size_t hops, const uint8_t *public_keys,
                       const uint8_t *commands) {
    int rc = lsx_geometry_check(geometry);
    if (rc != LSX_OK) return rc;
    if (public_keys == NULL || commands == NULL) return LSX_ERR_ARGUMENT;
    if (hops < LSX_MIN_HOPS || hops > geometry->hops) return LSX_ERR_ROUTE;
    for (size_t i = 0; i < hops; i++) {
        rc = lsx_command_decode(NULL, NULL, NULL, commands + i * LSX_COMMAND_BYTES);
        if (rc != LSX_OK) return rc;
    }
    return LSX_OK;
}

/* Builds header = version || alpha_0 || beta_0 || gamma_0 for a checked
 * route (spec 5.1-5.5) and, if payload_keys is not NULL, each hop's LIONESS
 * keys. Commands are not checked here (tests use that to build headers a
 * node must refuse). */
int lsxi_build_header(uint8_t *header, lsxi_lioness_keys *payload_keys, const lsx_geometry *geometry, size_t hops,
                      const uint8_t *public_keys, const uint8_t *commands,
                      const uint8_t ephemeral_secret[LSX_SECRET_BYTES]) {
    const size_t H = geometry->hops, S = LSX_SLOT_BYTES;
    const size_t beta_len = LSXI_BETA_BYTES(H), routing_len = LSXI_ROUTING_BYTES(H);
    const lsx_backend backend = lsxi_active_backend();
    uint8_t *alpha = header + LSXI_HEADER_ALPHA_OFFSET, *beta = header + LSXI_HEADER_BETA_OFFSET;
    uint8_t *gamma = header + LSXI_HEADER_GAMMA_OFFSET(H);
    uint8_t filler[LSXI_MAX_BETA_BYTES];
    uint8_t next_beta[LSXI_MAX_BETA_BYTES];
    route_secrets rs;
    int rc = LSX_OK;

    if ((rc = lsxi_x25519_base(alpha, ephemeral_secret)) != LSX_OK) goto done;
    /* s_i = pk_i * x * b_0 * ... * b_{i-1}, then the hop's keys. */
    for (size_t i = 0; i < hops; i++) {
        rc = lsxi_x25519(rs.shared, backend, ephemeral_secret, public_keys + i * LSX_KEY_BYTES);
        for (size_t j = 0; rc == LSX_OK && j < i; j++) rc = lsxi_x25519(rs.shared, backend, rs.blinding[j], rs.shared);
        if (rc != LSX_OK) goto done;
        lsxi_kdf(rs.blinding[i], LSXI_SCALAR_BYTES, LSXI_KDF_BLINDING, rs.shared);
        lsxi_kdf(rs.stream_key[i], LSXI_STREAM_KEY_BYTES, LSXI_KDF_HEADER_STREAM, rs.shared);
        lsxi_kdf(rs.mac_key[i], LSXI_MAC_KEY_BYTES, LSXI_KDF_HEADER_MAC, rs.shared);
        if (payload_keys != NULL) lsxi_lioness_keys_from_secret(&payload_keys[i], rs.shared);
    }
    /* Filler: phi_i = (phi_{i-1} || 0^S) xor stream_{i-1}[(H-i+1)S .. (H+1)S). */
    memset(filler, 0, sizeof filler);
    for (size_t i = 1; i < hops; i++) {
        lsxi_stream(rs.stream, routing_len, rs.stream_key[i - 1]);
        for (size_t k = 0; k < i * S; k++) filler[k] ^= rs.stream[(H - i + 1) * S + k];
    }
    /* Last hop: (c || 0^gamma || 0^((H-n)S)) xor stream, then the filler. */
    {
        const size_t n = hops, head_len = (H - n + 1) * S;
        memset(beta, 0, beta_len);
        memcpy(beta + LSXI_SLOT_COMMAND_OFFSET, commands + (n - 1) * LSX_COMMAND_BYTES, LSX_COMMAND_BYTES);
        lsxi_stream(rs.stream, routing_len, rs.stream_key[n - 1]);
        for (size_t k = 0; k < head_len; k++) beta[k] ^= rs.stream[k];
        memcpy(beta + head_len, filler, (n - 1) * S);
        lsxi_header_mac(gamma, rs.mac_key[n - 1], beta, beta_len);
    }
    /* Earlier hops, from the last but one down to the first: each slot is
     * the hop's command and the MAC of the header the next hop will read. */
    for (size_t i = hops - 1; i-- > 0;) {
        memcpy(next_beta, beta, beta_len);
        memcpy(beta + LSXI_SLOT_COMMAND_OFFSET, commands + i * LSX_COMMAND_BYTES, LSX_COMMAND_BYTES);
        memcpy(beta + LSXI_SLOT_GAMMA_OFFSET, gamma, LSX_GAMMA_BYTES);
        memcpy(beta + S, next_beta, beta_len - S);
        lsxi_stream_xor(beta, beta_len, rs.stream_key[i]);
        lsxi_header_mac(gamma, rs.mac_key[i], beta, beta_len);
    }
    header[LSXI_HEADER_VERSION_OFFSET] = LSX_FORMAT_VERSION;
done:
    sodium_memzero(&rs, sizeof rs);
    sodium_memzero(filler, sizeof filler);
    sodium_memzero(next_beta, sizeof next_beta);
    if (rc != LSX_OK) sodium_memzero(header, LSX_HEADER_BYTES(H));
    return rc;
}

int lsx_create_packet(uint8_t *packet, size_t packet_len, const lsx_geometry *geometry, size_t hops,
                      const uint8_t *public_keys, const uint8_t *commands, const uint8_t *message, size_t message_len,
                      const uint8_t ephemeral_secret[LSX_SECRET_BYTES]) {
    lsxi_lioness_keys keys[LSX_MAX_HOPS];
    uint8_t secret[LSX_SECRET_BYTES];
    int rc;

    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    if ((rc = check_route(geometry, hops, public_keys, commands)) != LSX_OK) return rc;
    if (packet == NULL || (message == NULL && message_len > 0)) return LSX_ERR_ARGUMENT;
    if (packet_len != LSX_PACKET_BYTES(geometry->hops, geometry->payload)) return LSX_ERR_LENGTH;
    if (message_len > LSX_MAX_MESSAGE_BYTES(geometry->payload)) return LSX_ERR_MESSAGE_TOO_LONG;

    if (ephemeral_secret != NULL) memcpy(secret, ephemeral_secret, sizeof secret);
    else randombytes_buf(secret, sizeof secret);
    rc = lsxi_build_header(packet, keys, geometry, hops, public_keys, commands, secret);
    if (rc == LSX_OK) {
        uint8_t *payload = packet + LSX_HEADER_BYTES(geometry->hops);
        lsxi_payload_encode(payload, geometry->payload, message, message_len);
        for (size_t i = hops; i-- > 0;) lsxi_lioness_encrypt(payload, geometry->payload, &keys[i]);
    }
    sodium_memzero(keys, sizeof keys);
    sodium_memzero(secret, sizeof secret);
    return rc;
}

int lsx_create_dummy(uint8_t *packet, size_t packet_len, const lsx_geometry *geometry) {
    uint8_t secret[LSXI_SCALAR_BYTES];
    int rc = lsx_geometry_check(geometry);
    if (rc != LSX_OK) return rc;
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    if (packet == NULL) return LSX_ERR_ARGUMENT;
    if (packet_len != LSX_PACKET_BYTES(geometry->hops, geometry->payload)) return LSX_ERR_LENGTH;
    randombytes_buf(secret, sizeof secret);
    packet[LSXI_HEADER_VERSION_OFFSET] = LSX_FORMAT_VERSION;
    /* A real public key: its top bit is clear, as in every real alpha. */
    rc = lsxi_x25519_base(packet + LSXI_HEADER_ALPHA_OFFSET, secret);
    randombytes_buf(packet + LSXI_HEADER_BETA_OFFSET, packet_len - LSXI_HEADER_BETA_OFFSET);
    sodium_memzero(secret, sizeof secret);
    return rc;
}

/* ---- nodes ---- */

int lsx_node_create(lsx_node **node, const lsx_geometry *geometry, const uint8_t secret_key[LSX_KEY_BYTES]) {
    int rc;
    if (node == NULL || secret_key == NULL) return LSX_ERR_ARGUMENT;
    *node = NULL;
    if ((rc = lsx_geometry_check(geometry)) != LSX_OK) return rc;
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    lsx_node *made = calloc(1, sizeof *made);
    if (made == NULL) return LSX_ERR_NO_MEMORY;
    made->geometry = *geometry;
    memcpy(made->secret_key, secret_key, LSX_KEY_BYTES);
    if ((rc = lsx_public_key(made->public_key, secret_key)) != LSX_OK ||
        (rc = lsxi_x25519_key_init(&made->key, lsxi_active_backend(), secret_key)) != LSX_OK) {
        lsx_node_destroy(made);
        return rc;
    }
    *node = made;
    return LSX_OK;
}

void lsx_node_destroy(lsx_node *node) {
    if (node == NULL) return;
    lsxi_x25519_key_free(&node->key);
    sodium_memzero(node, sizeof *node);
    free(node);
}

int lsx_node_public_key(uint8_t public_key[LSX_KEY_BYTES], const lsx_node *node) {
    if (node == NULL || public_key == NULL) return LSX_ERR_ARGUMENT;
    memcpy(public_key, node->public_key, LSX_KEY_BYTES);
    return LSX_OK;
}

lsx_backend lsx_node_backend(const lsx_node *node) { return node == NULL ? LSX_BACKEND_AUTO : node->key.backend; }

/* ---- processing ---- */

/* The secrets of one unwrap; wiped on every exit. */
typedef struct hop_secrets {
    uint8_t shared[LSXI_POINT_BYTES];
    uint8_t key[LSXI_KDF_KEY_BYTES]; /* kh, km and b in turn */
    uint8_t expected_gamma[LSX_GAMMA_BYTES];
    uint8_t routing[LSXI_MAX_ROUTING_BYTES];
    uint8_t alpha[LSX_ALPHA_BYTES];
    lsxi_lioness_keys payload_keys;
} hop_secrets;

static int buffers_overlap(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len) {
    return a < b + b_len && b < a + a_len;
}

int lsx_process(uint8_t *packet_out, size_t packet_out_len, lsx_processed *result, const lsx_node *node,
                lsx_replay_filter *filter, const uint8_t *packet, size_t packet_len) {
    hop_secrets hs;
    int rc;
    if (node == NULL || packet == NULL || packet_out == NULL || result == NULL) return LSX_ERR_ARGUMENT;

    const lsx_geometry *g = &node->geometry;
    const size_t H = g->hops, S = LSX_SLOT_BYTES, beta_len = LSXI_BETA_BYTES(H);
    const size_t header_len = LSX_HEADER_BYTES(H), total = header_len + g->payload;
    const uint8_t *alpha = packet + LSXI_HEADER_ALPHA_OFFSET, *beta = packet + LSXI_HEADER_BETA_OFFSET;
    const uint8_t *gamma = packet + LSXI_HEADER_GAMMA_OFFSET(H);

    memset(result, 0, sizeof *result);
    /* 1. Length, version and a canonical alpha (X25519 ignores the top bit,
     * which would otherwise give a second encoding of the same packet). */
    if (packet_len != total || packet_out_len != total) return LSX_ERR_LENGTH;
    if (packet != packet_out && buffers_overlap(packet, total, packet_out, total)) return LSX_ERR_ARGUMENT;
    if (packet[LSXI_HEADER_VERSION_OFFSET] != LSX_FORMAT_VERSION) return LSX_ERR_VERSION;
    if (alpha[LSXI_ALPHA_TOP_BYTE] & LSXI_ALPHA_TOP_BIT) return LSX_ERR_NONCANONICAL_ALPHA;

    /* 2. The shared secret. */
    if ((rc = lsxi_x25519_with_key(hs.shared, &node->key, node->secret_key, alpha)) != LSX_OK) goto done;
    /* 3. Replay check first, so that a flood of replays costs one scalar
     * multiplication each. */
    lsxi_kdf(result->tag, LSX_TAG_BYTES, LSXI_KDF_TAG, hs.shared);
    if (filter != NULL && lsx_replay_filter_contains(filter, result->tag)) {
        rc = LSX_ERR_REPLAY;
        goto done;
    }
    /* 4. The header MAC, in constant time. */
    lsxi_kdf(hs.key, LSXI_MAC_KEY_BYTES, LSXI_KDF_HEADER_MAC, hs.shared);
    lsxi_header_mac(hs.expected_gamma, hs.key, beta, beta_len);
    if (crypto_verify_16(hs.expected_gamma, gamma) != 0) {
        rc = LSX_ERR_MAC;
        goto done;
    }
    /* 5. Decrypt the routing information and read this hop's command. */
    lsxi_kdf(hs.key, LSXI_STREAM_KEY_BYTES, LSXI_KDF_HEADER_STREAM, hs.shared);
    memcpy(hs.routing, beta, beta_len);
    memset(hs.routing + beta_len, 0, S);
    lsxi_stream_xor(hs.routing, beta_len + S, hs.key);
    if ((rc = lsx_command_decode(&result->flag, &result->delay_us, result->address,
                                 hs.routing + LSXI_SLOT_COMMAND_OFFSET)) != LSX_OK)
        goto done;
    /* 6. Record the tag only now: a forged MAC must not poison the filter. */
    if (filter != NULL && (rc = lsx_replay_filter_insert(filter, result->tag)) != LSX_OK) goto done;
    /* 7. Blind alpha for the next hop. */
    lsxi_kdf(hs.key, LSXI_SCALAR_BYTES, LSXI_KDF_BLINDING, hs.shared);
    if ((rc = lsxi_x25519(hs.alpha, node->key.backend, hs.key, alpha)) != LSX_OK) goto done;
    /* 8. Decrypt the payload (in place when the buffers are the same). */
    lsxi_lioness_keys_from_secret(&hs.payload_keys, hs.shared);
    if (packet_out != packet) memcpy(packet_out + header_len, packet + header_len, g->payload);
    lsxi_lioness_decrypt(packet_out + header_len, g->payload, &hs.payload_keys);
    /* 9. The new packet: alpha', the routing information after this hop's
     * slot as beta', and the slot's MAC as gamma'. */
    packet_out[LSXI_HEADER_VERSION_OFFSET] = LSX_FORMAT_VERSION;
    memcpy(packet_out + LSXI_HEADER_ALPHA_OFFSET, hs.alpha, LSX_ALPHA_BYTES);
    memcpy(packet_out + LSXI_HEADER_BETA_OFFSET, hs.routing + S, beta_len);
    memcpy(packet_out + LSXI_HEADER_GAMMA_OFFSET(H), hs.routing + LSXI_SLOT_GAMMA_OFFSET, LSX_GAMMA_BYTES);
    if (result->flag == LSX_FLAG_FINAL) {
        size_t offset = 0, len = 0;
        result->final_status = lsxi_payload_check(&offset, &len, packet_out + header_len, g->payload);
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

int lsx_surb_create(uint8_t *surb, size_t surb_len, uint8_t *surb_secret, size_t surb_secret_len,
                    const lsx_geometry *geometry, size_t hops, const uint8_t *public_keys, const uint8_t *commands,
                    const uint8_t first_hop_id[LSX_ADDRESS_BYTES], const uint8_t ephemeral_secret[LSX_SECRET_BYTES],
                    const uint8_t reply_key[LSX_REPLY_KEY_BYTES]) {
    lsxi_lioness_keys keys[LSX_MAX_HOPS];
    uint8_t secret[LSX_SECRET_BYTES];
    uint8_t flag = 0;
    int rc;

    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    if ((rc = check_route(geometry, hops, public_keys, commands)) != LSX_OK) return rc;
    if (first_hop_id == NULL || surb == NULL || surb_secret == NULL) return LSX_ERR_ARGUMENT;
    if (surb_len != LSX_SURB_BYTES(geometry->hops) || surb_secret_len != LSX_SURB_SECRET_BYTES(geometry->hops))
        return LSX_ERR_LENGTH;
    if (lsx_command_decode(&flag, NULL, NULL, commands + (hops - 1) * LSX_COMMAND_BYTES) != LSX_OK ||
        flag != LSX_FLAG_FINAL)
        return LSX_ERR_ROUTE;

    if (ephemeral_secret != NULL) memcpy(secret, ephemeral_secret, sizeof secret);
    else randombytes_buf(secret, sizeof secret);
    uint8_t *kt = surb + LSXI_SURB_REPLY_KEY_OFFSET(geometry->hops);
    rc = lsxi_build_header(surb + LSXI_SURB_HEADER_OFFSET, keys, geometry, hops, public_keys, commands, secret);
    if (rc == LSX_OK) {
        memcpy(surb + LSXI_SURB_FIRST_HOP_OFFSET, first_hop_id, LSX_ADDRESS_BYTES);
        if (reply_key != NULL) memcpy(kt, reply_key, LSX_REPLY_KEY_BYTES);
        else randombytes_buf(kt, LSX_REPLY_KEY_BYTES);
        memset(surb_secret, 0, surb_secret_len);
        lsxi_store_be(surb_secret + LSXI_SURB_SECRET_HOPS_OFFSET, LSX_ROUTE_LENGTH_BYTES, hops);
        memcpy(surb_secret + LSXI_SURB_SECRET_REPLY_KEY_OFFSET, kt, LSX_REPLY_KEY_BYTES);
        memcpy(surb_secret + LSXI_SURB_SECRET_HOP_KEYS_OFFSET, keys, hops * sizeof keys[0]);
    }
    sodium_memzero(keys, sizeof keys);
    sodium_memzero(secret, sizeof secret);
    return rc;
}

int lsx_surb_use(uint8_t *packet, size_t packet_len, uint8_t first_hop_id[LSX_ADDRESS_BYTES],
                 const lsx_geometry *geometry, const uint8_t *surb, size_t surb_len, const uint8_t *message,
                 size_t message_len) {
    lsxi_lioness_keys kt;
    int rc = lsx_geometry_check(geometry);
    if (rc != LSX_OK) return rc;
    if (surb == NULL || first_hop_id == NULL || packet == NULL || (message == NULL && message_len > 0))
        return LSX_ERR_ARGUMENT;
    const size_t header_len = LSX_HEADER_BYTES(geometry->hops);
    if (surb_len != LSX_SURB_BYTES(geometry->hops) || packet_len != header_len + geometry->payload)
        return LSX_ERR_LENGTH;
    if (message_len > LSX_MAX_MESSAGE_BYTES(geometry->payload)) return LSX_ERR_MESSAGE_TOO_LONG;
    if (buffers_overlap(surb, surb_len, packet, packet_len)) return LSX_ERR_ARGUMENT;

    memcpy(&kt, surb + LSXI_SURB_REPLY_KEY_OFFSET(geometry->hops), sizeof kt);
    memcpy(first_hop_id, surb + LSXI_SURB_FIRST_HOP_OFFSET, LSX_ADDRESS_BYTES);
    memcpy(packet, surb + LSXI_SURB_HEADER_OFFSET, header_len);
    lsxi_payload_encode(packet + header_len, geometry->payload, message, message_len);
    lsxi_lioness_encrypt(packet + header_len, geometry->payload, &kt);
    sodium_memzero(&kt, sizeof kt);
    return LSX_OK;
}

int lsx_surb_first_hop(uint8_t first_hop_id[LSX_ADDRESS_BYTES], const lsx_geometry *geometry, const uint8_t *surb,
                       size_t surb_len) {
    int rc = lsx_geometry_check(geometry);
    if (rc != LSX_OK) return rc;
    if (first_hop_id == NULL || surb == NULL) return LSX_ERR_ARGUMENT;
    if (surb_len != LSX_SURB_BYTES(geometry->hops)) return LSX_ERR_LENGTH;
    memcpy(first_hop_id, surb + LSXI_SURB_FIRST_HOP_OFFSET, LSX_ADDRESS_BYTES);
    return LSX_OK;
}

int lsx_surb_open(uint8_t *payload, size_t payload_len, size_t *message_offset, size_t *message_len,
                  const lsx_geometry *geometry, const uint8_t *surb_secret, size_t surb_secret_len) {
    lsxi_lioness_keys keys;
    int rc = lsx_geometry_check(geometry);
    if (rc != LSX_OK) return rc;
    if (surb_secret == NULL || payload == NULL || message_offset == NULL || message_len == NULL)
        return LSX_ERR_ARGUMENT;
    if (surb_secret_len != LSX_SURB_SECRET_BYTES(geometry->hops) || payload_len != geometry->payload)
        return LSX_ERR_LENGTH;
    const size_t hops = (size_t)lsxi_load_be(surb_secret + LSXI_SURB_SECRET_HOPS_OFFSET, LSX_ROUTE_LENGTH_BYTES);
    if (hops < LSX_MIN_HOPS || hops > geometry->hops) return LSX_ERR_ROUTE;

    /* Undo the hops' decryptions (including the maker's own), then kt. */
    for (size_t i = hops; i-- > 0;) {
        memcpy(&keys, surb_secret + LSXI_SURB_SECRET_HOP_KEYS_OFFSET + i * sizeof keys, sizeof keys);
        lsxi_lioness_encrypt(payload, payload_len, &keys);
    }
    memcpy(&keys, surb_secret + LSXI_SURB_SECRET_REPLY_KEY_OFFSET, sizeof keys);
    lsxi_lioness_decrypt(payload, payload_len, &keys);
    sodium_memzero(&keys, sizeof keys);
    rc = lsxi_payload_check(message_offset, message_len, payload, payload_len);
    if (rc != LSX_OK) sodium_memzero(payload, payload_len);
    return rc;
}
