/* Unit tests and test vectors for the C Sphinx core, for every packet suite.
 * Usage: test_sphinx VECTORS_DIR (the folder holding sphinx-v1.json and
 * sphinx-kem-v1.json). */
#include "check.h"
#include "json.h"
#include "loopix_sphinx.h"
#include "lsx_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const lsx_suite all_suites[] = {LSX_SUITE_V1, LSX_SUITE_KEM_X25519};
#define SUITE_COUNT (sizeof all_suites / sizeof all_suites[0])

/* current_test, with the suite it runs for. */
static char test_name[160];
static void begin(const char *what, lsx_suite suite) {
    snprintf(test_name, sizeof test_name, "%s [%s]", what, lsx_suite_name(suite));
    current_test = test_name;
}

static lsx_geometry geometry_of(lsx_suite suite, uint32_t hops, uint32_t payload) {
    lsx_geometry g = {0, 0, 0};
    CHECK_RC(lsx_geometry_init(&g, suite, hops, payload), LSX_OK);
    return g;
}

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

/* Fresh randomness of the right size for building a header directly. */
static size_t random_ephemeral(uint8_t out[LSXI_MAX_EPHEMERAL_BYTES], const lsx_geometry *g, size_t hops) {
    size_t n = lsx_ephemeral_bytes(g, hops);
    CHECK(n > 0 && n <= LSXI_MAX_EPHEMERAL_BYTES);
    lsx_random(out, n);
    return n;
}

static void test_geometry(void) {
    current_test = "geometry";
    lsx_geometry g;
    CHECK_RC(lsx_geometry_init(&g, LSX_SUITE_V1, 6, 2048), LSX_OK);
    CHECK(g.suite == LSX_SUITE_V1 && g.hops == 6 && g.payload == 2048);
    CHECK(lsx_header_bytes(&g) == 433 && lsx_packet_bytes(&g) == 2481);
    CHECK(lsx_max_message_bytes(&g) == 2030 && lsx_surb_bytes(&g) == 32 + 433 + 128);
    CHECK(LSX_PACKET_BYTES(6, 2048) == 2481);
    CHECK(lsx_surb_secret_bytes(&g) == 1 + 128 + 6 * 128);
    CHECK(lsx_ephemeral_bytes(&g, 1) == 32 && lsx_ephemeral_bytes(&g, 6) == 32);
    CHECK(lsx_ephemeral_bytes(&g, 0) == 0 && lsx_ephemeral_bytes(&g, 7) == 0);
    /* The KEM suite (KEM spec section 4): 32 more bytes per slot. */
    CHECK_RC(lsx_geometry_init(&g, LSX_SUITE_KEM_X25519, 6, 2048), LSX_OK);
    CHECK(lsx_header_bytes(&g) == 625 && lsx_packet_bytes(&g) == 2673);
    CHECK(lsx_max_message_bytes(&g) == 2030 && lsx_surb_bytes(&g) == 785);
    CHECK(lsx_surb_secret_bytes(&g) == 1 + 128 + 6 * 128);
    CHECK(lsx_ephemeral_bytes(&g, 1) == 32 && lsx_ephemeral_bytes(&g, 6) == 6 * 32);
    CHECK(LSX_SUITE_PACKET_BYTES(LSX_SUITE_KEM_X25519, 6, 2048) == 2673);
    CHECK(LSX_SUITE_PACKET_BYTES(LSX_SUITE_KEM_X25519, 2, 64) == 305);
    CHECK(LSX_SUITE_PACKET_BYTES(LSX_SUITE_KEM_X25519, 1, 64) == 209);
    CHECK(LSX_SUITE_PACKET_BYTES(LSX_SUITE_KEM_X25519, 16, 65536) == 67121);
    CHECK(LSX_SUITE_SURB_BYTES(LSX_SUITE_KEM_X25519, 16) == 1745);
    /* Where the two suites' lengths meet, only the version byte tells them apart. */
    CHECK(LSX_SUITE_PACKET_BYTES(LSX_SUITE_V1, 3, 96) == LSX_SUITE_PACKET_BYTES(LSX_SUITE_KEM_X25519, 2, 96));
    CHECK_RC(lsx_geometry_init(&g, LSX_SUITE_V1, 0, 2048), LSX_ERR_GEOMETRY);
    CHECK_RC(lsx_geometry_init(&g, LSX_SUITE_KEM_X25519, 17, 2048), LSX_ERR_GEOMETRY);
    CHECK_RC(lsx_geometry_init(&g, LSX_SUITE_V1, 6, 63), LSX_ERR_GEOMETRY);
    CHECK_RC(lsx_geometry_init(&g, LSX_SUITE_KEM_X25519, 6, 65537), LSX_ERR_GEOMETRY);
    CHECK_RC(lsx_geometry_init(NULL, LSX_SUITE_V1, 6, 2048), LSX_ERR_ARGUMENT);
    /* A suite this library does not know, zero (a forgotten field) included. */
    CHECK_RC(lsx_geometry_init(&g, (lsx_suite)0, 6, 2048), LSX_ERR_GEOMETRY);
    CHECK_RC(lsx_geometry_init(&g, (lsx_suite)3, 6, 2048), LSX_ERR_GEOMETRY);
    lsx_geometry bad = {99, 2048, LSX_SUITE_V1}, no_suite = {6, 2048, (lsx_suite)0};
    CHECK(lsx_packet_bytes(&bad) == 0 && lsx_packet_bytes(&no_suite) == 0 && lsx_ephemeral_bytes(&no_suite, 1) == 0);
    CHECK_RC(lsx_geometry_check(&no_suite), LSX_ERR_GEOMETRY);
    CHECK(strcmp(lsx_suite_name(LSX_SUITE_V1), "sphinx-v1") == 0);
    CHECK(strcmp(lsx_suite_name(LSX_SUITE_KEM_X25519), "kem-x25519") == 0);
    CHECK(strcmp(lsx_suite_name((lsx_suite)7), "unknown") == 0);
    CHECK(strcmp(lsx_version(), LSX_VERSION_STRING) == 0);
    CHECK(strcmp(lsx_error_name(LSX_ERR_MAC), "bad_mac") == 0);
    CHECK(strcmp(lsx_error_name(12345), "unknown_error") == 0);
}

/* Every size function, macro and offset against the numbers of the specs
 * (v1 sections 2, 3 and 8; KEM sections 2, 4 and 5). */
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
    /* The suites: version byte, element and slot, as macros and functions. */
    CHECK(lsx_suite_format_version(LSX_SUITE_V1) == 0x01 && LSX_SUITE_FORMAT_VERSION(LSX_SUITE_V1) == 0x01);
    CHECK(lsx_suite_format_version(LSX_SUITE_KEM_X25519) == 0x02 && LSX_KEM_X25519_FORMAT_VERSION == 0x02);
    CHECK(lsx_suite_element_bytes(LSX_SUITE_V1) == 32 && lsx_suite_element_bytes(LSX_SUITE_KEM_X25519) == 32);
    CHECK(lsx_suite_slot_bytes(LSX_SUITE_V1) == 64 && lsx_suite_slot_bytes(LSX_SUITE_KEM_X25519) == 96);
    CHECK(LSX_SUITE_SLOT_BYTES(LSX_SUITE_KEM_X25519) == 96 && LSX_KEM_X25519_SLOT_BYTES == 96);
    CHECK(lsx_kem_x25519_ciphertext_bytes() == 32 && lsx_kem_x25519_seed_bytes() == 32);
    CHECK(lsx_kem_x25519_slot_bytes() == 96);
    CHECK(lsx_suite_format_version((lsx_suite)0) == 0 && lsx_suite_slot_bytes((lsx_suite)9) == 0);
    CHECK(lsx_suite_element_bytes((lsx_suite)9) == 0);
    /* Where each field sits (v1 section 3: header, slot, command; 5.6: payload; 8: reply block). */
    CHECK(LSXI_HEADER_ALPHA_OFFSET == 1 && LSXI_HEADER_BETA_OFFSET(LSX_SUITE_V1) == 33);
    CHECK(LSXI_HEADER_GAMMA_OFFSET(LSX_SUITE_V1, 6) == 417);
    CHECK(LSXI_SLOT_GAMMA_OFFSET == 48);
    CHECK(LSXI_COMMAND_DELAY_OFFSET == 1 && LSXI_COMMAND_ADDRESS_OFFSET == 5 && LSXI_COMMAND_RESERVED_OFFSET == 37);
    CHECK(LSXI_PAYLOAD_LENGTH_OFFSET == 16 && LSXI_PAYLOAD_MESSAGE_OFFSET == 18);
    CHECK(LSXI_SURB_HEADER_OFFSET == 32 && LSXI_SURB_REPLY_KEY_OFFSET(LSX_SUITE_V1, 6) == 32 + 433);
    CHECK(LSXI_SURB_SECRET_REPLY_KEY_OFFSET == 1 && LSXI_SURB_SECRET_HOP_KEYS_OFFSET == 129);
    CHECK(LSXI_ALPHA_TOP_BYTE == 31 && LSXI_LIONESS_LEFT_BYTES == 32);
    /* KEM section 5: ct at 1, beta at 33, gamma after H 96-byte slots; a slot's ct at 64. */
    CHECK(LSXI_HEADER_BETA_OFFSET(LSX_SUITE_KEM_X25519) == 33);
    CHECK(LSXI_HEADER_GAMMA_OFFSET(LSX_SUITE_KEM_X25519, 6) == 33 + 576);
    CHECK(LSXI_SLOT_ELEMENT_OFFSET == 64);
    CHECK(LSXI_SURB_REPLY_KEY_OFFSET(LSX_SUITE_KEM_X25519, 6) == 32 + 625);
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

/* The X25519 KEM through its table (KEM spec section 3). */
static void test_kem_x25519(void) {
    current_test = "the X25519 KEM";
    const lsxi_kem *kem = &lsxi_kem_x25519;
    lsx_geometry g = geometry_of(LSX_SUITE_KEM_X25519, 2, 64);
    uint8_t pk[LSX_KEY_BYTES], sk[LSX_KEY_BYTES], seed[LSX_KEM_X25519_SEED_BYTES], ct[LSX_KEM_X25519_CIPHERTEXT_BYTES];
    uint8_t ss[LSXI_SHARED_BYTES], again[LSXI_SHARED_BYTES], dh[LSXI_POINT_BYTES];
    CHECK(kem->public_key_bytes == LSX_KEY_BYTES && kem->secret_key_bytes == LSX_KEY_BYTES);
    CHECK(kem->ciphertext_bytes == LSX_KEM_X25519_CIPHERTEXT_BYTES && kem->seed_bytes == LSX_KEM_X25519_SEED_BYTES);
    CHECK(lsxi_suite_of(LSX_SUITE_KEM_X25519)->kem == kem && lsxi_suite_of(LSX_SUITE_V1)->kem == NULL);
    const lsx_backend backends[2] = {LSX_BACKEND_SODIUM, LSX_BACKEND_LIBCRYPTO};
    lsx_backend saved = lsx_get_backend();
    for (int b = 0; b < 2; b++) {
        lsx_node *node = NULL;
        CHECK_RC(lsx_set_backend(backends[b]), LSX_OK);
        CHECK_RC(lsx_keypair(pk, sk), LSX_OK);
        CHECK_RC(lsx_node_create(&node, &g, sk), LSX_OK);
        for (int i = 0; i < 8; i++) {
            lsx_random(seed, sizeof seed);
            CHECK_RC(kem->encap(ct, ss, backends[b], pk, seed), LSX_OK);
            CHECK_RC(kem->check(ct), LSX_OK);
            CHECK_RC(kem->decap(again, node, ct), LSX_OK);
            CHECK(memcmp(ss, again, sizeof ss) == 0);
            /* The shared secret is not the Diffie-Hellman value (it hashes ct and pk). */
            CHECK_RC(lsxi_x25519(dh, LSX_BACKEND_SODIUM, sk, ct), LSX_OK);
            CHECK(memcmp(dh, ss, sizeof ss) != 0);
        }
        /* A small-order node key is refused when encapsulating. */
        uint8_t one[LSX_KEY_BYTES] = {1};
        CHECK_RC(kem->encap(ct, ss, backends[b], one, seed), LSX_ERR_LOW_ORDER);
        lsx_node_destroy(node);
    }
    CHECK_RC(lsx_set_backend(saved), LSX_OK);

    /* CHECK is LE(ct) < p = 2^255 - 19 (KEM spec section 3). */
    uint8_t u[LSX_KEM_X25519_CIPHERTEXT_BYTES];
    memset(u, 0xff, sizeof u);
    u[31] = 0x7f;
    for (int low = 0x00; low <= 0xff; low++) { /* p - 19 + ... : only 0xed..0xff are p or above */
        u[0] = (uint8_t)low;
        CHECK_RC(kem->check(u), low < 0xed ? LSX_OK : LSX_ERR_NONCANONICAL_ALPHA);
    }
    u[0] = 0xed;
    u[17] = 0xfe; /* below p again */
    CHECK_RC(kem->check(u), LSX_OK);
    memset(u, 0, sizeof u);
    CHECK_RC(kem->check(u), LSX_OK);
    u[31] = 0x80; /* the top bit: 2^255 */
    CHECK_RC(kem->check(u), LSX_ERR_NONCANONICAL_ALPHA);

    /* The same through the public functions, and what they refuse. */
    lsx_node *node = NULL, *v1_node = NULL;
    lsx_geometry v1 = geometry_of(LSX_SUITE_V1, 2, 64);
    CHECK_RC(lsx_keypair(pk, sk), LSX_OK);
    CHECK_RC(lsx_node_create(&node, &g, sk), LSX_OK);
    CHECK_RC(lsx_node_create(&v1_node, &v1, sk), LSX_OK);
    CHECK_RC(lsx_kem_encapsulate(ct, sizeof ct, ss, LSX_SUITE_KEM_X25519, pk, NULL, 0), LSX_OK);
    CHECK_RC(lsx_kem_decapsulate(again, node, ct, sizeof ct), LSX_OK);
    CHECK(memcmp(ss, again, sizeof ss) == 0 && lsx_kem_shared_secret_bytes() == sizeof ss);
    CHECK_RC(lsx_kem_encapsulate(ct, sizeof ct, ss, LSX_SUITE_V1, pk, NULL, 0), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_kem_encapsulate(ct, sizeof ct - 1, ss, LSX_SUITE_KEM_X25519, pk, NULL, 0), LSX_ERR_LENGTH);
    CHECK_RC(lsx_kem_encapsulate(ct, sizeof ct, ss, LSX_SUITE_KEM_X25519, pk, seed, sizeof seed - 1), LSX_ERR_LENGTH);
    CHECK_RC(lsx_kem_encapsulate(ct, sizeof ct, ss, LSX_SUITE_KEM_X25519, pk, NULL, 1), LSX_ERR_ARGUMENT);
    memset(u, 0, sizeof u);
    u[0] = 1; /* a small-order public key: refused, and nothing readable written */
    CHECK_RC(lsx_kem_encapsulate(ct, sizeof ct, ss, LSX_SUITE_KEM_X25519, u, seed, sizeof seed), LSX_ERR_LOW_ORDER);
    CHECK(sodium_is_zero(ct, sizeof ct) && sodium_is_zero(ss, sizeof ss));
    CHECK_RC(lsx_kem_decapsulate(again, v1_node, ct, sizeof ct), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_kem_decapsulate(again, node, ct, sizeof ct + 1), LSX_ERR_LENGTH);
    CHECK_RC(lsx_kem_decapsulate(again, node, u, sizeof u), LSX_ERR_LOW_ORDER);
    u[31] = 0x80;
    CHECK_RC(lsx_kem_decapsulate(again, node, u, sizeof u), LSX_ERR_NONCANONICAL_ALPHA);
    lsx_node_destroy(node);
    lsx_node_destroy(v1_node);
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
            CHECK_RC(lsx_create_packet(packet, len, g, n, r.pk[0], r.cmd[0], message, sizes[s], NULL, 0), LSX_OK);
            CHECK(packet[0] == lsx_suite_format_version(g->suite));
            lsx_processed res;
            CHECK_RC(route_run(&r, g, packet, &res), LSX_OK);
            CHECK(res.final_status == LSX_OK && res.message_len == sizes[s]);
            CHECK(sizes[s] == 0 || memcmp(packet + res.message_offset, message, sizes[s]) == 0);
            route_free(&r);
        }
    }
    /* A message one byte too long is refused, before the route is looked at. */
    route r;
    route_make(&r, g, 1, LSX_FLAG_DROP, NULL);
    uint8_t *too_long = calloc(1, max + 1), ephemeral[LSXI_MAX_EPHEMERAL_BYTES];
    CHECK_RC(lsx_create_packet(packet, len, g, 1, r.pk[0], r.cmd[0], too_long, max + 1, NULL, 0), LSX_ERR_MESSAGE_TOO_LONG);
    CHECK_RC(lsx_create_packet(packet, len, g, 0, r.pk[0], r.cmd[0], too_long, max + 1, NULL, 0), LSX_ERR_MESSAGE_TOO_LONG);
    CHECK_RC(lsx_create_packet(packet, len, g, 0, r.pk[0], r.cmd[0], too_long, 1, NULL, 0), LSX_ERR_ROUTE);
    CHECK_RC(lsx_create_packet(packet, len, g, g->hops + 1, r.pk[0], r.cmd[0], too_long, 1, NULL, 0), LSX_ERR_ROUTE);
    CHECK_RC(lsx_create_packet(packet, len - 1, g, 1, r.pk[0], r.cmd[0], too_long, 1, NULL, 0), LSX_ERR_LENGTH);
    /* Given randomness must be exactly the suite's amount for the route. */
    const size_t need = random_ephemeral(ephemeral, g, 1);
    CHECK_RC(lsx_create_packet(packet, len, g, 1, r.pk[0], r.cmd[0], NULL, 0, ephemeral, need), LSX_OK);
    CHECK_RC(lsx_create_packet(packet, len, g, 1, r.pk[0], r.cmd[0], NULL, 0, ephemeral, need - 1), LSX_ERR_LENGTH);
    CHECK_RC(lsx_create_packet(packet, len, g, 1, r.pk[0], r.cmd[0], NULL, 0, ephemeral, need + 1), LSX_ERR_LENGTH);
    CHECK_RC(lsx_create_packet(packet, len, g, 1, r.pk[0], r.cmd[0], NULL, 0, NULL, need), LSX_ERR_ARGUMENT);
    /* A node key of small order in the route. */
    uint8_t small_order_keys[2 * LSX_KEY_BYTES] = {0};
    small_order_keys[LSX_KEY_BYTES] = 1;
    CHECK_RC(lsx_create_packet(packet, len, g, 1, small_order_keys + LSX_KEY_BYTES, r.cmd[0], NULL, 0, NULL, 0),
             LSX_ERR_LOW_ORDER);
    free(too_long);
    route_free(&r);
    free(packet);
    free(message);
}

static void test_round_trips(lsx_suite suite) {
    begin("round trips, every hop count, both geometries", suite);
    lsx_geometry g = geometry_of(suite, 6, 2048);
    round_trips(&g);
    g = geometry_of(suite, 2, 64);
    round_trips(&g);
}

/* Flips one bit of a 3-hop packet and runs it through. */
static int tampered_outcome(lsx_suite suite, size_t offset, int *final_status) {
    lsx_geometry g = geometry_of(suite, 6, 2048);
    route r;
    uint8_t msg_id[LSX_ADDRESS_BYTES] = {1};
    size_t len = lsx_packet_bytes(&g);
    uint8_t *packet = malloc(len);
    route_make(&r, &g, 3, LSX_FLAG_FINAL, msg_id);
    CHECK_RC(lsx_create_packet(packet, len, &g, 3, r.pk[0], r.cmd[0], (const uint8_t *)"hello", 5, NULL, 0), LSX_OK);
    packet[offset] ^= 0x04;
    lsx_processed res;
    int rc = route_run(&r, &g, packet, &res);
    *final_status = res.final_status;
    route_free(&r);
    free(packet);
    return rc;
}

static void test_tampering(lsx_suite suite) {
    begin("a flipped bit in each region", suite);
    int fs = 0;
    const size_t H = LSX_DEFAULT_HOPS, payload = LSX_SUITE_HEADER_BYTES(suite, H);
    int rc = tampered_outcome(suite, LSXI_HEADER_ELEMENT_OFFSET + 5, &fs);
    CHECK(rc == LSX_ERR_MAC || rc == LSX_ERR_LOW_ORDER);
    CHECK_RC(tampered_outcome(suite, LSXI_HEADER_BETA_OFFSET(suite) + 100, &fs), LSX_ERR_MAC);
    /* In the KEM suite, the next hop's encapsulation inside the first slot. */
    CHECK_RC(tampered_outcome(suite, LSXI_HEADER_BETA_OFFSET(suite) + LSXI_SLOT_ELEMENT_OFFSET + 3, &fs), LSX_ERR_MAC);
    CHECK_RC(tampered_outcome(suite, LSXI_HEADER_GAMMA_OFFSET(suite, H) + 3, &fs), LSX_ERR_MAC);
    CHECK_RC(tampered_outcome(suite, payload + 1000, &fs), LSX_OK); /* only the destination notices */
    CHECK(fs == LSX_ERR_PAYLOAD);
    CHECK_RC(tampered_outcome(suite, payload + 5, &fs), LSX_OK);
    CHECK(fs == LSX_ERR_PAYLOAD);
}

/* Every point of small order with a canonical encoding (top bit clear),
 * from libsodium's block list; the last two are p and p + 1, canonical only
 * as far as v1's top-bit check goes. */
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
#define SMALL_ORDER_CANONICAL 5 /* the first five are below p */

static void test_header_checks(lsx_suite suite) {
    begin("version, canonical element, low-order element, length", suite);
    lsx_geometry g = geometry_of(suite, 6, 2048);
    route r;
    size_t len = lsx_packet_bytes(&g);
    uint8_t *packet = malloc(len), *out = malloc(len);
    uint8_t *element = packet + LSXI_HEADER_ELEMENT_OFFSET;
    const uint8_t version = lsx_suite_format_version(suite);
    lsx_processed res;
    route_make(&r, &g, 1, LSX_FLAG_DROP, NULL);
    CHECK_RC(lsx_create_packet(packet, len, &g, 1, r.pk[0], r.cmd[0], NULL, 0, NULL, 0), LSX_OK);

    const uint8_t other_versions[] = {0x00, 0x01, 0x02, 0x03, 0xff};
    for (size_t i = 0; i < sizeof other_versions; i++) {
        if (other_versions[i] == version) continue;
        packet[0] = other_versions[i];
        CHECK_RC(lsx_process(out, len, &res, r.node[0], NULL, packet, len), LSX_ERR_VERSION);
    }
    packet[0] = version;
    element[LSXI_ALPHA_TOP_BYTE] |= LSXI_ALPHA_TOP_BIT;
    CHECK_RC(lsx_process(out, len, &res, r.node[0], NULL, packet, len), LSX_ERR_NONCANONICAL_ALPHA);
    /* The order of the checks: length, then version, then the element. */
    packet[0] = 0x7e;
    CHECK_RC(lsx_process(out, len, &res, r.node[0], NULL, packet, len), LSX_ERR_VERSION);
    CHECK_RC(lsx_process(out, len - 1, &res, r.node[0], NULL, packet, len - 1), LSX_ERR_LENGTH);
    packet[0] = version;
    element[LSXI_ALPHA_TOP_BYTE] &= (uint8_t)~LSXI_ALPHA_TOP_BIT;
    CHECK_RC(lsx_process(out, len - 1, &res, r.node[0], NULL, packet, len - 1), LSX_ERR_LENGTH);
    CHECK_RC(lsx_process(out, len + 1, &res, r.node[0], NULL, packet, len + 1), LSX_ERR_LENGTH);
    CHECK_RC(lsx_process(out, 0, &res, r.node[0], NULL, packet, 0), LSX_ERR_LENGTH);
    CHECK_RC(lsx_process(packet + 1, len, &res, r.node[0], NULL, packet, len), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_process(out, len, &res, NULL, NULL, packet, len), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_process(out, len, &res, r.node[0], NULL, packet, len), LSX_OK);
    CHECK(res.flag == LSX_FLAG_DROP);

    /* Non-canonical encapsulations below 2^255 (KEM spec section 3): p + 9
     * (the base point unreduced) and 2^255 - 1. v1 looks at the top bit only. */
    uint8_t unreduced[2][LSX_ALPHA_BYTES];
    memset(unreduced, 0xff, sizeof unreduced);
    unreduced[0][0] = 0xed + 9;
    unreduced[0][31] = unreduced[1][31] = 0x7f;
    for (int i = 0; i < 2 && suite == LSX_SUITE_KEM_X25519; i++) {
        memcpy(element, unreduced[i], LSX_ALPHA_BYTES);
        CHECK_RC(lsx_process(out, len, &res, r.node[0], NULL, packet, len), LSX_ERR_NONCANONICAL_ALPHA);
    }
    /* Small-order elements, with each backend's node. In the KEM suite p and
     * p + 1 are not canonical and are refused before X25519. */
    const lsx_backend backends[2] = {LSX_BACKEND_SODIUM, LSX_BACKEND_LIBCRYPTO};
    lsx_backend saved = lsx_get_backend();
    for (int b = 0; b < 2; b++) {
        lsx_node *node = NULL;
        CHECK_RC(lsx_set_backend(backends[b]), LSX_OK);
        CHECK_RC(lsx_node_create(&node, &g, r.sk[0]), LSX_OK);
        for (size_t i = 0; i < sizeof small_order / sizeof small_order[0]; i++) {
            memcpy(element, small_order[i], LSX_ALPHA_BYTES);
            const int expected = suite == LSX_SUITE_KEM_X25519 && i >= SMALL_ORDER_CANONICAL
                                     ? LSX_ERR_NONCANONICAL_ALPHA
                                     : LSX_ERR_LOW_ORDER;
            CHECK_RC(lsx_process(out, len, &res, node, NULL, packet, len), expected);
        }
        lsx_node_destroy(node);
    }
    CHECK_RC(lsx_set_backend(saved), LSX_OK);
    route_free(&r);
    free(packet);
    free(out);
}

/* A packet of one suite at a node of the other: a wrong length, or, where
 * the lengths meet, the version byte (KEM spec section 9). */
static void test_other_suite(void) {
    current_test = "a packet of the other suite";
    lsx_geometry v1 = geometry_of(LSX_SUITE_V1, 3, 96), kem = geometry_of(LSX_SUITE_KEM_X25519, 2, 96);
    lsx_geometry v1_same = geometry_of(LSX_SUITE_V1, 2, 96);
    route r_v1, r_kem;
    route_make(&r_v1, &v1, 1, LSX_FLAG_DROP, NULL);
    route_make(&r_kem, &kem, 1, LSX_FLAG_DROP, NULL);
    const size_t len = lsx_packet_bytes(&v1);
    CHECK(len == lsx_packet_bytes(&kem));
    uint8_t *packet = malloc(len), *out = malloc(len);
    lsx_processed res;
    lsx_node *v1_node = NULL, *kem_node = NULL;
    CHECK_RC(lsx_node_create(&v1_node, &v1, r_kem.sk[0]), LSX_OK);
    CHECK_RC(lsx_node_create(&kem_node, &kem, r_v1.sk[0]), LSX_OK);
    CHECK_RC(lsx_create_packet(packet, len, &v1, 1, r_v1.pk[0], r_v1.cmd[0], NULL, 0, NULL, 0), LSX_OK);
    CHECK_RC(lsx_process(out, len, &res, kem_node, NULL, packet, len), LSX_ERR_VERSION);
    CHECK_RC(lsx_process(out, len, &res, r_v1.node[0], NULL, packet, len), LSX_OK);
    CHECK_RC(lsx_create_packet(packet, len, &kem, 1, r_kem.pk[0], r_kem.cmd[0], NULL, 0, NULL, 0), LSX_OK);
    CHECK_RC(lsx_process(out, len, &res, v1_node, NULL, packet, len), LSX_ERR_VERSION);
    /* Same H and P: 32 bytes per hop apart. */
    lsx_node *same = NULL;
    CHECK_RC(lsx_node_create(&same, &v1_same, r_kem.sk[0]), LSX_OK);
    CHECK_RC(lsx_process(out, len - 64, &res, same, NULL, packet, len), LSX_ERR_LENGTH);
    lsx_node_destroy(same);
    lsx_node_destroy(v1_node);
    lsx_node_destroy(kem_node);
    route_free(&r_v1);
    route_free(&r_kem);
    free(packet);
    free(out);
}

/* The packet a KEM suite's last hop puts out carries a zero encapsulation
 * (KEM spec section 9): given back to the hop, it is low order. */
static void test_last_hop_output(void) {
    current_test = "a KEM last hop's output is no packet";
    lsx_geometry g = geometry_of(LSX_SUITE_KEM_X25519, 2, 64);
    route r;
    uint8_t id[LSX_ADDRESS_BYTES] = {9};
    route_make(&r, &g, 2, LSX_FLAG_FINAL, id);
    const size_t len = lsx_packet_bytes(&g);
    uint8_t *packet = malloc(len);
    lsx_processed res;
    CHECK_RC(lsx_create_packet(packet, len, &g, 2, r.pk[0], r.cmd[0], (const uint8_t *)"x", 1, NULL, 0), LSX_OK);
    CHECK_RC(route_run(&r, &g, packet, &res), LSX_OK);
    CHECK(sodium_is_zero(packet + LSXI_HEADER_ELEMENT_OFFSET, LSX_KEM_X25519_CIPHERTEXT_BYTES));
    CHECK(sodium_is_zero(packet + LSXI_HEADER_GAMMA_OFFSET(LSX_SUITE_KEM_X25519, 2), LSX_GAMMA_BYTES));
    CHECK_RC(lsx_process(packet, len, &res, r.node[1], NULL, packet, len), LSX_ERR_LOW_ORDER);
    route_free(&r);
    free(packet);
}

/* A raw command (a bad flag or reserved byte) is refused by the creator; a
 * 1-hop header built with it anyway (as the invalid vectors are) is refused
 * by the node that reads it, with the same error. */
static void check_refused_command(route *r, const lsx_geometry *g, uint8_t *packet,
                                  const uint8_t cmd[LSX_COMMAND_BYTES], int expected) {
    const size_t len = lsx_packet_bytes(g);
    uint8_t ephemeral[LSXI_MAX_EPHEMERAL_BYTES];
    lsx_processed res;
    CHECK_RC(lsx_command_decode(NULL, NULL, NULL, cmd), expected);
    CHECK_RC(lsx_create_packet(packet, len, g, 1, r->pk[0], cmd, NULL, 0, NULL, 0), expected);
    random_ephemeral(ephemeral, g, 1);
    CHECK_RC(lsxi_build_header(packet, NULL, g, 1, r->pk[0], cmd, ephemeral), LSX_OK);
    CHECK_RC(lsx_process(packet, len, &res, r->node[0], NULL, packet, len), expected);
}

static void test_bad_commands(lsx_suite suite) {
    begin("unknown flags and reserved bytes", suite);
    lsx_geometry g = geometry_of(suite, 6, 2048);
    route r;
    size_t len = lsx_packet_bytes(&g);
    uint8_t *packet = malloc(len);
    lsx_processed res;
    route_make(&r, &g, 2, LSX_FLAG_DROP, NULL);
    uint8_t ephemeral[LSXI_MAX_EPHEMERAL_BYTES];
    const uint8_t bad_flags[] = {0x00, 0x05, 0xff};
    for (size_t i = 0; i < sizeof bad_flags; i++) {
        uint8_t cmd[LSX_COMMAND_BYTES] = {0};
        cmd[0] = bad_flags[i];
        check_refused_command(&r, &g, packet, cmd, LSX_ERR_FLAG);
    }
    for (size_t pos = LSXI_COMMAND_RESERVED_OFFSET; pos < LSX_COMMAND_BYTES; pos += 5) {
        uint8_t cmd[LSX_COMMAND_BYTES];
        CHECK_RC(lsx_command_encode(cmd, LSX_FLAG_RELAY, 0, r.id[1]), LSX_OK);
        cmd[pos] = 1;
        check_refused_command(&r, &g, packet, cmd, LSX_ERR_RESERVED);
    }
    /* A bad command at the second hop: the first relays, the second refuses. */
    uint8_t cmds[2][LSX_COMMAND_BYTES];
    memcpy(cmds[0], r.cmd[0], LSX_COMMAND_BYTES);
    memset(cmds[1], 0, LSX_COMMAND_BYTES);
    cmds[1][0] = 0x09;
    random_ephemeral(ephemeral, &g, 2);
    CHECK_RC(lsxi_build_header(packet, NULL, &g, 2, r.pk[0], cmds[0], ephemeral), LSX_OK);
    CHECK_RC(lsx_process(packet, len, &res, r.node[0], NULL, packet, len), LSX_OK);
    CHECK_RC(lsx_process(packet, len, &res, r.node[1], NULL, packet, len), LSX_ERR_FLAG);
    route_free(&r);
    free(packet);
}

static void test_replays(lsx_suite suite) {
    begin("replays", suite);
    lsx_geometry g = geometry_of(suite, 6, 2048);
    route r;
    lsx_replay_filter *filter = NULL;
    CHECK_RC(lsx_replay_filter_create(&filter, 1000, 1e-6, 1), LSX_OK);
    size_t len = lsx_packet_bytes(&g);
    uint8_t *packet = malloc(len), *out = malloc(len), *copy = malloc(len);
    lsx_processed res, res2;
    route_make(&r, &g, 2, LSX_FLAG_DROP, NULL);
    CHECK_RC(lsx_create_packet(packet, len, &g, 2, r.pk[0], r.cmd[0], NULL, 0, NULL, 0), LSX_OK);
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

static void test_surb(lsx_suite suite) {
    begin("reply blocks", suite);
    lsx_geometry g = geometry_of(suite, 6, 2048);
    route r;
    size_t len = lsx_packet_bytes(&g);
    uint8_t *surb = malloc(lsx_surb_bytes(&g)), *secret = malloc(lsx_surb_secret_bytes(&g));
    uint8_t *packet = malloc(len), *again = malloc(len);
    uint8_t reply_id[LSX_ADDRESS_BYTES], first_hop[LSX_ADDRESS_BYTES], to[LSX_ADDRESS_BYTES];
    lsx_random(reply_id, sizeof reply_id);
    route_make(&r, &g, 4, LSX_FLAG_FINAL, reply_id);
    memcpy(first_hop, r.id[0], LSX_ADDRESS_BYTES);
    CHECK_RC(lsx_surb_create(surb, lsx_surb_bytes(&g), secret, lsx_surb_secret_bytes(&g), &g, 4, r.pk[0], r.cmd[0],
                             first_hop, NULL, 0, NULL),
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

    /* Given randomness: the suite's amount, or refused. */
    uint8_t ephemeral[LSXI_MAX_EPHEMERAL_BYTES];
    const size_t need = random_ephemeral(ephemeral, &g, 4);
    CHECK_RC(lsx_surb_create(surb, lsx_surb_bytes(&g), secret, lsx_surb_secret_bytes(&g), &g, 4, r.pk[0], r.cmd[0],
                             first_hop, ephemeral, need + 1, NULL),
             LSX_ERR_LENGTH);
    /* A route not ending in FINAL is refused; a wrong secret does not open. */
    route r2;
    route_make(&r2, &g, 2, LSX_FLAG_DELIVER, reply_id);
    CHECK_RC(lsx_surb_create(surb, lsx_surb_bytes(&g), secret, lsx_surb_secret_bytes(&g), &g, 2, r2.pk[0], r2.cmd[0],
                             first_hop, NULL, 0, NULL),
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

static void test_backends_agree(lsx_suite suite) {
    begin("every backend gives identical bytes", suite);
    lsx_geometry g = geometry_of(suite, 6, 2048);
    route r;
    size_t len = lsx_packet_bytes(&g);
    uint8_t ephemeral[LSXI_MAX_EPHEMERAL_BYTES], id[LSX_ADDRESS_BYTES];
    const size_t ephemeral_len = random_ephemeral(ephemeral, &g, 6);
    lsx_random(id, sizeof id);
    route_make(&r, &g, 6, LSX_FLAG_FINAL, id);
    uint8_t *a = malloc(len), *b = malloc(len);
    lsx_backend saved = lsx_get_backend();
    CHECK_RC(lsx_set_backend(LSX_BACKEND_SODIUM), LSX_OK);
    CHECK_RC(lsx_create_packet(a, len, &g, 6, r.pk[0], r.cmd[0], (const uint8_t *)"same", 4, ephemeral, ephemeral_len),
             LSX_OK);
    CHECK_RC(lsx_set_backend(LSX_BACKEND_LIBCRYPTO), LSX_OK);
    CHECK_RC(lsx_create_packet(b, len, &g, 6, r.pk[0], r.cmd[0], (const uint8_t *)"same", 4, ephemeral, ephemeral_len),
             LSX_OK);
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

static void test_dummy(lsx_suite suite) {
    begin("dummy packets look like packets", suite);
    lsx_geometry g = geometry_of(suite, 6, 2048);
    size_t len = lsx_packet_bytes(&g);
    uint8_t *p = malloc(len);
    route r;
    lsx_processed res;
    route_make(&r, &g, 1, LSX_FLAG_DROP, NULL);
    int top_bits = 0, canonical = 1, refused = 1;
    for (int i = 0; i < 64; i++) {
        CHECK_RC(lsx_create_dummy(p, len, &g), LSX_OK);
        top_bits |= p[LSXI_HEADER_ELEMENT_OFFSET + LSXI_ALPHA_TOP_BYTE] & LSXI_ALPHA_TOP_BIT;
        if (suite == LSX_SUITE_KEM_X25519) canonical &= lsxi_kem_x25519.check(p + LSXI_HEADER_ELEMENT_OFFSET) == LSX_OK;
        CHECK(p[0] == lsx_suite_format_version(suite));
        refused &= lsx_process(p, len, &res, r.node[0], NULL, p, len) == LSX_ERR_MAC;
    }
    CHECK(top_bits == 0 && canonical && refused);
    CHECK_RC(lsx_create_dummy(p, len - 1, &g), LSX_ERR_LENGTH);
    route_free(&r);
    free(p);
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

/* The fresh randomness of a case (or of its reply block): v1's one
 * "ephemeral_secret", or the KEM suite's "ephemeral_secrets", one per hop,
 * laid end to end as lsx_create_packet takes them. */
static uint8_t *vector_ephemeral(const json *o, lsx_suite suite, size_t hops, size_t *len) {
    if (suite == LSX_SUITE_V1) return json_hex(o, "ephemeral_secret", len);
    const json *list = json_get(o, "ephemeral_secrets");
    CHECK(list != NULL && list->kind == JSON_ARRAY && list->count == hops);
    uint8_t *all = calloc(LSXI_MAX_EPHEMERAL_BYTES, 1);
    *len = 0;
    for (size_t i = 0; list != NULL && i < list->count && i < LSX_MAX_HOPS; i++) {
        size_t n = 0;
        uint8_t *seed = json_hex_value(list->items[i], &n);
        CHECK(seed != NULL && n == LSX_KEM_X25519_SEED_BYTES);
        if (seed != NULL && n == LSX_KEM_X25519_SEED_BYTES) memcpy(all + *len, seed, n);
        *len += LSX_KEM_X25519_SEED_BYTES;
        free(seed);
    }
    return all;
}

static void vector_case(const json *c, lsx_suite suite) {
    const json *geo = json_get(c, "geometry"), *route_v = json_get(c, "route"), *hops_v = json_get(c, "hops");
    lsx_geometry g = geometry_of(suite, (uint32_t)json_number(geo, "hops"), (uint32_t)json_number(geo, "payload"));
    size_t n = route_v->count, len = lsx_packet_bytes(&g), l, x_len = 0;
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
    uint8_t *x = vector_ephemeral(c, suite, n, &x_len), *message = json_hex(c, "message", &mlen);
    uint8_t *packet = malloc(len);
    CHECK_RC(lsx_create_packet(packet, len, &g, n, pks[0], cmds[0], message, mlen, x, x_len), LSX_OK);
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
        size_t surb_len = lsx_surb_bytes(&g), secret_len = lsx_surb_secret_bytes(&g), rlen = 0, sx_len = 0;
        uint8_t *first = json_hex(s, "first_hop_id", &l), *sx = vector_ephemeral(s, suite, n, &sx_len);
        uint8_t *kt = json_hex(s, "reply_key", &l), *reply = json_hex(s, "reply_message", &rlen);
        uint8_t *surb = malloc(surb_len), *secret = malloc(secret_len), to[LSX_ADDRESS_BYTES];
        CHECK_RC(lsx_surb_create(surb, surb_len, secret, secret_len, &g, n, pks[0], cmds[0], first, sx, sx_len, kt),
                 LSX_OK);
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

/* The KEM alone (KEM spec section 16): ENCAP(public_key, ephemeral_secret)
 * and DECAP(private_key, public_key, ciphertext), for both backends. */
static void kem_vector(const json *k) {
    size_t l = 0;
    uint8_t *sk = json_hex(k, "private_key", &l), *pk = json_hex(k, "public_key", &l);
    uint8_t *seed = json_hex(k, "ephemeral_secret", &l);
    uint8_t ct[LSX_KEM_X25519_CIPHERTEXT_BYTES], ss[LSX_KEM_SHARED_SECRET_BYTES], derived[LSX_KEY_BYTES];
    lsx_geometry g = geometry_of(LSX_SUITE_KEM_X25519, 1, 64);
    CHECK_RC(lsx_public_key(derived, sk), LSX_OK);
    CHECK(memcmp(derived, pk, LSX_KEY_BYTES) == 0);
    const lsx_backend backends[2] = {LSX_BACKEND_SODIUM, LSX_BACKEND_LIBCRYPTO};
    lsx_backend saved = lsx_get_backend();
    for (int b = 0; b < 2; b++) {
        lsx_node *node = NULL;
        CHECK_RC(lsx_set_backend(backends[b]), LSX_OK);
        CHECK_RC(lsx_kem_encapsulate(ct, sizeof ct, ss, LSX_SUITE_KEM_X25519, pk, seed, LSX_KEM_X25519_SEED_BYTES),
                 LSX_OK);
        CHECK(check_hex_equal(k, "ciphertext", ct, sizeof ct) && check_hex_equal(k, "shared_secret", ss, sizeof ss));
        memset(ss, 0, sizeof ss);
        CHECK_RC(lsx_node_create(&node, &g, sk), LSX_OK);
        CHECK_RC(lsx_kem_decapsulate(ss, node, ct, sizeof ct), LSX_OK);
        CHECK(check_hex_equal(k, "shared_secret", ss, sizeof ss));
        lsx_node_destroy(node);
    }
    CHECK_RC(lsx_set_backend(saved), LSX_OK);
    free(sk);
    free(pk);
    free(seed);
}

static int invalid_vectors(const char *path, lsx_suite suite) {
    int cases = 0;
    json *doc = json_parse_file(path);
    CHECK(doc != NULL);
    if (doc == NULL) return 0;
    const json *list = json_get(doc, "cases");
    for (size_t i = 0; list && i < list->count; i++, cases++) {
        const json *c = list->items[i], *geo = json_get(c, "geometry");
        lsx_node *node = NULL;
        size_t l = 0, plen = 0;
        lsx_geometry g = geometry_of(suite, (uint32_t)json_number(geo, "hops"), (uint32_t)json_number(geo, "payload"));
        uint8_t *sk = json_hex(c, "private_key", &l), *packet = json_hex(c, "packet", &plen);
        CHECK_RC(lsx_node_create(&node, &g, sk), LSX_OK);
        uint8_t *out = malloc(plen ? plen : 1);
        lsx_processed res;
        int rc = lsx_process(out, plen, &res, node, NULL, packet ? packet : out, plen);
        const char *expected = json_string(c, "error");
        if (rc == LSX_OK && res.flag == LSX_FLAG_FINAL) rc = res.final_status;
        if (expected == NULL || strcmp(lsx_error_name(rc), expected) != 0) {
            checks_failed++;
            fprintf(stderr, "FAIL invalid vector [%s] '%s': got %s, expected %s\n", lsx_suite_name(suite),
                    json_string(c, "description"), lsx_error_name(rc), expected ? expected : "?");
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

/* One suite's two files: `stem`.json (packets that must work) and
 * `stem`-invalid.json (packets that must be refused). */
static int test_vectors(const char *dir, const char *stem, lsx_suite suite) {
    char path[4096];
    int cases = 0;
    snprintf(path, sizeof path, "%s/%s.json", dir, stem);
    begin("test vectors", suite);
    json *doc = json_parse_file(path);
    CHECK(doc != NULL);
    if (doc == NULL) return 0;
    CHECK(json_number(doc, "version") == 1);
    /* v1's files name no suite; every other suite's file names its own. */
    const char *named = json_string(doc, "suite");
    CHECK(suite == LSX_SUITE_V1 ? named == NULL : named != NULL && strcmp(named, lsx_suite_name(suite)) == 0);
    const json *kem = json_get(doc, "kem");
    CHECK((kem != NULL) == (suite == LSX_SUITE_KEM_X25519));
    for (size_t i = 0; kem && i < kem->count; i++, cases++) kem_vector(kem->items[i]);
    const json *list = json_get(doc, "cases");
    for (size_t i = 0; list && i < list->count; i++, cases++) vector_case(list->items[i], suite);
    json_free(doc);

    begin("invalid vectors", suite);
    snprintf(path, sizeof path, "%s/%s-invalid.json", dir, stem);
    return cases + invalid_vectors(path, suite);
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
    test_kem_x25519();
    for (size_t s = 0; s < SUITE_COUNT; s++) {
        test_round_trips(all_suites[s]);
        test_tampering(all_suites[s]);
        test_header_checks(all_suites[s]);
        test_bad_commands(all_suites[s]);
        test_replays(all_suites[s]);
        test_surb(all_suites[s]);
        test_backends_agree(all_suites[s]);
        test_dummy(all_suites[s]);
    }
    test_other_suite();
    test_last_hop_output();
    test_replay_filter();
    test_signatures();
    if (argc > 1) {
        const int v1 = test_vectors(argv[1], "sphinx-v1", LSX_SUITE_V1);
        const int kem = test_vectors(argv[1], "sphinx-kem-v1", LSX_SUITE_KEM_X25519);
        printf("  vector cases checked: %d (sphinx-v1), %d (kem-x25519)\n", v1, kem);
        if (v1 == 0 || kem == 0) {
            fprintf(stderr, "FAIL: vectors missing under %s\n", argv[1]);
            checks_failed++;
        }
    }
    printf("c-core: %d passed, %d failed\n", checks_run - checks_failed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}
