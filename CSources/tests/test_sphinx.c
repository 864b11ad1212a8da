/* Unit tests and test vectors for the C Sphinx core.
 * Usage: test_sphinx VECTORS_DIR (the folder holding sphinx-v1.json). */
#include "check.h"
#include "json.h"
#include "loopix_sphinx.h"
#include "lsx_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A route of n fresh nodes: RELAY to the next node, and `last_flag` at the end. */
typedef struct {
    size_t n;
    uint8_t pk[LSX_MAX_HOPS][LSX_KEY_BYTES], sk[LSX_MAX_HOPS][LSX_KEY_BYTES], id[LSX_MAX_HOPS][LSX_ADDRESS_BYTES];
    uint8_t cmd[LSX_MAX_HOPS][LSX_COMMAND_BYTES];
    lsx_node *node[LSX_MAX_HOPS];
} route;

static void route_make(route *r, const lsx_geometry *g, size_t n, uint8_t last_flag, const uint8_t *last_address) {
    memset(r, 0, sizeof *r);
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        CHECK_RC(lsx_keypair(r->pk[i], r->sk[i]), LSX_OK);
        lsx_random(r->id[i], LSX_ADDRESS_BYTES);
        CHECK_RC(lsx_node_create(&r->node[i], g, r->sk[i]), LSX_OK);
    }
    for (size_t i = 0; i + 1 < n; i++) CHECK_RC(lsx_command_encode(r->cmd[i], LSX_FLAG_RELAY, (uint32_t)(1000 * i + 7), r->id[i + 1]), LSX_OK);
    CHECK_RC(lsx_command_encode(r->cmd[n - 1], last_flag, 42, last_flag == LSX_FLAG_DROP ? NULL : last_address), LSX_OK);
}

static void route_free(route *r) {
    for (size_t i = 0; i < r->n; i++) lsx_node_destroy(r->node[i]);
}

/* Runs a packet through the whole route, checking every hop's command. */
static int route_run(route *r, const lsx_geometry *g, uint8_t *packet, lsx_processed *last) {
    size_t len = lsx_packet_bytes(g);
    for (size_t i = 0; i < r->n; i++) {
        int rc = lsx_process(packet, len, last, r->node[i], NULL, packet, len);
        if (rc != LSX_OK) return rc;
        uint8_t flag = 0;
        uint32_t delay = 0;
        uint8_t address[LSX_ADDRESS_BYTES];
        CHECK_RC(lsx_command_decode(&flag, &delay, address, r->cmd[i]), LSX_OK);
        CHECK(last->flag == flag && last->delay_us == delay);
        CHECK(memcmp(last->address, address, LSX_ADDRESS_BYTES) == 0);
    }
    return LSX_OK;
}

static void test_geometry(void) {
    current_test = "geometry";
    lsx_geometry g;
    CHECK_RC(lsx_geometry_init(&g, 6, 2048), LSX_OK);
    CHECK(lsx_header_bytes(&g) == 433 && lsx_packet_bytes(&g) == 2481);
    CHECK(lsx_max_message_bytes(&g) == 2030 && lsx_surb_bytes(&g) == 32 + 433 + 128);
    CHECK(LSX_PACKET_BYTES(6, 2048) == 2481);
    CHECK_RC(lsx_geometry_init(&g, 0, 2048), LSX_ERR_GEOMETRY);
    CHECK_RC(lsx_geometry_init(&g, 17, 2048), LSX_ERR_GEOMETRY);
    CHECK_RC(lsx_geometry_init(&g, 6, 63), LSX_ERR_GEOMETRY);
    CHECK_RC(lsx_geometry_init(&g, 6, 65537), LSX_ERR_GEOMETRY);
    CHECK_RC(lsx_geometry_init(NULL, 6, 2048), LSX_ERR_ARGUMENT);
    lsx_geometry bad = {99, 2048};
    CHECK(lsx_packet_bytes(&bad) == 0);
    CHECK(lsx_surb_secret_bytes(&g) == 1 + 128 + 6 * 128);
    CHECK(strcmp(lsx_version(), LSX_VERSION_STRING) == 0);
    CHECK(strcmp(lsx_error_name(LSX_ERR_MAC), "bad_mac") == 0);
    CHECK(strcmp(lsx_error_name(12345), "unknown_error") == 0);
}

/* Every size function, macro and offset against the numbers of the spec (sections 2, 3, 8). */
static void test_sizes(void) {
    current_test = "sizes and offsets are the spec's, as macros and as functions";
    CHECK(lsx_format_version_bytes() == 1 && LSX_FORMAT_VERSION_BYTES == 1);
    CHECK(lsx_key_bytes() == 32 && lsx_secret_bytes() == 32 && lsx_alpha_bytes() == 32);
    CHECK(lsx_gamma_bytes() == 16 && lsx_address_bytes() == 32 && lsx_tag_bytes() == 32);
    CHECK(lsx_command_flag_bytes() == 1 && lsx_command_delay_bytes() == 4 && lsx_command_reserved_bytes() == 11);
    CHECK(lsx_command_bytes() == 48 && LSX_COMMAND_BYTES == 48 && lsx_slot_bytes() == 64 && LSX_SLOT_BYTES == 64);
    CHECK(lsx_payload_zero_bytes() == 16 && lsx_payload_length_bytes() == 2 && lsx_payload_overhead() == 18);
    CHECK(lsx_reply_key_bytes() == 128 && lsx_route_length_bytes() == 1);
    CHECK(lsx_min_hops() == 1 && lsx_max_hops() == 16 && lsx_min_payload() == 64 && lsx_max_payload() == 65536);
    CHECK(lsx_default_hops() == 6 && lsx_default_payload() == 2048);
    CHECK(lsx_sign_public_key_bytes() == 32 && lsx_sign_seed_bytes() == 32);
    CHECK(lsx_sign_secret_key_bytes() == 64 && lsx_signature_bytes() == 64);
    /* Where each field sits (spec section 3: header, slot, command; 5.6: payload; 8: reply block). */
    CHECK(LSXI_HEADER_ALPHA_OFFSET == 1 && LSXI_HEADER_BETA_OFFSET == 33 && LSXI_HEADER_GAMMA_OFFSET(6) == 417);
    CHECK(LSXI_SLOT_GAMMA_OFFSET == 48);
    CHECK(LSXI_COMMAND_DELAY_OFFSET == 1 && LSXI_COMMAND_ADDRESS_OFFSET == 5 && LSXI_COMMAND_RESERVED_OFFSET == 37);
    CHECK(LSXI_PAYLOAD_LENGTH_OFFSET == 16 && LSXI_PAYLOAD_MESSAGE_OFFSET == 18);
    CHECK(LSXI_SURB_HEADER_OFFSET == 32 && LSXI_SURB_REPLY_KEY_OFFSET(6) == 32 + 433);
    CHECK(LSXI_SURB_SECRET_REPLY_KEY_OFFSET == 1 && LSXI_SURB_SECRET_HOP_KEYS_OFFSET == 129);
    CHECK(LSXI_ALPHA_TOP_BYTE == 31 && LSXI_LIONESS_LEFT_BYTES == 32);
}

/* X25519_BASE through the Ed25519 table agrees with libsodium's own. */
static void test_x25519_base(void) {
    current_test = "fixed-base X25519 agrees with crypto_scalarmult_base";
    uint8_t scalar[LSXI_SCALAR_BYTES], ours[LSXI_POINT_BYTES], theirs[LSXI_POINT_BYTES];
    int agree = 1;
    for (int i = 0; i < 3000; i++) {
        if (i < 256) memset(scalar, i, sizeof scalar); /* 0x00.., 0xff.. and every byte between */
        else lsx_random(scalar, sizeof scalar);
        CHECK_RC(lsxi_x25519_base(ours, scalar), LSX_OK);
        agree &= crypto_scalarmult_base(theirs, scalar) == 0 && memcmp(ours, theirs, sizeof ours) == 0;
    }
    CHECK(agree);
    /* In place. */
    lsx_random(scalar, sizeof scalar);
    CHECK(crypto_scalarmult_base(theirs, scalar) == 0);
    CHECK_RC(lsxi_x25519_base(scalar, scalar), LSX_OK);
    CHECK(memcmp(scalar, theirs, sizeof theirs) == 0);
}

static void round_trips(const lsx_geometry *g) {
    size_t len = lsx_packet_bytes(g), max = lsx_max_message_bytes(g);
    uint8_t *packet = malloc(len), *message = malloc(max);
    for (size_t n = 1; n <= g->hops; n++) {
        const size_t sizes[3] = {0, max / 2, max};
        for (int s = 0; s < 3; s++) {
            route r;
            uint8_t msg_id[LSX_ADDRESS_BYTES];
            lsx_random(msg_id, sizeof msg_id);
            lsx_random(message, sizes[s]);
            route_make(&r, g, n, LSX_FLAG_FINAL, msg_id);
            CHECK_RC(lsx_create_packet(packet, len, g, n, r.pk[0], r.cmd[0], message, sizes[s], NULL), LSX_OK);
            lsx_processed res;
            CHECK_RC(route_run(&r, g, packet, &res), LSX_OK);
            CHECK(res.final_status == LSX_OK && res.message_len == sizes[s]);
            CHECK(sizes[s] == 0 || memcmp(packet + res.message_offset, message, sizes[s]) == 0);
            route_free(&r);
        }
    }
    /* A message one byte too long is refused. */
    route r;
    route_make(&r, g, 1, LSX_FLAG_DROP, NULL);
    uint8_t *too_long = calloc(1, max + 1);
    CHECK_RC(lsx_create_packet(packet, len, g, 1, r.pk[0], r.cmd[0], too_long, max + 1, NULL), LSX_ERR_MESSAGE_TOO_LONG);
    CHECK_RC(lsx_create_packet(packet, len, g, 0, r.pk[0], r.cmd[0], too_long, 1, NULL), LSX_ERR_ROUTE);
    CHECK_RC(lsx_create_packet(packet, len, g, g->hops + 1, r.pk[0], r.cmd[0], too_long, 1, NULL), LSX_ERR_ROUTE);
    CHECK_RC(lsx_create_packet(packet, len - 1, g, 1, r.pk[0], r.cmd[0], too_long, 1, NULL), LSX_ERR_LENGTH);
    free(too_long);
    route_free(&r);
    free(packet);
    free(message);
}

static void test_round_trips(void) {
    current_test = "round trips, every hop count, both geometries";
    lsx_geometry g;
    CHECK_RC(lsx_geometry_init(&g, 6, 2048), LSX_OK);
    round_trips(&g);
    CHECK_RC(lsx_geometry_init(&g, 2, 64), LSX_OK);
    round_trips(&g);
}

/* Flips one bit in a region of a 3-hop packet and runs it through. */
static int tampered_outcome(size_t offset, int *final_status) {
    lsx_geometry g;
    route r;
    uint8_t msg_id[LSX_ADDRESS_BYTES] = {1};
    CHECK_RC(lsx_geometry_init(&g, 6, 2048), LSX_OK);
    size_t len = lsx_packet_bytes(&g);
    uint8_t *packet = malloc(len);
    route_make(&r, &g, 3, LSX_FLAG_FINAL, msg_id);
    CHECK_RC(lsx_create_packet(packet, len, &g, 3, r.pk[0], r.cmd[0], (const uint8_t *)"hello", 5, NULL), LSX_OK);
    packet[offset] ^= 0x04;
    lsx_processed res;
    int rc = route_run(&r, &g, packet, &res);
    *final_status = res.final_status;
    route_free(&r);
    free(packet);
    return rc;
}

static void test_tampering(void) {
    current_test = "a flipped bit in each region";
    int fs = 0;
    const size_t H = LSX_DEFAULT_HOPS, payload = LSX_HEADER_BYTES(H);
    int rc = tampered_outcome(LSXI_HEADER_ALPHA_OFFSET + 5, &fs);
    CHECK(rc == LSX_ERR_MAC || rc == LSX_ERR_LOW_ORDER);
    CHECK_RC(tampered_outcome(LSXI_HEADER_BETA_OFFSET + 100, &fs), LSX_ERR_MAC);
    CHECK_RC(tampered_outcome(LSXI_HEADER_GAMMA_OFFSET(H) + 3, &fs), LSX_ERR_MAC);
    CHECK_RC(tampered_outcome(payload + 1000, &fs), LSX_OK); /* only the destination notices */
    CHECK(fs == LSX_ERR_PAYLOAD);
    CHECK_RC(tampered_outcome(payload + 5, &fs), LSX_OK);
    CHECK(fs == LSX_ERR_PAYLOAD);
}

static void test_header_checks(void) {
    current_test = "version, canonical alpha, low-order alpha, length";
    lsx_geometry g;
    route r;
    CHECK_RC(lsx_geometry_init(&g, 6, 2048), LSX_OK);
    size_t len = lsx_packet_bytes(&g);
    uint8_t *packet = malloc(len), *out = malloc(len);
    lsx_processed res;
    route_make(&r, &g, 1, LSX_FLAG_DROP, NULL);
    CHECK_RC(lsx_create_packet(packet, len, &g, 1, r.pk[0], r.cmd[0], NULL, 0, NULL), LSX_OK);

    packet[0] = 0x02;
    CHECK_RC(lsx_process(out, len, &res, r.node[0], NULL, packet, len), LSX_ERR_VERSION);
    packet[0] = 0x01;
    packet[LSXI_HEADER_ALPHA_OFFSET + LSXI_ALPHA_TOP_BYTE] |= LSXI_ALPHA_TOP_BIT;
    CHECK_RC(lsx_process(out, len, &res, r.node[0], NULL, packet, len), LSX_ERR_NONCANONICAL_ALPHA);
    packet[LSXI_HEADER_ALPHA_OFFSET + LSXI_ALPHA_TOP_BYTE] &= (uint8_t)~LSXI_ALPHA_TOP_BIT;
    CHECK_RC(lsx_process(out, len - 1, &res, r.node[0], NULL, packet, len - 1), LSX_ERR_LENGTH);
    CHECK_RC(lsx_process(out, len + 1, &res, r.node[0], NULL, packet, len + 1), LSX_ERR_LENGTH);
    CHECK_RC(lsx_process(out, 0, &res, r.node[0], NULL, packet, 0), LSX_ERR_LENGTH);
    CHECK_RC(lsx_process(packet + 1, len, &res, r.node[0], NULL, packet, len), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_process(out, len, &res, NULL, NULL, packet, len), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_process(out, len, &res, r.node[0], NULL, packet, len), LSX_OK);
    CHECK(res.flag == LSX_FLAG_DROP);

    /* Every point of small order with a canonical encoding (top bit clear). */
    static const uint8_t small_order[][LSX_ALPHA_BYTES] = {
        {0},
        {1},
        {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
         0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
        {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
         0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
        {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
        {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
        {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    };
    const lsx_backend backends[2] = {LSX_BACKEND_SODIUM, LSX_BACKEND_LIBCRYPTO};
    lsx_backend saved = lsx_get_backend();
    for (int b = 0; b < 2; b++) {
        lsx_node *node = NULL;
        CHECK_RC(lsx_set_backend(backends[b]), LSX_OK);
        CHECK_RC(lsx_node_create(&node, &g, r.sk[0]), LSX_OK);
        for (size_t i = 0; i < sizeof small_order / sizeof small_order[0]; i++) {
            memcpy(packet + LSXI_HEADER_ALPHA_OFFSET, small_order[i], LSX_ALPHA_BYTES);
            CHECK_RC(lsx_process(out, len, &res, node, NULL, packet, len), LSX_ERR_LOW_ORDER);
        }
        lsx_node_destroy(node);
    }
    CHECK_RC(lsx_set_backend(saved), LSX_OK);
    route_free(&r);
    free(packet);
    free(out);
}

/* Builds a 1-hop packet whose command is raw (bad flag or reserved bytes). */
static void test_bad_commands(void) {
    current_test = "unknown flags and reserved bytes";
    lsx_geometry g;
    route r;
    CHECK_RC(lsx_geometry_init(&g, 6, 2048), LSX_OK);
    size_t len = lsx_packet_bytes(&g);
    uint8_t *packet = malloc(len);
    lsx_processed res;
    route_make(&r, &g, 2, LSX_FLAG_DROP, NULL);
    uint8_t secret[LSX_SECRET_BYTES];
    const uint8_t bad_flags[] = {0x00, 0x05, 0xff};
    for (size_t i = 0; i < sizeof bad_flags; i++) {
        uint8_t cmd[LSX_COMMAND_BYTES] = {0};
        cmd[0] = bad_flags[i];
        CHECK_RC(lsx_create_packet(packet, len, &g, 1, r.pk[0], cmd, NULL, 0, NULL), LSX_ERR_FLAG);
        lsx_random(secret, sizeof secret);
        CHECK_RC(lsxi_build_header(packet, NULL, &g, 1, r.pk[0], cmd, secret), LSX_OK);
        CHECK_RC(lsx_process(packet, len, &res, r.node[0], NULL, packet, len), LSX_ERR_FLAG);
    }
    for (size_t pos = LSXI_COMMAND_RESERVED_OFFSET; pos < LSX_COMMAND_BYTES; pos += 5) {
        uint8_t cmd[LSX_COMMAND_BYTES];
        CHECK_RC(lsx_command_encode(cmd, LSX_FLAG_RELAY, 0, r.id[1]), LSX_OK);
        cmd[pos] = 1;
        CHECK_RC(lsx_command_decode(NULL, NULL, NULL, cmd), LSX_ERR_RESERVED);
        CHECK_RC(lsx_create_packet(packet, len, &g, 1, r.pk[0], cmd, NULL, 0, NULL), LSX_ERR_RESERVED);
        lsx_random(secret, sizeof secret);
        CHECK_RC(lsxi_build_header(packet, NULL, &g, 1, r.pk[0], cmd, secret), LSX_OK);
        CHECK_RC(lsx_process(packet, len, &res, r.node[0], NULL, packet, len), LSX_ERR_RESERVED);
    }
    route_free(&r);
    free(packet);
}

static void test_replays(void) {
    current_test = "replays";
    lsx_geometry g;
    route r;
    lsx_replay_filter *filter = NULL;
    CHECK_RC(lsx_geometry_init(&g, 6, 2048), LSX_OK);
    CHECK_RC(lsx_replay_filter_create(&filter, 1000, 1e-6, 1), LSX_OK);
    size_t len = lsx_packet_bytes(&g);
    uint8_t *packet = malloc(len), *out = malloc(len), *copy = malloc(len);
    lsx_processed res, res2;
    route_make(&r, &g, 2, LSX_FLAG_DROP, NULL);
    CHECK_RC(lsx_create_packet(packet, len, &g, 2, r.pk[0], r.cmd[0], NULL, 0, NULL), LSX_OK);
    memcpy(copy, packet, len);
    /* A tampered copy fails its MAC and must not poison the filter. */
    copy[100] ^= 1;
    CHECK_RC(lsx_process(out, len, &res, r.node[0], filter, copy, len), LSX_ERR_MAC);
    CHECK(lsx_replay_filter_count(filter) == 0);
    CHECK_RC(lsx_process(out, len, &res, r.node[0], filter, packet, len), LSX_OK);
    CHECK(lsx_replay_filter_count(filter) == 1);
    CHECK_RC(lsx_process(out, len, &res2, r.node[0], filter, packet, len), LSX_ERR_REPLAY);
    CHECK(memcmp(res.tag, res2.tag, LSX_TAG_BYTES) == 0);
    /* A new epoch forgets. */
    lsx_replay_filter_rotate(filter, 2);
    CHECK(lsx_replay_filter_epoch(filter) == 2 && lsx_replay_filter_count(filter) == 0);
    CHECK_RC(lsx_process(out, len, &res, r.node[0], filter, packet, len), LSX_OK);
    lsx_replay_filter_destroy(filter);
    route_free(&r);
    free(packet);
    free(out);
    free(copy);
}

static void test_replay_filter(void) {
    current_test = "replay filter: bounded, fail-closed, false-positive rate";
    lsx_replay_filter *f = NULL;
    uint8_t tag[LSX_TAG_BYTES];
    CHECK_RC(lsx_replay_filter_create(&f, 0, 1e-6, 0), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_replay_filter_create(&f, 100, 0.0, 0), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_replay_filter_create(&f, 100, 0.9, 0), LSX_ERR_ARGUMENT);
    CHECK(lsx_replay_filter_capacity_for(100, 3600) == 450000);
    /* Saturation: exactly `capacity` tags, then a refusal, never a crash. */
    CHECK_RC(lsx_replay_filter_create(&f, 500, 1e-6, 7), LSX_OK);
    CHECK(lsx_replay_filter_false_positive_rate(f) <= 1e-6);
    int ok = 1;
    for (int i = 0; i < 500; i++) {
        lsx_random(tag, sizeof tag);
        ok &= lsx_replay_filter_insert(f, tag) == LSX_OK;
    }
    CHECK(ok);
    CHECK_RC(lsx_replay_filter_insert(f, tag), LSX_ERR_REPLAY);
    lsx_random(tag, sizeof tag);
    CHECK_RC(lsx_replay_filter_insert(f, tag), LSX_ERR_REPLAY_FULL);
    CHECK(lsx_replay_filter_count(f) == 500);
    lsx_replay_filter_destroy(f);

    /* The measured false-positive rate of a full filter matches the one it
     * reports (target 1e-3 so that it is measurable: 10^6 probes). */
    const uint64_t n = 100000;
    CHECK_RC(lsx_replay_filter_create(&f, n, 1e-3, 0), LSX_OK);
    double predicted = lsx_replay_filter_false_positive_rate(f);
    CHECK(predicted <= 1e-3 && predicted > 1e-4);
    uint64_t refused = 0;
    int only_false_positives = 1;
    for (uint64_t i = 0; i < n; i++) {
        lsx_random(tag, sizeof tag);
        int rc = lsx_replay_filter_insert(f, tag);
        refused += rc != LSX_OK;
        only_false_positives &= rc == LSX_OK || rc == LSX_ERR_REPLAY; /* never saturation */
    }
    CHECK(only_false_positives);
    CHECK(lsx_replay_filter_count(f) == n - refused);
    uint64_t hits = 0, probes = 1000000;
    for (uint64_t i = 0; i < probes; i++) {
        lsx_random(tag, sizeof tag);
        hits += (uint64_t)lsx_replay_filter_contains(f, tag);
    }
    double measured = (double)hits / (double)probes;
    printf("  replay filter: capacity %llu, %zu bytes (%.1f bits/tag), fpr predicted %.2e measured %.2e\n",
           (unsigned long long)n, lsx_replay_filter_memory_bytes(f), 8.0 * (double)lsx_replay_filter_memory_bytes(f) / (double)n,
           predicted, measured);
    CHECK(measured < 1.3 * predicted && measured > 0.5 * predicted);
    lsx_replay_filter_destroy(f);
}

static void test_surb(void) {
    current_test = "reply blocks";
    lsx_geometry g;
    route r;
    CHECK_RC(lsx_geometry_init(&g, 6, 2048), LSX_OK);
    size_t len = lsx_packet_bytes(&g);
    uint8_t *surb = malloc(lsx_surb_bytes(&g)), *secret = malloc(lsx_surb_secret_bytes(&g));
    uint8_t *packet = malloc(len), *again = malloc(len);
    uint8_t reply_id[LSX_ADDRESS_BYTES], first_hop[LSX_ADDRESS_BYTES], to[LSX_ADDRESS_BYTES];
    lsx_random(reply_id, sizeof reply_id);
    route_make(&r, &g, 4, LSX_FLAG_FINAL, reply_id);
    memcpy(first_hop, r.id[0], LSX_ADDRESS_BYTES);
    CHECK_RC(lsx_surb_create(surb, lsx_surb_bytes(&g), secret, lsx_surb_secret_bytes(&g), &g, 4, r.pk[0], r.cmd[0],
                             first_hop, NULL, NULL),
             LSX_OK);
    const char *reply = "a reply through a single-use block";
    CHECK_RC(lsx_surb_use(packet, len, to, &g, surb, lsx_surb_bytes(&g), (const uint8_t *)reply, strlen(reply)), LSX_OK);
    CHECK(memcmp(to, first_hop, LSX_ADDRESS_BYTES) == 0);
    memset(to, 0, sizeof to);
    CHECK_RC(lsx_surb_first_hop(to, &g, surb, lsx_surb_bytes(&g)), LSX_OK);
    CHECK(memcmp(to, first_hop, LSX_ADDRESS_BYTES) == 0);
    CHECK_RC(lsx_surb_first_hop(to, &g, surb, lsx_surb_bytes(&g) - 1), LSX_ERR_LENGTH);
    memcpy(again, packet, len);
    lsx_processed res;
    CHECK_RC(route_run(&r, &g, packet, &res), LSX_OK);
    CHECK(res.flag == LSX_FLAG_FINAL && memcmp(res.address, reply_id, LSX_ADDRESS_BYTES) == 0);
    CHECK(res.final_status == LSX_ERR_PAYLOAD); /* a reply is not readable as a forward message */
    size_t off = 0, mlen = 0;
    uint8_t *payload = packet + lsx_header_bytes(&g);
    CHECK_RC(lsx_surb_open(payload, g.payload, &off, &mlen, &g, secret, lsx_surb_secret_bytes(&g)), LSX_OK);
    CHECK(mlen == strlen(reply) && memcmp(payload + off, reply, mlen) == 0);

    /* Used twice: the first hop's replay filter drops the second use. */
    lsx_replay_filter *filter = NULL;
    CHECK_RC(lsx_replay_filter_create(&filter, 100, 1e-6, 0), LSX_OK);
    CHECK_RC(lsx_surb_use(packet, len, to, &g, surb, lsx_surb_bytes(&g), (const uint8_t *)"x", 1), LSX_OK);
    CHECK_RC(lsx_process(again, len, &res, r.node[0], filter, again, len), LSX_OK);
    CHECK_RC(lsx_process(packet, len, &res, r.node[0], filter, packet, len), LSX_ERR_REPLAY);
    lsx_replay_filter_destroy(filter);

    /* A route not ending in FINAL is refused; a wrong secret does not open. */
    route r2;
    route_make(&r2, &g, 2, LSX_FLAG_DELIVER, reply_id);
    CHECK_RC(lsx_surb_create(surb, lsx_surb_bytes(&g), secret, lsx_surb_secret_bytes(&g), &g, 2, r2.pk[0], r2.cmd[0],
                             first_hop, NULL, NULL),
             LSX_ERR_ROUTE);
    route_free(&r2);
    secret[0] = 0;
    CHECK_RC(lsx_surb_open(payload, g.payload, &off, &mlen, &g, secret, lsx_surb_secret_bytes(&g)), LSX_ERR_ROUTE);
    route_free(&r);
    free(surb);
    free(secret);
    free(packet);
    free(again);
}

static void test_backends_agree(void) {
    current_test = "every backend gives identical bytes";
    lsx_geometry g;
    route r;
    CHECK_RC(lsx_geometry_init(&g, 6, 2048), LSX_OK);
    size_t len = lsx_packet_bytes(&g);
    uint8_t x[LSX_SECRET_BYTES], id[LSX_ADDRESS_BYTES];
    lsx_random(x, sizeof x);
    lsx_random(id, sizeof id);
    route_make(&r, &g, 6, LSX_FLAG_FINAL, id);
    uint8_t *a = malloc(len), *b = malloc(len);
    lsx_backend saved = lsx_get_backend();
    CHECK_RC(lsx_set_backend(LSX_BACKEND_SODIUM), LSX_OK);
    CHECK_RC(lsx_create_packet(a, len, &g, 6, r.pk[0], r.cmd[0], (const uint8_t *)"same", 4, x), LSX_OK);
    CHECK_RC(lsx_set_backend(LSX_BACKEND_LIBCRYPTO), LSX_OK);
    CHECK_RC(lsx_create_packet(b, len, &g, 6, r.pk[0], r.cmd[0], (const uint8_t *)"same", 4, x), LSX_OK);
    CHECK(memcmp(a, b, len) == 0);
    for (size_t i = 0; i < 6; i++) {
        lsx_node *sodium_node = NULL, *evp_node = NULL;
        lsx_processed ra, rb;
        CHECK_RC(lsx_set_backend(LSX_BACKEND_SODIUM), LSX_OK);
        CHECK_RC(lsx_node_create(&sodium_node, &g, r.sk[i]), LSX_OK);
        CHECK_RC(lsx_set_backend(LSX_BACKEND_LIBCRYPTO), LSX_OK);
        CHECK_RC(lsx_node_create(&evp_node, &g, r.sk[i]), LSX_OK);
        CHECK(lsx_node_backend(evp_node) == LSX_BACKEND_LIBCRYPTO && lsx_node_backend(sodium_node) == LSX_BACKEND_SODIUM);
        CHECK_RC(lsx_process(a, len, &ra, sodium_node, NULL, a, len), LSX_OK);
        CHECK_RC(lsx_process(b, len, &rb, evp_node, NULL, b, len), LSX_OK);
        CHECK(memcmp(a, b, len) == 0 && memcmp(&ra, &rb, sizeof ra) == 0);
        lsx_node_destroy(sodium_node);
        lsx_node_destroy(evp_node);
    }
    CHECK_RC(lsx_set_backend(saved), LSX_OK);
    route_free(&r);
    free(a);
    free(b);
}

static void test_dummy(void) {
    current_test = "dummy packets look like packets";
    lsx_geometry g;
    CHECK_RC(lsx_geometry_init(&g, 6, 2048), LSX_OK);
    size_t len = lsx_packet_bytes(&g);
    uint8_t *p = malloc(len);
    int top_bits = 0;
    for (int i = 0; i < 64; i++) {
        CHECK_RC(lsx_create_dummy(p, len, &g), LSX_OK);
        top_bits |= p[LSXI_HEADER_ALPHA_OFFSET + LSXI_ALPHA_TOP_BYTE] & LSXI_ALPHA_TOP_BIT;
        CHECK(p[0] == LSX_FORMAT_VERSION);
    }
    CHECK(top_bits == 0);
    CHECK_RC(lsx_create_dummy(p, len - 1, &g), LSX_ERR_LENGTH);
    free(p);
}

static void test_signatures(void) {
    current_test = "Ed25519 signatures";
    uint8_t pk[LSX_SIGN_PUBLIC_KEY_BYTES], sk[LSX_SIGN_SECRET_KEY_BYTES], pk2[LSX_SIGN_PUBLIC_KEY_BYTES];
    uint8_t sk2[LSX_SIGN_SECRET_KEY_BYTES], sig[LSX_SIGNATURE_BYTES], seed[LSX_SIGN_SEED_BYTES] = {7};
    const uint8_t msg[] = "topology v1";
    CHECK_RC(lsx_sign_keypair(pk, sk, NULL), LSX_OK);
    CHECK_RC(lsx_sign(sig, msg, sizeof msg, sk), LSX_OK);
    CHECK_RC(lsx_verify(sig, msg, sizeof msg, pk), LSX_OK);
    CHECK_RC(lsx_verify(sig, msg, sizeof msg - 1, pk), LSX_ERR_SIGNATURE);
    sig[10] ^= 1;
    CHECK_RC(lsx_verify(sig, msg, sizeof msg, pk), LSX_ERR_SIGNATURE);
    CHECK_RC(lsx_sign_keypair(pk, sk, seed), LSX_OK);
    CHECK_RC(lsx_sign_keypair(pk2, sk2, seed), LSX_OK);
    CHECK(memcmp(pk, pk2, sizeof pk) == 0);
    uint8_t seed_again[LSX_SIGN_SEED_BYTES];
    CHECK_RC(lsx_sign_seed(seed_again, sk), LSX_OK);
    CHECK(memcmp(seed_again, seed, sizeof seed) == 0);
    CHECK_RC(lsx_sign(sig, NULL, 0, sk), LSX_OK);
    CHECK_RC(lsx_verify(sig, NULL, 0, pk), LSX_OK);
    CHECK(strcmp(lsx_error_name(LSX_ERR_SIGNATURE), "bad_signature") == 0);
}

/* ---- test vectors ---- */

static int check_hex_equal(const json *o, const char *key, const uint8_t *actual, size_t n) {
    size_t len = 0;
    uint8_t *expected = json_hex(o, key, &len);
    int same = expected != NULL && len == n && memcmp(expected, actual, n) == 0;
    free(expected);
    return same;
}

static void vector_case(const json *c) {
    const json *geo = json_get(c, "geometry"), *route_v = json_get(c, "route"), *hops_v = json_get(c, "hops");
    lsx_geometry g;
    CHECK_RC(lsx_geometry_init(&g, (uint32_t)json_number(geo, "hops"), (uint32_t)json_number(geo, "payload")), LSX_OK);
    size_t n = route_v->count, len = lsx_packet_bytes(&g), l;
    uint8_t pks[LSX_MAX_HOPS][LSX_KEY_BYTES], cmds[LSX_MAX_HOPS][LSX_COMMAND_BYTES];
    lsx_node *nodes[LSX_MAX_HOPS] = {0};
    for (size_t i = 0; i < n; i++) {
        uint8_t *sk = json_hex(route_v->items[i], "private_key", &l), *pk = json_hex(route_v->items[i], "public_key", &l);
        uint8_t *cmd = json_hex(route_v->items[i], "command", &l);
        uint8_t derived[LSX_KEY_BYTES];
        CHECK_RC(lsx_public_key(derived, sk), LSX_OK);
        CHECK(memcmp(derived, pk, LSX_KEY_BYTES) == 0);
        memcpy(pks[i], pk, LSX_KEY_BYTES);
        memcpy(cmds[i], cmd, LSX_COMMAND_BYTES);
        CHECK_RC(lsx_node_create(&nodes[i], &g, sk), LSX_OK);
        free(sk);
        free(pk);
        free(cmd);
    }
    size_t mlen = 0;
    uint8_t *x = json_hex(c, "ephemeral_secret", &l), *message = json_hex(c, "message", &mlen);
    uint8_t *packet = malloc(len);
    CHECK_RC(lsx_create_packet(packet, len, &g, n, pks[0], cmds[0], message, mlen, x), LSX_OK);
    CHECK(check_hex_equal(c, "packet", packet, len));
    for (size_t i = 0; i < n && i < hops_v->count; i++) {
        const json *h = hops_v->items[i];
        lsx_processed res;
        CHECK_RC(lsx_process(packet, len, &res, nodes[i], NULL, packet, len), LSX_OK);
        CHECK(check_hex_equal(h, "tag", res.tag, LSX_TAG_BYTES));
        CHECK(res.flag == (uint8_t)json_number(h, "flag") && res.delay_us == (uint32_t)json_number(h, "delay_us"));
        CHECK(check_hex_equal(h, "address", res.address, LSX_ADDRESS_BYTES));
        CHECK(check_hex_equal(h, "packet_out", packet, len));
        if (i == n - 1 && res.flag == LSX_FLAG_FINAL) {
            CHECK(res.final_status == LSX_OK && res.message_len == mlen);
            CHECK(mlen == 0 || memcmp(packet + res.message_offset, message, mlen) == 0);
        }
    }
    const json *s = json_get(c, "surb");
    if (s != NULL) {
        size_t surb_len = lsx_surb_bytes(&g), secret_len = lsx_surb_secret_bytes(&g), rlen = 0;
        uint8_t *first = json_hex(s, "first_hop_id", &l), *sx = json_hex(s, "ephemeral_secret", &l);
        uint8_t *kt = json_hex(s, "reply_key", &l), *reply = json_hex(s, "reply_message", &rlen);
        uint8_t *surb = malloc(surb_len), *secret = malloc(secret_len), to[LSX_ADDRESS_BYTES];
        CHECK_RC(lsx_surb_create(surb, surb_len, secret, secret_len, &g, n, pks[0], cmds[0], first, sx, kt), LSX_OK);
        CHECK(check_hex_equal(s, "surb", surb, surb_len));
        CHECK_RC(lsx_surb_use(packet, len, to, &g, surb, surb_len, reply, rlen), LSX_OK);
        CHECK(check_hex_equal(s, "reply_packet", packet, len) && memcmp(to, first, LSX_ADDRESS_BYTES) == 0);
        const json *sh = json_get(s, "hops");
        for (size_t i = 0; i < n && sh != NULL && i < sh->count; i++) {
            lsx_processed res;
            CHECK_RC(lsx_process(packet, len, &res, nodes[i], NULL, packet, len), LSX_OK);
            CHECK(check_hex_equal(sh->items[i], "tag", res.tag, LSX_TAG_BYTES));
            CHECK(check_hex_equal(sh->items[i], "packet_out", packet, len));
        }
        size_t off = 0, got = 0;
        uint8_t *payload = packet + lsx_header_bytes(&g);
        CHECK_RC(lsx_surb_open(payload, g.payload, &off, &got, &g, secret, secret_len), LSX_OK);
        CHECK(got == rlen && (rlen == 0 || memcmp(payload + off, reply, rlen) == 0));
        free(first); free(sx); free(kt); free(reply); free(surb); free(secret);
    }
    for (size_t i = 0; i < n; i++) lsx_node_destroy(nodes[i]);
    free(x);
    free(message);
    free(packet);
}

static int test_vectors(const char *dir) {
    char path[4096];
    int cases = 0;
    current_test = "test vectors (sphinx-v1.json)";
    snprintf(path, sizeof path, "%s/sphinx-v1.json", dir);
    json *doc = json_parse_file(path);
    CHECK(doc != NULL);
    if (doc == NULL) return 0;
    CHECK(json_number(doc, "version") == 1);
    const json *list = json_get(doc, "cases");
    for (size_t i = 0; list && i < list->count; i++, cases++) vector_case(list->items[i]);
    json_free(doc);

    current_test = "invalid vectors (sphinx-v1-invalid.json)";
    snprintf(path, sizeof path, "%s/sphinx-v1-invalid.json", dir);
    doc = json_parse_file(path);
    CHECK(doc != NULL);
    if (doc == NULL) return cases;
    list = json_get(doc, "cases");
    for (size_t i = 0; list && i < list->count; i++, cases++) {
        const json *c = list->items[i], *geo = json_get(c, "geometry");
        lsx_geometry g;
        lsx_node *node = NULL;
        size_t l = 0, plen = 0;
        CHECK_RC(lsx_geometry_init(&g, (uint32_t)json_number(geo, "hops"), (uint32_t)json_number(geo, "payload")), LSX_OK);
        uint8_t *sk = json_hex(c, "private_key", &l), *packet = json_hex(c, "packet", &plen);
        CHECK_RC(lsx_node_create(&node, &g, sk), LSX_OK);
        uint8_t *out = malloc(plen ? plen : 1);
        lsx_processed res;
        int rc = lsx_process(out, plen, &res, node, NULL, packet ? packet : out, plen);
        const char *expected = json_string(c, "error");
        if (rc == LSX_OK && res.flag == LSX_FLAG_FINAL) rc = res.final_status;
        if (expected == NULL || strcmp(lsx_error_name(rc), expected) != 0) {
            checks_failed++;
            fprintf(stderr, "FAIL invalid vector '%s': got %s, expected %s\n", json_string(c, "description"),
                    lsx_error_name(rc), expected ? expected : "?");
        }
        checks_run++;
        lsx_node_destroy(node);
        free(sk);
        free(packet);
        free(out);
    }
    json_free(doc);
    return cases;
}

int main(int argc, char **argv) {
    if (lsx_init() != LSX_OK) {
        fprintf(stderr, "lsx_init failed\n");
        return 2;
    }
    printf("loopix_sphinx %s, backend %s\n", lsx_version(), lsx_backend_name(lsx_get_backend()));
    test_geometry();
    test_sizes();
    test_x25519_base();
    test_round_trips();
    test_tampering();
    test_header_checks();
    test_bad_commands();
    test_replays();
    test_replay_filter();
    test_surb();
    test_backends_agree();
    test_dummy();
    test_signatures();
    int cases = argc > 1 ? test_vectors(argv[1]) : 0;
    printf("  vector cases checked: %d\n", cases);
    if (argc > 1 && cases == 0) {
        fprintf(stderr, "FAIL: no vectors found under %s\n", argv[1]);
        checks_failed++;
    }
    printf("c-core: %d passed, %d failed\n", checks_run - checks_failed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}
