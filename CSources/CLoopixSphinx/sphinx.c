/* Sphinx packets of every suite: creation (spec 5, KEM spec 8), processing
 * (spec 6, KEM spec 9), reply blocks (spec 8, KEM spec 11) and cover packets
 * (spec 9, KEM spec 12). The suites share all of it but the header's element
 * and how a hop's shared secret is made: there the suite's KEM is called
 * (lsxi_kem), or version 1's blinding below. */
#include "lsx_internal.h"

#include <stdlib.h>

/* The fresh randomness of one element: a dummy's, a v1 packet's secret or
 * one encapsulation's seed. */
#define LSXI_ELEMENT_SEED_BYTES LSXI_SCALAR_BYTES
_Static_assert(LSX_KEM_X25519_SEED_BYTES <= LSXI_ELEMENT_SEED_BYTES, "a dummy's seed holds the KEM's");

/* Everything a sender derives for one route; wiped after use. */
typedef struct route_secrets {
    uint8_t shared[LSX_MAX_HOPS][LSXI_SHARED_BYTES];
    /* What hop i's slot carries after its command and gamma: the KEM
     * suite's encapsulation for hop i + 1 (nothing in version 1). */
    uint8_t slot_element[LSX_MAX_HOPS][LSXI_MAX_ELEMENT_BYTES];
    uint8_t blinding[LSX_MAX_HOPS][LSXI_SCALAR_BYTES]; /* version 1 only */
    uint8_t stream_key[LSX_MAX_HOPS][LSXI_STREAM_KEY_BYTES];
    uint8_t mac_key[LSX_MAX_HOPS][LSXI_MAC_KEY_BYTES];
    uint8_t stream[LSXI_MAX_ROUTING_BYTES];
} route_secrets;

/* The route length and every command (spec 4: the creator refuses what a
 * node would). The geometry is valid and the pointers are not NULL. */
static int check_route(const lsx_geometry *geometry, size_t hops, const uint8_t *commands) {
    if (hops < LSX_MIN_HOPS || hops > geometry->hops) return LSX_ERR_ROUTE;
    for (size_t i = 0; i < hops; i++) {
        int rc = lsx_command_decode(NULL, NULL, NULL, commands + i * LSX_COMMAND_BYTES);
        if (rc != LSX_OK) return rc;
    }
    return LSX_OK;
}

/* The fresh randomness of one creation into `out`: the caller's, which must
 * be exactly the suite's amount (test vectors), or the CSPRNG's. */
static int take_ephemeral(uint8_t out[LSXI_MAX_EPHEMERAL_BYTES], const lsx_geometry *geometry, size_t hops,
                          const uint8_t *ephemeral, size_t ephemeral_len) {
    const size_t need = LSX_SUITE_EPHEMERAL_BYTES(geometry->suite, hops);
    if (ephemeral == NULL) {
        if (ephemeral_len != 0) return LSX_ERR_ARGUMENT;
        randombytes_buf(out, need);
        return LSX_OK;
    }
    if (ephemeral_len != need) return LSX_ERR_LENGTH;
    memcpy(out, ephemeral, need);
    return LSX_OK;
}

/* Version 1 (spec 5.1): alpha_0 = X25519_BASE(x), and s_i is pk_i
 * multiplied by x and by every earlier blinding scalar b_j = KDF(s_j, 7). */
static int blinded_route(uint8_t alpha[LSX_ALPHA_BYTES], route_secrets *rs, const lsxi_suite *suite,
                         lsx_backend backend, size_t hops, const uint8_t *public_keys,
                         const uint8_t secret[LSX_SECRET_BYTES]) {
    int rc = lsxi_x25519_base(alpha, secret);
    for (size_t i = 0; rc == LSX_OK && i < hops; i++) {
        rc = lsxi_x25519(rs->shared[i], backend, secret, public_keys + i * LSX_KEY_BYTES);
        for (size_t j = 0; rc == LSX_OK && j < i; j++)
            rc = lsxi_x25519(rs->shared[i], backend, rs->blinding[j], rs->shared[i]);
        if (rc == LSX_OK)
            lsxi_kdf(rs->blinding[i], LSXI_SCALAR_BYTES, LSXI_KDF_BLINDING, rs->shared[i], suite->kdf_context);
    }
    return rc;
}

/* KEM suite (KEM spec 8.1): an encapsulation per hop, each from its own
 * seed; ct_0 goes into the header, ct_{i+1} into hop i's slot. */
static int encapsulated_route(uint8_t *first, route_secrets *rs, const lsxi_kem *kem, lsx_backend backend,
                              size_t hops, const uint8_t *public_keys, const uint8_t *seeds) {
    int rc = LSX_OK;
    for (size_t i = 0; rc == LSX_OK && i < hops; i++)
        rc = kem->encap(i == 0 ? first : rs->slot_element[i - 1], rs->shared[i], backend,
                        public_keys + i * kem->public_key_bytes, seeds + i * kem->seed_bytes);
    return rc;
}

/* Builds header = version || element || beta_0 || gamma_0 for a checked
 * route (spec 5.1-5.5, KEM spec 8.1-8.5) and, if payload_keys is not NULL,
 * each hop's LIONESS keys. */
int lsxi_build_header(uint8_t *header, lsxi_lioness_keys *payload_keys, const lsx_geometry *geometry, size_t hops,
                      const uint8_t *public_keys, const uint8_t *commands, const uint8_t *ephemeral) {
    const lsxi_suite *suite = lsxi_suite_of(geometry->suite);
    const size_t H = geometry->hops, S = suite->slot_bytes, extra = S - LSXI_SLOT_ELEMENT_OFFSET;
    const size_t beta_len = H * S, routing_len = beta_len + S;
    const lsx_backend backend = lsxi_active_backend();
    uint8_t *element = header + LSXI_HEADER_ELEMENT_OFFSET, *beta = element + suite->element_bytes;
    uint8_t *gamma = beta + beta_len;
    uint8_t filler[LSXI_MAX_BETA_BYTES];
    uint8_t next_beta[LSXI_MAX_BETA_BYTES];
    route_secrets rs;

    int rc = suite->kem != NULL
                 ? encapsulated_route(element, &rs, suite->kem, backend, hops, public_keys, ephemeral)
                 : blinded_route(element, &rs, suite, backend, hops, public_keys, ephemeral);
    if (rc != LSX_OK) goto done;
    for (size_t i = 0; i < hops; i++) {
        lsxi_kdf(rs.stream_key[i], LSXI_STREAM_KEY_BYTES, LSXI_KDF_HEADER_STREAM, rs.shared[i], suite->kdf_context);
        lsxi_kdf(rs.mac_key[i], LSXI_MAC_KEY_BYTES, LSXI_KDF_HEADER_MAC, rs.shared[i], suite->kdf_context);
        if (payload_keys != NULL) lsxi_lioness_keys_from_secret(&payload_keys[i], rs.shared[i], suite->kdf_context);
    }
    /* Filler: phi_i = (phi_{i-1} || 0^S) xor stream_{i-1}[(H-i+1)S .. (H+1)S). */
    memset(filler, 0, sizeof filler);
    for (size_t i = 1; i < hops; i++) {
        lsxi_stream(rs.stream, routing_len, rs.stream_key[i - 1]);
        for (size_t k = 0; k < i * S; k++) filler[k] ^= rs.stream[(H - i + 1) * S + k];
    }
    /* Last hop: (c || zeros for the gamma and element nothing follows ||
     * 0^((H-n)S)) xor stream, then the filler. */
    {
        const size_t n = hops, head_len = (H - n + 1) * S;
        memset(beta, 0, beta_len);
        memcpy(beta + LSXI_SLOT_COMMAND_OFFSET, commands + (n - 1) * LSX_COMMAND_BYTES, LSX_COMMAND_BYTES);
        lsxi_stream(rs.stream, routing_len, rs.stream_key[n - 1]);
        for (size_t k = 0; k < head_len; k++) beta[k] ^= rs.stream[k];
        memcpy(beta + head_len, filler, (n - 1) * S);
        lsxi_header_mac(gamma, rs.mac_key[n - 1], suite->version, beta, beta_len);
    }
    /* Earlier hops, from the last but one down to the first: each slot is
     * the hop's command, the MAC of the header the next hop will read and,
     * in the KEM suite, the next hop's encapsulation. */
    for (size_t i = hops - 1; i-- > 0;) {
        memcpy(next_beta, beta, beta_len);
        memcpy(beta + LSXI_SLOT_COMMAND_OFFSET, commands + i * LSX_COMMAND_BYTES, LSX_COMMAND_BYTES);
        memcpy(beta + LSXI_SLOT_GAMMA_OFFSET, gamma, LSX_GAMMA_BYTES);
        memcpy(beta + LSXI_SLOT_ELEMENT_OFFSET, rs.slot_element[i], extra);
        memcpy(beta + S, next_beta, beta_len - S);
        lsxi_stream_xor(beta, beta_len, rs.stream_key[i]);
        lsxi_header_mac(gamma, rs.mac_key[i], suite->version, beta, beta_len);
    }
    header[LSXI_HEADER_VERSION_OFFSET] = suite->version;
done:
    sodium_memzero(&rs, sizeof rs);
    sodium_memzero(filler, sizeof filler);
    sodium_memzero(next_beta, sizeof next_beta);
    if (rc != LSX_OK) sodium_memzero(header, LSX_SUITE_HEADER_BYTES(geometry->suite, H));
    return rc;
}

int lsx_create_packet(uint8_t *packet, size_t packet_len, const lsx_geometry *geometry, size_t hops,
                      const uint8_t *public_keys, const uint8_t *commands, const uint8_t *message, size_t message_len,
                      const uint8_t *ephemeral, size_t ephemeral_len) {
    lsxi_lioness_keys keys[LSX_MAX_HOPS];
    uint8_t secrets[LSXI_MAX_EPHEMERAL_BYTES];
    int rc;

    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    if ((rc = lsx_geometry_check(geometry)) != LSX_OK) return rc;
    if (packet == NULL || public_keys == NULL || commands == NULL || (message == NULL && message_len > 0))
        return LSX_ERR_ARGUMENT;
    if (packet_len != lsx_packet_bytes(geometry)) return LSX_ERR_LENGTH;
    if (message_len > LSX_MAX_MESSAGE_BYTES(geometry->payload)) return LSX_ERR_MESSAGE_TOO_LONG;
    if ((rc = check_route(geometry, hops, commands)) != LSX_OK) return rc;
    if ((rc = take_ephemeral(secrets, geometry, hops, ephemeral, ephemeral_len)) != LSX_OK) return rc;

    rc = lsxi_build_header(packet, keys, geometry, hops, public_keys, commands, secrets);
    if (rc == LSX_OK) {
        uint8_t *payload = packet + lsx_header_bytes(geometry);
        lsxi_payload_encode(payload, geometry->payload, message, message_len);
        for (size_t i = hops; i-- > 0;) lsxi_lioness_encrypt(payload, geometry->payload, &keys[i]);
    }
    sodium_memzero(keys, sizeof keys);
    sodium_memzero(secrets, sizeof secrets);
    return rc;
}

int lsx_create_dummy(uint8_t *packet, size_t packet_len, const lsx_geometry *geometry) {
    uint8_t seed[LSXI_ELEMENT_SEED_BYTES];
    int rc = lsx_geometry_check(geometry);
    if (rc != LSX_OK) return rc;
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    if (packet == NULL) return LSX_ERR_ARGUMENT;
    if (packet_len != lsx_packet_bytes(geometry)) return LSX_ERR_LENGTH;
    const lsxi_suite *suite = lsxi_suite_of(geometry->suite);
    uint8_t *element = packet + LSXI_HEADER_ELEMENT_OFFSET, *rest = element + suite->element_bytes;
    randombytes_buf(seed, sizeof seed);
    packet[LSXI_HEADER_VERSION_OFFSET] = suite->version;
    /* An element drawn as a real one is (a real public key has its top bit
     * clear, a real encapsulation is canonical); random bytes would not be. */
    rc = suite->kem != NULL ? suite->kem->dummy(element, seed) : lsxi_x25519_base(element, seed);
    randombytes_buf(rest, packet_len - (size_t)(rest - packet));
    sodium_memzero(seed, sizeof seed);
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
    made->suite = lsxi_suite_of(geometry->suite);
    memcpy(made->secret_key, secret_key, LSX_KEY_BYTES);
    /* The public key once, here: the KEM's decapsulation hashes it. */
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

/* ---- a suite's KEM on its own ---- */

int lsx_kem_encapsulate(uint8_t *ciphertext, size_t ciphertext_len, uint8_t shared_secret[LSX_KEM_SHARED_SECRET_BYTES],
                        lsx_suite suite, const uint8_t public_key[LSX_KEY_BYTES], const uint8_t *seed,
                        size_t seed_len) {
    const lsxi_suite *s = lsxi_suite_of(suite);
    uint8_t fresh[LSXI_ELEMENT_SEED_BYTES];
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    if (s == NULL || s->kem == NULL || ciphertext == NULL || shared_secret == NULL || public_key == NULL)
        return LSX_ERR_ARGUMENT;
    if (ciphertext_len != s->kem->ciphertext_bytes) return LSX_ERR_LENGTH;
    if (seed == NULL) {
        if (seed_len != 0) return LSX_ERR_ARGUMENT;
        randombytes_buf(fresh, s->kem->seed_bytes);
    } else {
        if (seed_len != s->kem->seed_bytes) return LSX_ERR_LENGTH;
        memcpy(fresh, seed, seed_len);
    }
    int rc = s->kem->encap(ciphertext, shared_secret, lsxi_active_backend(), public_key, fresh);
    sodium_memzero(fresh, sizeof fresh);
    if (rc != LSX_OK) {
        sodium_memzero(ciphertext, ciphertext_len);
        sodium_memzero(shared_secret, LSX_KEM_SHARED_SECRET_BYTES);
    }
    return rc;
}

int lsx_kem_decapsulate(uint8_t shared_secret[LSX_KEM_SHARED_SECRET_BYTES], const lsx_node *node,
                        const uint8_t *ciphertext, size_t ciphertext_len) {
    if (shared_secret == NULL || node == NULL || ciphertext == NULL || node->suite->kem == NULL)
        return LSX_ERR_ARGUMENT;
    const lsxi_kem *kem = node->suite->kem;
    if (ciphertext_len != kem->ciphertext_bytes) return LSX_ERR_LENGTH;
    int rc = kem->check(ciphertext);
    if (rc == LSX_OK) rc = kem->decap(shared_secret, node, ciphertext);
    if (rc != LSX_OK) sodium_memzero(shared_secret, LSX_KEM_SHARED_SECRET_BYTES);
    return rc;
}

/* ---- processing ---- */

/* The secrets of one unwrap; wiped on every exit. */
typedef struct hop_secrets {
    uint8_t shared[LSXI_SHARED_BYTES];
    uint8_t key[LSXI_KDF_KEY_BYTES]; /* kh, km and (v1) b in turn */
    uint8_t expected_gamma[LSX_GAMMA_BYTES];
    uint8_t routing[LSXI_MAX_ROUTING_BYTES];
    uint8_t alpha[LSX_ALPHA_BYTES]; /* v1's blinded alpha */
    lsxi_lioness_keys payload_keys;
} hop_secrets;

static int buffers_overlap(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len) {
    return a < b + b_len && b < a + a_len;
}

/* Step 1's last check: the element in its one accepted encoding (v1: alpha's
 * top bit clear, which X25519 would ignore; KEM suite: the KEM's CHECK). */
static int check_element(const lsxi_suite *suite, const uint8_t *element) {
    if (suite->kem != NULL) return suite->kem->check(element);
    return (element[LSXI_ALPHA_TOP_BYTE] & LSXI_ALPHA_TOP_BIT) ? LSX_ERR_NONCANONICAL_ALPHA : LSX_OK;
}

int lsx_process(uint8_t *packet_out, size_t packet_out_len, lsx_processed *result, const lsx_node *node,
                lsx_replay_filter *filter, const uint8_t *packet, size_t packet_len) {
    hop_secrets hs;
    int rc;
    if (node == NULL || packet == NULL || packet_out == NULL || result == NULL) return LSX_ERR_ARGUMENT;

    const lsx_geometry *g = &node->geometry;
    const lsxi_suite *suite = node->suite;
    const size_t H = g->hops, S = suite->slot_bytes, beta_len = H * S;
    const size_t beta_at = LSXI_HEADER_ELEMENT_OFFSET + suite->element_bytes, gamma_at = beta_at + beta_len;
    const size_t header_len = gamma_at + LSX_GAMMA_BYTES, total = header_len + g->payload;
    const uint8_t *element = packet + LSXI_HEADER_ELEMENT_OFFSET, *beta = packet + beta_at;
    const uint8_t *gamma = packet + gamma_at, *next_element;

    memset(result, 0, sizeof *result);
    /* 1. Length, version and the element's one canonical encoding (without
     * it, a second encoding would be a second packet with the same tag). */
    if (packet_len != total || packet_out_len != total) return LSX_ERR_LENGTH;
    if (packet != packet_out && buffers_overlap(packet, total, packet_out, total)) return LSX_ERR_ARGUMENT;
    if (packet[LSXI_HEADER_VERSION_OFFSET] != suite->version) return LSX_ERR_VERSION;
    if ((rc = check_element(suite, element)) != LSX_OK) return rc;

    /* 2. The shared secret: one decapsulation, or X25519 with alpha. */
    rc = suite->kem != NULL ? suite->kem->decap(hs.shared, node, element)
                            : lsxi_x25519_with_key(hs.shared, &node->key, node->secret_key, element);
    if (rc != LSX_OK) goto done;
    /* 3. Replay check first, so that a flood of replays costs one scalar
     * multiplication each. */
    lsxi_kdf(result->tag, LSX_TAG_BYTES, LSXI_KDF_TAG, hs.shared, suite->kdf_context);
    if (filter != NULL && lsx_replay_filter_contains(filter, result->tag)) {
        rc = LSX_ERR_REPLAY;
        goto done;
    }
    /* 4. The header MAC, in constant time. */
    lsxi_kdf(hs.key, LSXI_MAC_KEY_BYTES, LSXI_KDF_HEADER_MAC, hs.shared, suite->kdf_context);
    lsxi_header_mac(hs.expected_gamma, hs.key, suite->version, beta, beta_len);
    if (crypto_verify_16(hs.expected_gamma, gamma) != 0) {
        rc = LSX_ERR_MAC;
        goto done;
    }
    /* 5. Decrypt the routing information and read this hop's command. */
    lsxi_kdf(hs.key, LSXI_STREAM_KEY_BYTES, LSXI_KDF_HEADER_STREAM, hs.shared, suite->kdf_context);
    memcpy(hs.routing, beta, beta_len);
    memset(hs.routing + beta_len, 0, S);
    lsxi_stream_xor(hs.routing, beta_len + S, hs.key);
    if ((rc = lsx_command_decode(&result->flag, &result->delay_us, result->address,
                                 hs.routing + LSXI_SLOT_COMMAND_OFFSET)) != LSX_OK)
        goto done;
    /* 6. Record the tag only now: a forged MAC must not poison the filter. */
    if (filter != NULL && (rc = lsx_replay_filter_insert(filter, result->tag)) != LSX_OK) goto done;
    /* 7. The next hop's element: the encapsulation the slot carries as it
     * is (the next hop checks it), or alpha blinded. */
    if (suite->kem != NULL) {
        next_element = hs.routing + LSXI_SLOT_ELEMENT_OFFSET;
    } else {
        lsxi_kdf(hs.key, LSXI_SCALAR_BYTES, LSXI_KDF_BLINDING, hs.shared, suite->kdf_context);
        if ((rc = lsxi_x25519(hs.alpha, node->key.backend, hs.key, element)) != LSX_OK) goto done;
        next_element = hs.alpha;
    }
    /* 8. Decrypt the payload (in place when the buffers are the same). */
    lsxi_lioness_keys_from_secret(&hs.payload_keys, hs.shared, suite->kdf_context);
    if (packet_out != packet) memcpy(packet_out + header_len, packet + header_len, g->payload);
    lsxi_lioness_decrypt(packet_out + header_len, g->payload, &hs.payload_keys);
    /* 9. The new packet: the next element, the routing information after
     * this hop's slot as beta', and the slot's MAC as gamma'. */
    packet_out[LSXI_HEADER_VERSION_OFFSET] = suite->version;
    memcpy(packet_out + LSXI_HEADER_ELEMENT_OFFSET, next_element, suite->element_bytes);
    memcpy(packet_out + beta_at, hs.routing + S, beta_len);
    memcpy(packet_out + gamma_at, hs.routing + LSXI_SLOT_GAMMA_OFFSET, LSX_GAMMA_BYTES);
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
                    const uint8_t first_hop_id[LSX_ADDRESS_BYTES], const uint8_t *ephemeral, size_t ephemeral_len,
                    const uint8_t reply_key[LSX_REPLY_KEY_BYTES]) {
    lsxi_lioness_keys keys[LSX_MAX_HOPS];
    uint8_t secrets[LSXI_MAX_EPHEMERAL_BYTES];
    uint8_t flag = 0;
    int rc;

    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    if ((rc = lsx_geometry_check(geometry)) != LSX_OK) return rc;
    if (public_keys == NULL || commands == NULL || first_hop_id == NULL || surb == NULL || surb_secret == NULL)
        return LSX_ERR_ARGUMENT;
    if (surb_len != lsx_surb_bytes(geometry) || surb_secret_len != lsx_surb_secret_bytes(geometry))
        return LSX_ERR_LENGTH;
    if ((rc = check_route(geometry, hops, commands)) != LSX_OK) return rc;
    if (lsx_command_decode(&flag, NULL, NULL, commands + (hops - 1) * LSX_COMMAND_BYTES) != LSX_OK ||
        flag != LSX_FLAG_FINAL)
        return LSX_ERR_ROUTE;
    if ((rc = take_ephemeral(secrets, geometry, hops, ephemeral, ephemeral_len)) != LSX_OK) return rc;

    uint8_t *kt = surb + LSXI_SURB_REPLY_KEY_OFFSET(geometry->suite, geometry->hops);
    rc = lsxi_build_header(surb + LSXI_SURB_HEADER_OFFSET, keys, geometry, hops, public_keys, commands, secrets);
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
    sodium_memzero(secrets, sizeof secrets);
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
    const size_t header_len = lsx_header_bytes(geometry);
    if (surb_len != lsx_surb_bytes(geometry) || packet_len != header_len + geometry->payload) return LSX_ERR_LENGTH;
    if (message_len > LSX_MAX_MESSAGE_BYTES(geometry->payload)) return LSX_ERR_MESSAGE_TOO_LONG;
    if (buffers_overlap(surb, surb_len, packet, packet_len)) return LSX_ERR_ARGUMENT;

    memcpy(&kt, surb + LSXI_SURB_REPLY_KEY_OFFSET(geometry->suite, geometry->hops), sizeof kt);
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
    if (surb_len != lsx_surb_bytes(geometry)) return LSX_ERR_LENGTH;
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
