/* Measures the Sphinx core against the cost it cannot avoid, for both packet
 * suites side by side: lsx_process against its cryptographic floor (per suite
 * and X25519 backend), lsx_create_packet against the scalar multiplications
 * each suite requires, reply blocks, and the KEM suite against version 1;
 * then, in sections of their own, Noise XK link encryption (a frame's
 * transport, a handshake) and the replay filter at a node's size, in process
 * memory and in a MAP_SHARED file, beside lsx_process.
 *
 * All items run in the same process, interleaved round by round; an item's
 * result is the median over rounds of its per-round mean, and a ratio is the
 * median of its per-round ratios, so that noise on a shared machine hits
 * both sides of a ratio alike.
 *
 * Usage: bench_sphinx [--json] [--rounds N] [--seconds S] [--replay-dir DIR]
 *                     [--replay-sustained S [--replay-rate R]]
 *   --rounds            rounds (default 15)
 *   --seconds           time each item gets per round (default 0.06)
 *   --replay-dir        where the replay filters' files go (default $TMPDIR, else /tmp); they
 *                       are removed at the end
 *   --replay-sustained  then S seconds of inserts at R a second (default 2222, what a filter of
 *                       10^7 tags holds over an hour with 25 % headroom) into a file-backed and
 *                       an in-memory filter, in windows of 10 s (default 0: not run) */
#include "loopix_sphinx.h"
#include "loopix_noise.h"
#include "lsx_internal.h" /* the sizes of the work inside a hop, for its floor */

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 31
#define PROCESS_PACKETS 4000 /* fresh packets per round: no replay is ever refused */
#define DEFAULT_HOPS LSX_DEFAULT_HOPS
#define DEFAULT_PAYLOAD LSX_DEFAULT_PAYLOAD
#define SUITES 2
#define LIONESS_R_BYTES (DEFAULT_PAYLOAD - LSXI_LIONESS_LEFT_BYTES) /* 2016 */
#define KDF_IDS LSXI_KDF_TAG                                        /* ids 1..8 */
#define KEY(id) keys[(id) - 1]
/* The largest packet, header and reply block of either suite at the default geometry. */
#define MAX_PACKET_BYTES LSX_SUITE_PACKET_BYTES(LSX_SUITE_KEM_X25519, DEFAULT_HOPS, DEFAULT_PAYLOAD)
#define MAX_SURB_BYTES LSX_SUITE_SURB_BYTES(LSX_SUITE_KEM_X25519, DEFAULT_HOPS)

static const lsx_suite suites[SUITES] = {LSX_SUITE_V1, LSX_SUITE_KEM_X25519};
static const char *const suite_label[SUITES] = {"v1", "KEM"};
static lsx_geometry geometries[SUITES];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Wall-clock seconds, for pacing (the items are timed in CPU time, above). */
static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, int rc) {
    fprintf(stderr, "bench_sphinx: %s failed: %s\n", what, lsx_error_name(rc));
    exit(1);
}

static volatile uint8_t sink;

/* ---- what each item does, `n` times ---- */

/* A node with its replay filter and a stock of fresh packets for it. */
typedef struct process_ctx {
    lsx_node *node;
    lsx_replay_filter *filter;
    uint8_t *packets; /* PROCESS_PACKETS * packet_bytes */
    uint8_t *out;
    size_t packet_bytes;
    uint64_t epoch;
} process_ctx;

static void run_process(void *p, size_t n) {
    process_ctx *c = p;
    lsx_processed r;
    /* A new epoch per round, so the packets are fresh again; clearing the
     * filter costs microseconds and happens outside the timed loop's body. */
    lsx_replay_filter_rotate(c->filter, ++c->epoch);
    for (size_t i = 0; i < n; i++) {
        int rc = lsx_process(c->out, c->packet_bytes, &r, c->node, c->filter,
                             c->packets + (i % PROCESS_PACKETS) * c->packet_bytes, c->packet_bytes);
        if (rc != LSX_OK) die("lsx_process", rc);
    }
    sink ^= c->out[1];
}

/* The floor of one hop of a suite: the same primitives on the same sizes,
 * with nothing else. Version 1: X25519 with alpha, eight KDF outputs, the
 * MAC, the header stream, LIONESS, X25519 to blind alpha. KEM suite: X25519
 * with the encapsulation, KEM_HASH, seven KDF outputs (no blinding), the MAC
 * over a longer beta, a longer header stream, LIONESS. */
typedef struct floor_ctx {
    const char *kdf_context;
    int kem; /* KEM_HASH and no blinding */
    size_t mac_input_bytes, routing_bytes;
    uint8_t node_secret[LSX_KEY_BYTES], node_public[LSX_KEY_BYTES], element[LSXI_MAX_ELEMENT_BYTES];
    uint8_t dh[LSXI_POINT_BYTES], shared[LSXI_SHARED_BYTES], blinded[LSXI_POINT_BYTES];
    uint8_t kem_input[LSX_KEM_X25519_CIPHERTEXT_BYTES + LSX_KEY_BYTES];
    uint8_t keys[KDF_IDS][LSXI_KDF_KEY_BYTES];
    uint8_t mac_input[LSX_FORMAT_VERSION_BYTES + LSXI_MAX_BETA_BYTES], mac[LSX_GAMMA_BYTES];
    uint8_t routing[LSXI_MAX_ROUTING_BYTES];
    uint8_t payload[DEFAULT_PAYLOAD];
    EVP_PKEY *evp_node; /* for the libcrypto floor */
} floor_ctx;

static const uint8_t zero_nonce[crypto_stream_chacha20_NONCEBYTES];
static const uint8_t kem_personal[crypto_generichash_blake2b_PERSONALBYTES] = {
    'L', 'O', 'O', 'P', 'I', 'X', '-', 'X', '2', '5', '5', '1', '9', 'K', 'E', 'M'};

/* The payload work of one hop: LIONESS's two stream and two hash rounds over the R part. */
static void floor_lioness(floor_ctx *c) {
    uint8_t digest[LSXI_HASH_BYTES];
    uint8_t *right = c->payload + LSXI_LIONESS_LEFT_BYTES;
    for (int round = 0; round < 2; round++) {
        crypto_generichash(digest, sizeof digest, right, LIONESS_R_BYTES, c->KEY(LSXI_KDF_PAYLOAD_1 + 1 + 2 * round),
                           LSXI_LIONESS_KEY_BYTES);
        crypto_stream_chacha20_xor(right, right, LIONESS_R_BYTES, zero_nonce, c->KEY(LSXI_KDF_PAYLOAD_1 + 2 * round));
        c->payload[0] ^= digest[0];
    }
}

/* Everything of a hop after its X25519 result `dh` but the blinding. */
static void floor_symmetric(floor_ctx *c) {
    const uint8_t *secret = c->dh;
    if (c->kem) {
        memcpy(c->kem_input, c->element, LSX_KEM_X25519_CIPHERTEXT_BYTES);
        memcpy(c->kem_input + LSX_KEM_X25519_CIPHERTEXT_BYTES, c->node_public, LSX_KEY_BYTES);
        crypto_generichash_blake2b_salt_personal(c->shared, sizeof c->shared, c->kem_input, sizeof c->kem_input,
                                                 c->dh, sizeof c->dh, NULL, kem_personal);
        secret = c->shared;
    }
    for (int id = 1; id <= KDF_IDS; id++)
        if (!(c->kem && id == LSXI_KDF_BLINDING))
            crypto_kdf_derive_from_key(c->KEY(id), LSXI_KDF_KEY_BYTES, (uint64_t)id, c->kdf_context, secret);
    crypto_generichash(c->mac, sizeof c->mac, c->mac_input, c->mac_input_bytes, c->KEY(LSXI_KDF_HEADER_MAC),
                       LSXI_MAC_KEY_BYTES);
    crypto_stream_chacha20_xor(c->routing, c->routing, c->routing_bytes, zero_nonce, c->KEY(LSXI_KDF_HEADER_STREAM));
    floor_lioness(c);
}

static void run_lioness(void *p, size_t n) {
    floor_ctx *c = p;
    for (size_t i = 0; i < n; i++) floor_lioness(c);
    sink ^= c->payload[0];
}

static void run_floor_sodium(void *p, size_t n) {
    floor_ctx *c = p;
    for (size_t i = 0; i < n; i++) {
        if (crypto_scalarmult(c->dh, c->node_secret, c->element) != 0) die("crypto_scalarmult", -1);
        floor_symmetric(c);
        if (!c->kem && crypto_scalarmult(c->blinded, c->KEY(LSXI_KDF_BLINDING), c->element) != 0)
            die("crypto_scalarmult", -1);
    }
    sink ^= c->blinded[0] ^ c->payload[0] ^ c->mac[0];
}

/* X25519 through OpenSSL's EVP interface, as the libcrypto backend must call it. */
static void evp_x25519(uint8_t shared[LSXI_POINT_BYTES], EVP_PKEY *key, const uint8_t point[LSXI_POINT_BYTES]) {
    size_t len = LSXI_POINT_BYTES;
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, point, LSXI_POINT_BYTES);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    if (peer == NULL || ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) != 1 ||
        EVP_PKEY_derive(ctx, shared, &len) != 1)
        die("EVP X25519", -1);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
}

static void run_floor_libcrypto(void *p, size_t n) {
    floor_ctx *c = p;
    for (size_t i = 0; i < n; i++) {
        evp_x25519(c->dh, c->evp_node, c->element); /* the node key is built once, as lsx_node does */
        floor_symmetric(c);
        if (c->kem) continue;
        EVP_PKEY *blinding =
            EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, c->KEY(LSXI_KDF_BLINDING), LSXI_SCALAR_BYTES);
        if (blinding == NULL) die("EVP_PKEY_new_raw_private_key", -1);
        evp_x25519(c->blinded, blinding, c->element);
        EVP_PKEY_free(blinding);
    }
    sink ^= c->blinded[0] ^ c->payload[0] ^ c->mac[0];
}

static void floor_init(floor_ctx *c, lsx_suite suite, const uint8_t *node_secret, const uint8_t *packet) {
    const int kem = suite == LSX_SUITE_KEM_X25519;
    c->kdf_context = kem ? LSXI_KDF_CONTEXT_KEM_X25519 : LSXI_KDF_CONTEXT_V1;
    c->kem = kem;
    c->mac_input_bytes = LSX_FORMAT_VERSION_BYTES + LSXI_BETA_BYTES(suite, DEFAULT_HOPS);
    c->routing_bytes = LSXI_ROUTING_BYTES(suite, DEFAULT_HOPS);
    memcpy(c->node_secret, node_secret, LSX_KEY_BYTES);
    int rc = lsx_public_key(c->node_public, node_secret);
    if (rc != LSX_OK) die("lsx_public_key", rc);
    memcpy(c->element, packet + LSXI_HEADER_ELEMENT_OFFSET, LSX_SUITE_ELEMENT_BYTES(suite));
    randombytes_buf(c->mac_input, sizeof c->mac_input);
    randombytes_buf(c->routing, sizeof c->routing);
    randombytes_buf(c->payload, sizeof c->payload);
    c->evp_node = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, node_secret, LSX_KEY_BYTES);
    if (c->evp_node == NULL) die("EVP_PKEY_new_raw_private_key", -1);
}

/* What lsx_process spends in the replay filter: the check before the MAC and
 * the record after it, for a fresh tag each time. */
typedef struct filter_ctx {
    lsx_replay_filter *filter;
    uint64_t epoch, counter;
} filter_ctx;

static void run_filter(void *p, size_t n) {
    filter_ctx *c = p;
    uint8_t tag[LSX_TAG_BYTES] = {0};
    lsx_replay_filter_rotate(c->filter, ++c->epoch); /* as run_process does, outside the loop's body */
    for (size_t i = 0; i < n; i++) {
        memcpy(tag, &c->counter, sizeof c->counter);
        c->counter++;
        if (lsx_replay_filter_contains(c->filter, tag) || lsx_replay_filter_insert(c->filter, tag) != LSX_OK)
            die("lsx_replay_filter_insert", LSX_ERR_REPLAY);
    }
}

typedef struct mult_ctx {
    uint8_t scalar[LSXI_SCALAR_BYTES], point[LSXI_POINT_BYTES], out[LSXI_POINT_BYTES];
} mult_ctx;

/* X25519_BASE as the library computes it (the Ed25519 table, x25519_base.c). */
static void run_base_mult(void *p, size_t n) {
    mult_ctx *c = p;
    for (size_t i = 0; i < n; i++) {
        if (lsxi_x25519_base(c->out, c->scalar) != LSX_OK) die("lsxi_x25519_base", -1);
        c->scalar[0] ^= c->out[0]; /* a new scalar each time, as a sender's fresh secret */
    }
    sink ^= c->out[0];
}

/* libsodium's own crypto_scalarmult_base, for comparison. */
static void run_sodium_base_mult(void *p, size_t n) {
    mult_ctx *c = p;
    for (size_t i = 0; i < n; i++) {
        if (crypto_scalarmult_base(c->out, c->scalar) != 0) die("crypto_scalarmult_base", -1);
        c->scalar[0] ^= c->out[0];
    }
    sink ^= c->out[0];
}

static void run_var_mult(void *p, size_t n) {
    mult_ctx *c = p;
    for (size_t i = 0; i < n; i++) {
        if (crypto_scalarmult(c->out, c->scalar, c->point) != 0) die("crypto_scalarmult", -1);
        c->scalar[0] ^= c->out[0];
    }
    sink ^= c->out[0];
}

/* A route of `hops` fresh keys ending in FINAL, and buffers for what it makes. */
typedef struct route_ctx {
    const lsx_geometry *geometry;
    size_t hops, packet_bytes, surb_bytes, surb_secret_bytes;
    uint8_t public_keys[LSX_MAX_HOPS * LSX_KEY_BYTES];
    uint8_t secret_keys[LSX_MAX_HOPS * LSX_KEY_BYTES];
    uint8_t commands[LSX_MAX_HOPS * LSX_COMMAND_BYTES];
    uint8_t message[1000];
    uint8_t packet[MAX_PACKET_BYTES];
    uint8_t surb[MAX_SURB_BYTES];
    uint8_t surb_secret[LSX_SURB_SECRET_BYTES(DEFAULT_HOPS)];
    uint8_t reply_payload[DEFAULT_PAYLOAD]; /* a delivered reply, for opening */
    uint8_t scratch[DEFAULT_PAYLOAD];
} route_ctx;

static void route_init(route_ctx *c, const lsx_geometry *geometry, size_t hops) {
    memset(c, 0, sizeof *c);
    c->geometry = geometry;
    c->hops = hops;
    c->packet_bytes = lsx_packet_bytes(geometry);
    c->surb_bytes = lsx_surb_bytes(geometry);
    c->surb_secret_bytes = lsx_surb_secret_bytes(geometry);
    randombytes_buf(c->message, sizeof c->message);
    for (size_t i = 0; i < hops; i++) {
        uint8_t address[LSX_ADDRESS_BYTES];
        int rc = lsx_keypair(c->public_keys + i * LSX_KEY_BYTES, c->secret_keys + i * LSX_KEY_BYTES);
        if (rc != LSX_OK) die("lsx_keypair", rc);
        randombytes_buf(address, sizeof address);
        rc = lsx_command_encode(c->commands + i * LSX_COMMAND_BYTES, i + 1 == hops ? LSX_FLAG_FINAL : LSX_FLAG_RELAY,
                                1000, address);
        if (rc != LSX_OK) die("lsx_command_encode", rc);
    }
}

static void run_create(void *p, size_t n) {
    route_ctx *c = p;
    for (size_t i = 0; i < n; i++) {
        int rc = lsx_create_packet(c->packet, c->packet_bytes, c->geometry, c->hops, c->public_keys, c->commands,
                                   c->message, sizeof c->message, NULL, 0);
        if (rc != LSX_OK) die("lsx_create_packet", rc);
    }
    sink ^= c->packet[1];
}

static void run_surb_create(void *p, size_t n) {
    route_ctx *c = p;
    uint8_t first_hop[LSX_ADDRESS_BYTES] = {1};
    for (size_t i = 0; i < n; i++) {
        int rc = lsx_surb_create(c->surb, c->surb_bytes, c->surb_secret, c->surb_secret_bytes, c->geometry, c->hops,
                                 c->public_keys, c->commands, first_hop, NULL, 0, NULL);
        if (rc != LSX_OK) die("lsx_surb_create", rc);
    }
    sink ^= c->surb[40];
}

static void run_surb_use(void *p, size_t n) {
    route_ctx *c = p;
    uint8_t first_hop[LSX_ADDRESS_BYTES];
    for (size_t i = 0; i < n; i++) {
        int rc = lsx_surb_use(c->packet, c->packet_bytes, first_hop, c->geometry, c->surb, c->surb_bytes, c->message,
                              sizeof c->message);
        if (rc != LSX_OK) die("lsx_surb_use", rc);
    }
    sink ^= c->packet[500];
}

static void run_surb_open(void *p, size_t n) {
    route_ctx *c = p;
    size_t offset, len;
    for (size_t i = 0; i < n; i++) {
        memcpy(c->scratch, c->reply_payload, sizeof c->scratch); /* opening decrypts in place */
        int rc = lsx_surb_open(c->scratch, sizeof c->scratch, &offset, &len, c->geometry, c->surb_secret,
                               c->surb_secret_bytes);
        if (rc != LSX_OK) die("lsx_surb_open", rc);
    }
    sink ^= c->scratch[offset];
}

/* Makes a reply block over c's route, sends a reply through it and keeps the
 * payload its maker receives. */
static void deliver_reply(route_ctx *c) {
    uint8_t out[MAX_PACKET_BYTES];
    lsx_processed r;
    run_surb_create(c, 1);
    run_surb_use(c, 1);
    for (size_t i = 0; i < c->hops; i++) {
        lsx_node *node;
        int rc = lsx_node_create(&node, c->geometry, c->secret_keys + i * LSX_KEY_BYTES);
        if (rc != LSX_OK) die("lsx_node_create", rc);
        if ((rc = lsx_process(out, c->packet_bytes, &r, node, NULL, c->packet, c->packet_bytes)) != LSX_OK)
            die("lsx_process", rc);
        memcpy(c->packet, out, c->packet_bytes);
        lsx_node_destroy(node);
    }
    memcpy(c->reply_payload, c->packet + lsx_header_bytes(c->geometry), sizeof c->reply_payload);
}

/* ---- the items, interleaved ---- */

typedef struct item {
    char name[40];
    void (*run)(void *ctx, size_t n);
    void *ctx;
    size_t max_n;  /* 0: no limit */
    void (*prepare)(void *ctx); /* before each timed run, untimed (NULL: nothing) */
    size_t n;      /* calls per round, from calibration */
    double mean[MAX_ROUNDS];
    double median;
} item;

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *values, int n) {
    double sorted[MAX_ROUNDS];
    memcpy(sorted, values, sizeof(double) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof(double), compare_double);
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/* Calls per round for `seconds`, from a run of at least 20 ms (or of max_n
 * calls, which an item whose state lasts that long must never exceed). */
static void calibrate(item *it, double seconds) {
    size_t n = 1;
    double elapsed = 0;
    while (elapsed < 0.02) {
        double start = now();
        it->run(it->ctx, n);
        elapsed = now() - start;
        if (it->max_n != 0 && n >= it->max_n) break;
        if (elapsed < 0.02) n = it->max_n != 0 && 2 * n > it->max_n ? it->max_n : 2 * n;
    }
    double per_call = elapsed / (double)n;
    it->n = (size_t)(seconds / per_call) + 1;
    if (it->max_n != 0 && it->n > it->max_n) it->n = it->max_n;
}

/* Runs every item once per round, so that noise on the host hits them alike, and keeps each
 * item's mean per call of each round and their median. Items compared with each other stand
 * next to each other; odd rounds run the list backwards, so that neither of two neighbours
 * always runs first. */
static void run_rounds(item *items, int count, int rounds) {
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < count; k++) {
            const int i = r % 2 ? count - 1 - k : k;
            if (items[i].prepare != NULL) items[i].prepare(items[i].ctx);
            double start = now();
            items[i].run(items[i].ctx, items[i].n);
            items[i].mean[r] = (now() - start) / (double)items[i].n;
        }
    }
    for (int i = 0; i < count; i++) items[i].median = median(items[i].mean, rounds);
}

static double median_ratio(const item *a, const item *b, int rounds) {
    double per_round[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) per_round[r] = a->mean[r] / b->mean[r];
    return median(per_round, rounds);
}

/* The median over rounds of a's time against a sum of other items' times,
 * each counted `weight` times (a floor made of several primitives). */
static double median_ratio_to_sum(const item *a, const item *const *parts, const double *weights, int count,
                                  int rounds) {
    double per_round[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        double sum = 0;
        for (int i = 0; i < count; i++) sum += weights[i] * parts[i]->mean[r];
        per_round[r] = a->mean[r] / sum;
    }
    return median(per_round, rounds);
}

static process_ctx make_process_ctx(const lsx_geometry *g, lsx_backend backend, const uint8_t *secret,
                                    const uint8_t *packets) {
    process_ctx c = {0};
    int rc;
    c.packet_bytes = lsx_packet_bytes(g);
    if ((rc = lsx_set_backend(backend)) != LSX_OK) die("lsx_set_backend", rc);
    if ((rc = lsx_node_create(&c.node, g, secret)) != LSX_OK) die("lsx_node_create", rc);
    if (lsx_node_backend(c.node) != backend) die("lsx_node_backend", LSX_ERR_BACKEND);
    if ((rc = lsx_replay_filter_create(&c.filter, 4 * PROCESS_PACKETS, 1e-6, 0)) != LSX_OK)
        die("lsx_replay_filter_create", rc);
    c.packets = (uint8_t *)packets;
    c.out = malloc(c.packet_bytes);
    return c;
}

static void free_process_ctx(process_ctx *c) {
    lsx_node_destroy(c->node);
    lsx_replay_filter_destroy(c->filter);
    free(c->out);
}

static void cpu_model(char *out, size_t size) {
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    snprintf(out, size, "unknown");
    if (f == NULL) return;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v != NULL) {
                v += 1 + (v[1] == ' ');
                v[strcspn(v, "\n")] = '\0';
                snprintf(out, size, "%s", v);
            }
            break;
        }
    }
    fclose(f);
}

/* ---- Noise link encryption, beside lsx_process (an output section of its own) ---- */

/* A frame of the links' size: a default-geometry packet (2,481 bytes) and its framing, rounded. */
#define NOISE_FRAME_BYTES 2500

/* The two ends of one direction of an XK link, and a frame to carry. */
typedef struct noise_transport_ctx {
    lsx_noise_cipher *send, *receive;
    uint8_t key[crypto_aead_chacha20poly1305_ietf_KEYBYTES]; /* for the floor */
    uint8_t frame[LSX_NOISE_TRANSPORT_BYTES(NOISE_FRAME_BYTES)];
} noise_transport_ctx;

/* Both nodes' static keys: a handshake needs nothing else. */
typedef struct noise_handshake_ctx {
    uint8_t initiator_secret[LSX_NOISE_SECRET_KEY_BYTES], responder_secret[LSX_NOISE_SECRET_KEY_BYTES];
    uint8_t responder_public[LSX_NOISE_PUBLIC_KEY_BYTES];
} noise_handshake_ctx;

/* One complete XK handshake, both sides, as a link set-up runs it: create, three messages with
 * empty payloads, split, destroy. Returns the split ciphers when asked (else frees them). */
static void noise_xk_handshake(const noise_handshake_ctx *c, lsx_noise_cipher **send, lsx_noise_cipher **receive) {
    lsx_noise_handshake *side[2];
    lsx_noise_cipher *ciphers[2][2];
    uint8_t message[LSX_NOISE_XK_MESSAGE3_BYTES(0)];
    size_t len, payload_len;
    int rc = lsx_noise_handshake_create(&side[0], LSX_NOISE_PROTOCOL_XK, LSX_NOISE_INITIATOR, NULL, 0,
                                        c->initiator_secret, c->responder_public, NULL, 0);
    if (rc == LSX_OK)
        rc = lsx_noise_handshake_create(&side[1], LSX_NOISE_PROTOCOL_XK, LSX_NOISE_RESPONDER, NULL, 0,
                                        c->responder_secret, NULL, NULL, 0);
    for (int m = 0; rc == LSX_OK && m < LSX_NOISE_XK_MESSAGES; m++) {
        rc = lsx_noise_handshake_write_message(message, sizeof message, &len, side[m % 2], NULL, 0);
        if (rc == LSX_OK) rc = lsx_noise_handshake_read_message(NULL, 0, &payload_len, side[1 - m % 2], message, len);
    }
    for (int i = 0; rc == LSX_OK && i < 2; i++) rc = lsx_noise_handshake_split(&ciphers[i][0], &ciphers[i][1], side[i]);
    if (rc != LSX_OK) die("XK handshake", rc);
    sink ^= message[0];
    lsx_noise_handshake_destroy(side[0]);
    lsx_noise_handshake_destroy(side[1]);
    if (send != NULL) {
        *send = ciphers[0][0];      /* initiator to responder */
        *receive = ciphers[1][1];
        ciphers[0][0] = ciphers[1][1] = NULL;
    }
    for (int i = 0; i < 2; i++) {
        lsx_noise_cipher_destroy(ciphers[i][0]);
        lsx_noise_cipher_destroy(ciphers[i][1]);
    }
}

static void run_noise_handshake(void *p, size_t n) {
    for (size_t i = 0; i < n; i++) noise_xk_handshake(p, NULL, NULL);
}

/* Encrypts a frame in place and decrypts it again, as the two ends of a link do. */
static void run_noise_transport(void *p, size_t n) {
    noise_transport_ctx *c = p;
    size_t len, plain_len;
    for (size_t i = 0; i < n; i++) {
        int rc = lsx_noise_cipher_encrypt(c->frame, sizeof c->frame, &len, c->send, NOISE_FRAME_BYTES);
        if (rc == LSX_OK) rc = lsx_noise_cipher_decrypt(c->frame, &plain_len, c->receive, len);
        if (rc != LSX_OK) die("Noise transport", rc);
    }
    sink ^= c->frame[0];
}

/* The floor of the transport: the same AEAD calls on the same frame, nothing else (nonces
 * repeat here: this measures cost only). */
static void run_noise_aead_floor(void *p, size_t n) {
    noise_transport_ctx *c = p;
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {0};
    unsigned long long len, plain_len;
    for (size_t i = 0; i < n; i++) {
        nonce[4] = (uint8_t)i;
        crypto_aead_chacha20poly1305_ietf_encrypt(c->frame, &len, c->frame, NOISE_FRAME_BYTES, NULL, 0, NULL, nonce,
                                                  c->key);
        if (crypto_aead_chacha20poly1305_ietf_decrypt(c->frame, &plain_len, NULL, c->frame, len, NULL, 0, nonce,
                                                      c->key) != 0)
            die("AEAD floor", -1);
    }
    sink ^= c->frame[0];
}

/* XK transport and handshake, interleaved round by round with lsx_process so that their
 * ratios to it come from the same moments of the same run. */
static void bench_noise(process_ctx *process, int rounds, double seconds, int json) {
    noise_handshake_ctx handshake;
    noise_transport_ctx *transport = calloc(1, sizeof *transport);
    int rc = lsx_noise_keypair(handshake.responder_public, handshake.responder_secret);
    uint8_t initiator_public[LSX_NOISE_PUBLIC_KEY_BYTES];
    if (rc == LSX_OK) rc = lsx_noise_keypair(initiator_public, handshake.initiator_secret);
    if (rc != LSX_OK) die("lsx_noise_keypair", rc);
    noise_xk_handshake(&handshake, &transport->send, &transport->receive);
    randombytes_buf(transport->frame, NOISE_FRAME_BYTES);
    randombytes_buf(transport->key, sizeof transport->key);

    enum { N_PROCESS, N_TRANSPORT, N_FLOOR, N_HANDSHAKE, N_ITEMS };
    item items[N_ITEMS] = {
        [N_PROCESS] = {"process v1 (sodium)", run_process, process, PROCESS_PACKETS},
        [N_TRANSPORT] = {"XK transport enc+dec", run_noise_transport, transport, 0},
        [N_FLOOR] = {"AEAD enc+dec (floor)", run_noise_aead_floor, transport, 0},
        [N_HANDSHAKE] = {"XK handshake (both)", run_noise_handshake, &handshake, 0},
    };
    for (int i = 0; i < N_ITEMS; i++) calibrate(&items[i], seconds);
    run_rounds(items, N_ITEMS, rounds);
    const double transport_process = median_ratio(&items[N_TRANSPORT], &items[N_PROCESS], rounds);
    const double handshake_process = median_ratio(&items[N_HANDSHAKE], &items[N_PROCESS], rounds);
    const double transport_floor = median_ratio(&items[N_TRANSPORT], &items[N_FLOOR], rounds);

    printf("\nNoise links (%s), a %d-byte frame; medians of the same %d interleaved rounds\n",
           LSX_NOISE_PROTOCOL_XK, NOISE_FRAME_BYTES, rounds);
    printf("%-24s %12s %12s %10s\n", "item", "us/op", "ops/s", "calls/rnd");
    for (int i = 0; i < N_ITEMS; i++)
        printf("%-24s %12.2f %12.0f %10zu\n", items[i].name, items[i].median * 1e6, 1.0 / items[i].median,
               items[i].n);
    printf("\n%-44s %8s\n", "ratio", "value");
    printf("%-44s %8.3f\n", "XK transport enc+dec / process", transport_process);
    printf("%-44s %8.3f\n", "XK handshake (both sides) / process", handshake_process);
    printf("%-44s %8.3f\n", "XK transport enc+dec / AEAD floor", transport_floor);
    if (json)
        printf("{\"bench\":\"loopix_noise\",\"frame_bytes\":%d,\"rounds\":%d,\"us_per_op\":{\"process\":%.3f,"
               "\"transport\":%.3f,\"aead_floor\":%.3f,\"handshake\":%.3f},\"ratios\":{\"transport_process\":%.4f,"
               "\"handshake_process\":%.4f,\"transport_floor\":%.4f}}\n",
               NOISE_FRAME_BYTES, rounds, items[N_PROCESS].median * 1e6, items[N_TRANSPORT].median * 1e6,
               items[N_FLOOR].median * 1e6, items[N_HANDSHAKE].median * 1e6, transport_process, handshake_process,
               transport_floor);
    lsx_noise_cipher_destroy(transport->send);
    lsx_noise_cipher_destroy(transport->receive);
    sodium_memzero(&handshake, sizeof handshake);
    free(transport);
}

/* ---- The replay filter at a node's size, beside lsx_process (a section of its own) ---- */

/* A node relaying 2,200 packets a second over a one-hour key epoch, with 25 % headroom. */
#define REPLAY_CAPACITY UINT64_C(10000000)
#define REPLAY_RATE 1e-6
/* Tags recorded before the rounds, so that every page of the filter is in memory and dirty
 * (as in a node some minutes into its epoch). */
#define REPLAY_PREFILL UINT64_C(2000000)

/* One filter of REPLAY_CAPACITY tags, in process memory or over a file mapping; its tags are a
 * counter and a salt (the filter hashes them under its own key, so they land anywhere). */
typedef struct replay_ctx {
    lsx_replay_filter *filter;
    uint8_t *mapping; /* NULL: process memory */
    size_t mapping_len;
    int fd;
    char path[512];
    uint64_t next; /* the next tag's counter */
    uint8_t salt[LSX_TAG_BYTES];
    uint64_t replays; /* false positives met: at 1e-6, a handful */
    long faults[MAX_ROUNDS + 1]; /* minor page faults during each timed run */
    int runs;
} replay_ctx;

static void next_tag(uint8_t tag[LSX_TAG_BYTES], replay_ctx *c) {
    memcpy(tag, c->salt, LSX_TAG_BYTES);
    memcpy(tag, &c->next, sizeof c->next);
    c->next++;
}

static void replay_insert(replay_ctx *c, const uint8_t tag[LSX_TAG_BYTES]) {
    const int rc = lsx_replay_filter_insert(c->filter, tag);
    if (rc == LSX_ERR_REPLAY) c->replays++;
    else if (rc != LSX_OK) die("lsx_replay_filter_insert", rc);
}

static long minor_faults(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

static void run_replay_insert(void *p, size_t n) {
    replay_ctx *c = p;
    uint8_t tag[LSX_TAG_BYTES];
    const long faults = minor_faults();
    for (size_t i = 0; i < n; i++) {
        next_tag(tag, c);
        replay_insert(c, tag);
    }
    if (c->runs <= MAX_ROUNDS) c->faults[c->runs] = minor_faults() - faults;
    c->runs++;
}

/* What lsx_process asks of its filter for each packet: a lookup (before the MAC), then the insert. */
static void run_replay_lookup_insert(void *p, size_t n) {
    replay_ctx *c = p;
    uint8_t tag[LSX_TAG_BYTES];
    for (size_t i = 0; i < n; i++) {
        next_tag(tag, c);
        if (lsx_replay_filter_contains(c->filter, tag)) sink ^= 1;
        replay_insert(c, tag);
    }
}

/* Every page written to the disk and clean: the next write to each page faults (as after the
 * kernel's periodic writeback), so the run that follows pays those faults. */
static void replay_sync(void *p) {
    replay_ctx *c = p;
    if (msync(c->mapping, c->mapping_len, MS_SYNC) != 0) die("msync", -1);
}

static void replay_open(replay_ctx *c, const char *directory, int in_file) {
    int rc;
    memset(c, 0, sizeof *c);
    c->fd = -1;
    randombytes_buf(c->salt, sizeof c->salt);
    if (!in_file) {
        if ((rc = lsx_replay_filter_create(&c->filter, REPLAY_CAPACITY, REPLAY_RATE, 1)) != LSX_OK)
            die("lsx_replay_filter_create", rc);
    } else {
        /* As the node makes its file: allocated up front, mapped MAP_SHARED, formatted. */
        uint8_t boot[LSX_REPLAY_BOOT_ID_BYTES];
        randombytes_buf(boot, sizeof boot);
        static int files = 0;
        snprintf(c->path, sizeof c->path, "%s/bench_replay.%ld.%d.filter", directory, (long)getpid(), files++);
        c->mapping_len = lsx_replay_filter_layout_bytes(REPLAY_CAPACITY, REPLAY_RATE);
        c->fd = open(c->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (c->fd < 0 || posix_fallocate(c->fd, 0, (off_t)c->mapping_len) != 0) die(c->path, -1);
        c->mapping = mmap(NULL, c->mapping_len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
        if (c->mapping == MAP_FAILED) die("mmap", -1);
        if ((rc = lsx_replay_filter_format(&c->filter, c->mapping, c->mapping_len, REPLAY_CAPACITY, REPLAY_RATE, 1,
                                           boot)) != LSX_OK)
            die("lsx_replay_filter_format", rc);
    }
    run_replay_insert(c, REPLAY_PREFILL);
}

static void replay_close(replay_ctx *c) {
    lsx_replay_filter_destroy(c->filter);
    if (c->mapping != NULL) {
        munmap(c->mapping, c->mapping_len);
        close(c->fd);
        unlink(c->path);
    }
}

static double median_long(const long *values, int n) {
    double d[MAX_ROUNDS];
    for (int i = 0; i < n; i++) d[i] = (double)values[i];
    return median(d, n);
}

/* Inserts (and the lookup and insert lsx_process does) on a filter of 10^7 tags at 1e-6 in process
 * memory and in a MAP_SHARED file, interleaved round by round with lsx_process. */
static double bench_replay(process_ctx *process, int rounds, double seconds, int json, const char *directory) {
    replay_ctx *memory = malloc(sizeof *memory), *file = malloc(sizeof *file), *synced = malloc(sizeof *synced);
    fprintf(stderr, "bench_sphinx: three replay filters of %llu tags, %llu recorded in each first...\n",
            (unsigned long long)REPLAY_CAPACITY, (unsigned long long)REPLAY_PREFILL);
    replay_open(memory, directory, 0);
    replay_open(file, directory, 1);
    replay_open(synced, directory, 1);
    const size_t layout = lsx_replay_filter_layout_bytes(REPLAY_CAPACITY, REPLAY_RATE);
    const long pages = (long)(layout / (size_t)sysconf(_SC_PAGESIZE));
    /* Whatever the rounds and seconds, no filter fills: each item may use this many per round. */
    const size_t budget = (size_t)((REPLAY_CAPACITY - REPLAY_PREFILL) * 9 / 10 / (uint64_t)(2 * (rounds + 2)));

    enum { R_PROCESS, R_MEMORY, R_FILE, R_MEMORY_BOTH, R_FILE_BOTH, R_SYNCED, R_ITEMS };
    item items[R_ITEMS] = {
        [R_PROCESS] = {"process v1 (sodium)", run_process, process, PROCESS_PACKETS, NULL},
        [R_MEMORY] = {"insert, memory", run_replay_insert, memory, budget, NULL},
        [R_FILE] = {"insert, file", run_replay_insert, file, budget, NULL},
        [R_MEMORY_BOTH] = {"lookup+insert, memory", run_replay_lookup_insert, memory, budget, NULL},
        [R_FILE_BOTH] = {"lookup+insert, file", run_replay_lookup_insert, file, budget, NULL},
        /* As many inserts as the file has pages, each round just after a sync: most of them
         * meet a clean page. */
        [R_SYNCED] = {"insert, file, synced", run_replay_insert, synced, (size_t)pages, replay_sync},
    };
    for (int i = 0; i < R_ITEMS; i++) calibrate(&items[i], seconds);
    memset(synced->faults, 0, sizeof synced->faults);
    synced->runs = 0;
    run_rounds(items, R_ITEMS, rounds);
    /* The cost of one fault of a synced page: what the synced run took beyond the same number of
     * inserts into dirty pages, over the faults it met (per round, then the median). */
    double per_fault[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++)
        per_fault[r] = synced->faults[r] > 0 ? (items[R_SYNCED].mean[r] - items[R_FILE].mean[r]) *
                                                   (double)items[R_SYNCED].n / (double)synced->faults[r]
                                             : 0.0;
    const double fault_us = median(per_fault, rounds) * 1e6;
    const double faults_per_round = median_long(synced->faults, rounds);

    printf("\nReplay filter, %llu tags at %.0e (%zu bytes, %ld pages of %ld); medians of the same %d interleaved "
           "rounds\n",
           (unsigned long long)REPLAY_CAPACITY, REPLAY_RATE, layout, pages, sysconf(_SC_PAGESIZE), rounds);
    printf("%-24s %12s %12s %10s\n", "item", "us/op", "ops/s", "calls/rnd");
    for (int i = 0; i < R_ITEMS; i++)
        printf("%-24s %12.3f %12.0f %10zu\n", items[i].name, items[i].median * 1e6, 1.0 / items[i].median,
               items[i].n);
    printf("\n%-44s %8s\n", "ratio", "value");
    const char *labels[R_ITEMS] = {NULL, "insert, memory / process", "insert, file / process",
                                   "lookup+insert, memory / process", "lookup+insert, file / process",
                                   "insert, file, synced / process"};
    double ratios[R_ITEMS] = {0};
    for (int i = R_MEMORY; i < R_ITEMS; i++) {
        ratios[i] = median_ratio(&items[i], &items[R_PROCESS], rounds);
        printf("%-44s %8.4f\n", labels[i], ratios[i]);
    }
    const double file_memory = median_ratio(&items[R_FILE], &items[R_MEMORY], rounds);
    printf("%-44s %8.3f\n", "insert, file / insert, memory", file_memory);
    printf("%-44s %8.0f\n", "page faults per synced round (median)", faults_per_round);
    printf("%-44s %8.2f\n", "us per fault of a synced page (median)", fault_us);
    printf("%-44s %8llu\n", "false positives met (all items)",
           (unsigned long long)(memory->replays + file->replays + synced->replays));
    if (json)
        printf("{\"bench\":\"loopix_replay\",\"capacity\":%llu,\"rate\":%g,\"layout_bytes\":%zu,\"rounds\":%d,"
               "\"us_per_op\":{\"process\":%.3f,\"insert_memory\":%.4f,\"insert_file\":%.4f,"
               "\"lookup_insert_memory\":%.4f,\"lookup_insert_file\":%.4f,\"insert_file_synced\":%.4f},"
               "\"ratios\":{\"insert_memory_process\":%.5f,\"insert_file_process\":%.5f,"
               "\"lookup_insert_memory_process\":%.5f,\"lookup_insert_file_process\":%.5f,"
               "\"insert_file_synced_process\":%.5f,\"insert_file_memory\":%.4f},\"us_per_fault\":%.3f}\n",
               (unsigned long long)REPLAY_CAPACITY, REPLAY_RATE, layout, rounds, items[R_PROCESS].median * 1e6,
               items[R_MEMORY].median * 1e6, items[R_FILE].median * 1e6, items[R_MEMORY_BOTH].median * 1e6,
               items[R_FILE_BOTH].median * 1e6, items[R_SYNCED].median * 1e6, ratios[R_MEMORY], ratios[R_FILE],
               ratios[R_MEMORY_BOTH], ratios[R_FILE_BOTH], ratios[R_SYNCED], file_memory, fault_us);
    replay_close(memory);
    replay_close(file);
    replay_close(synced);
    free(memory);
    free(file);
    free(synced);
    return items[R_PROCESS].median * 1e6;
}

/* The file-backed filter at a node's pace for `seconds`, against the same filter in memory:
 * the kernel writes dirty pages back (by default once they are 30 s old) and write-protects
 * them, so the next insert into such a page pays a fault, which only a run this long shows.
 * Each 10 ms, `rate` / 100 inserts into each filter (the two take turns going first), timed
 * in this thread's CPU time (which counts its faults, and not the time it is preempted). The
 * writeback itself runs in the kernel's flusher threads and is not counted. */
static void bench_replay_sustained(double process_us, double seconds, double rate, const char *directory) {
    replay_ctx *memory = malloc(sizeof *memory), *file = malloc(sizeof *file);
    fprintf(stderr, "bench_sphinx: %.0f s at %.0f inserts/s into a file-backed and an in-memory filter...\n", seconds,
            rate);
    replay_open(memory, directory, 0);
    replay_open(file, directory, 1);
    const size_t per_tick = (size_t)(rate / 100.0 + 0.5);
    const int windows = (int)(seconds / 10.0 + 0.5);
    double cpu[2] = {0, 0};
    long faults = 0;
    uint64_t inserts = 0;
    printf("\nReplay filter at %.0f inserts/s for %d s (thread CPU time per insert; faults of the file's pages)\n",
           rate, 10 * windows);
    printf("%8s %14s %14s %16s %14s\n", "window", "file us/ins", "memory us/ins", "file - memory", "faults/ins");
    double next = wall_now();
    for (int w = 0; w < windows; w++) {
        double window_cpu[2] = {0, 0};
        long window_faults = 0;
        uint64_t window_inserts = 0;
        for (int t = 0; t < 1000; t++) {
            replay_ctx *filters[2] = {file, memory};
            /* Each tick starts with the other filter: the first after a sleep meets colder caches. */
            for (int k = 0; k < 2; k++) {
                const int i = (k + t) % 2;
                struct timespec a, b;
                const long f0 = minor_faults();
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
                run_replay_insert(filters[i], per_tick);
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
                window_cpu[i] += (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
                if (i == 0) window_faults += minor_faults() - f0;
            }
            window_inserts += per_tick;
            next += 0.01;
            const double wait = next - wall_now();
            if (wait > 0) {
                struct timespec d = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
                nanosleep(&d, NULL);
            }
        }
        const double f_us = window_cpu[0] / (double)window_inserts * 1e6, m_us = window_cpu[1] / (double)window_inserts * 1e6;
        printf("%5d-%-3d %14.3f %14.3f %16.3f %14.4f\n", 10 * w, 10 * (w + 1), f_us, m_us, f_us - m_us,
               (double)window_faults / (double)window_inserts);
        cpu[0] += window_cpu[0];
        cpu[1] += window_cpu[1];
        faults += window_faults;
        inserts += window_inserts;
    }
    const double f_us = cpu[0] / (double)inserts * 1e6, m_us = cpu[1] / (double)inserts * 1e6;
    printf("%8s %14.3f %14.3f %16.3f %14.4f\n", "all", f_us, m_us, f_us - m_us, (double)faults / (double)inserts);
    printf("per packet, against process (%.2f us, the median above): file %.4f, memory %.4f, file - memory %.4f\n",
           process_us, f_us / process_us, m_us / process_us, (f_us - m_us) / process_us);
    replay_close(memory);
    replay_close(file);
    free(memory);
    free(file);
}

/* Routes of 1 and 3 hops, 4 (a mix's loop), 5 (a client's drop cover) and 6
 * (a client's message or loop), per suite. */
enum { CREATE_ROUTES = 5 };
static const size_t route_hops[CREATE_ROUTES] = {1, 3, 4, 5, 6};
#define LONGEST_ROUTE (CREATE_ROUTES - 1)

/* The items of one suite, and the multiplications and LIONESS that the
 * creations are set against. */
enum {
    I_PROCESS_SODIUM,
    I_FLOOR_SODIUM,
    I_PROCESS_LIBCRYPTO,
    I_FLOOR_LIBCRYPTO,
    I_CREATE,
    I_SURB_CREATE = I_CREATE + CREATE_ROUTES,
    I_SURB_USE,
    I_SURB_OPEN,
    PER_SUITE
};
#define PROCESS_ITEMS (2 * 2 * SUITES) /* process and floor, per backend and suite */
enum { M_FILTER = PROCESS_ITEMS, M_BASE, M_SODIUM_BASE, M_VAR, M_LIONESS, MULTIPLICATIONS_END };
#define ITEMS (SUITES * PER_SUITE + MULTIPLICATIONS_END - PROCESS_ITEMS)

/* Where each suite's item stands in the list: each ratio's two sides next
 * to each other. Per backend: floor v1, process v1, process KEM, floor KEM
 * (process against its floor, and the suites' processes against each
 * other); then the replay filter's share of a process, the multiplications
 * and LIONESS, then each remaining item of v1 beside the KEM suite's. */
static int at[SUITES][PER_SUITE];
#define AT(suite, i) (at[suite][i])

static void lay_out_items(void) {
    int next = 0;
    for (int backend = 0; backend < 2; backend++) {
        const int process = backend == 0 ? I_PROCESS_SODIUM : I_PROCESS_LIBCRYPTO;
        const int floor = backend == 0 ? I_FLOOR_SODIUM : I_FLOOR_LIBCRYPTO;
        at[0][floor] = next++;
        at[0][process] = next++;
        at[1][process] = next++;
        at[1][floor] = next++;
    }
    next = MULTIPLICATIONS_END;
    for (int i = I_CREATE; i < PER_SUITE; i++)
        for (int s = 0; s < SUITES; s++) at[s][i] = next++;
}

/* Everything one suite's items work on. */
typedef struct suite_bench {
    route_ctx *stock_route;
    uint8_t *packets;
    process_ctx process[2]; /* libsodium, libcrypto */
    floor_ctx *floor;
    route_ctx *routes[CREATE_ROUTES + 1]; /* the last one's block and secret stay fixed, for opening */
} suite_bench;

static void suite_bench_init(suite_bench *b, int s, const uint8_t *node_public, const uint8_t *node_secret) {
    const lsx_geometry *g = &geometries[s];
    const size_t packet_bytes = lsx_packet_bytes(g);
    int rc;
    if ((rc = lsx_set_backend(LSX_BACKEND_SODIUM)) != LSX_OK) die("lsx_set_backend", rc);
    /* The node's packets: 6-hop routes that start at the node. */
    b->stock_route = malloc(sizeof *b->stock_route);
    route_init(b->stock_route, g, DEFAULT_HOPS);
    memcpy(b->stock_route->public_keys, node_public, LSX_KEY_BYTES);
    b->packets = malloc(PROCESS_PACKETS * packet_bytes);
    fprintf(stderr, "bench_sphinx: making %d %s packets...\n", PROCESS_PACKETS, lsx_suite_name(suites[s]));
    for (size_t i = 0; i < PROCESS_PACKETS; i++) {
        rc = lsx_create_packet(b->packets + i * packet_bytes, packet_bytes, g, DEFAULT_HOPS,
                               b->stock_route->public_keys, b->stock_route->commands, b->stock_route->message,
                               sizeof b->stock_route->message, NULL, 0);
        if (rc != LSX_OK) die("lsx_create_packet", rc);
    }
    b->process[0] = make_process_ctx(g, LSX_BACKEND_SODIUM, node_secret, b->packets);
    b->process[1] = make_process_ctx(g, LSX_BACKEND_LIBCRYPTO, node_secret, b->packets);
    if ((rc = lsx_set_backend(LSX_BACKEND_SODIUM)) != LSX_OK) die("lsx_set_backend", rc);
    b->floor = calloc(1, sizeof *b->floor);
    floor_init(b->floor, suites[s], node_secret, b->packets);
    for (int i = 0; i < CREATE_ROUTES + 1; i++) {
        b->routes[i] = malloc(sizeof *b->routes[i]);
        route_init(b->routes[i], g, i < CREATE_ROUTES ? route_hops[i] : DEFAULT_HOPS);
    }
    deliver_reply(b->routes[CREATE_ROUTES]);
}

static void suite_bench_items(item *items, suite_bench *b, int s) {
    const char *l = suite_label[s];
    item *it;
#define ITEM(index, fn, context, limit, ...)                                 \
    it = &items[AT(s, index)];                                                \
    snprintf(it->name, sizeof it->name, __VA_ARGS__);                         \
    it->run = fn;                                                             \
    it->ctx = context;                                                        \
    it->max_n = limit
    ITEM(I_PROCESS_SODIUM, run_process, &b->process[0], PROCESS_PACKETS, "process %s (sodium)", l);
    ITEM(I_FLOOR_SODIUM, run_floor_sodium, b->floor, 0, "floor %s (sodium)", l);
    ITEM(I_PROCESS_LIBCRYPTO, run_process, &b->process[1], PROCESS_PACKETS, "process %s (libcrypto)", l);
    ITEM(I_FLOOR_LIBCRYPTO, run_floor_libcrypto, b->floor, 0, "floor %s (libcrypto)", l);
    for (int i = 0; i < CREATE_ROUTES; i++) {
        ITEM(I_CREATE + i, run_create, b->routes[i], 0, "create %zu hop%s %s", route_hops[i],
             route_hops[i] == 1 ? "" : "s", l);
    }
    ITEM(I_SURB_CREATE, run_surb_create, b->routes[LONGEST_ROUTE], 0, "SURB create (6 hops) %s", l);
    ITEM(I_SURB_USE, run_surb_use, b->routes[LONGEST_ROUTE], 0, "SURB use %s", l);
    ITEM(I_SURB_OPEN, run_surb_open, b->routes[CREATE_ROUTES], 0, "SURB open (6 hops) %s", l);
#undef ITEM
}

static void suite_bench_free(suite_bench *b) {
    for (int i = 0; i < 2; i++) free_process_ctx(&b->process[i]);
    EVP_PKEY_free(b->floor->evp_node);
    free(b->floor);
    free(b->packets);
    free(b->stock_route);
    for (int i = 0; i < CREATE_ROUTES + 1; i++) free(b->routes[i]);
}

/* One printed ratio, kept for the JSON line too. */
typedef struct ratio {
    char key[48];   /* for JSON */
    char label[56]; /* for people */
    double value;
    const char *target;
} ratio;

#define MAX_RATIOS 64
static ratio ratios[MAX_RATIOS];
static int ratio_count;

static void add_ratio(const char *key, const char *label, double value, const char *target) {
    if (ratio_count == MAX_RATIOS) die("too many ratios", LSX_ERR_ARGUMENT);
    ratio *r = &ratios[ratio_count++];
    snprintf(r->key, sizeof r->key, "%s", key);
    snprintf(r->label, sizeof r->label, "%s", label);
    r->value = value;
    r->target = target;
}

/* A suite's process against its floor, per backend, and the backends against each other. */
static void process_ratios(const item *items, int s, int rounds, const char *target) {
    static const char *const backend[2] = {"sodium", "libcrypto"};
    const int process[2] = {I_PROCESS_SODIUM, I_PROCESS_LIBCRYPTO}, floor[2] = {I_FLOOR_SODIUM, I_FLOOR_LIBCRYPTO};
    const char *prefix = s == 0 ? "" : "kem_", *l = suite_label[s];
    char key[48], label[56];
    for (int b = 0; b < 2; b++) {
        snprintf(key, sizeof key, "%sprocess_floor_%s", prefix, backend[b]);
        snprintf(label, sizeof label, "process %s / floor %s (%s)", l, l, backend[b]);
        add_ratio(key, label, median_ratio(&items[AT(s, process[b])], &items[AT(s, floor[b])], rounds), target);
    }
    snprintf(key, sizeof key, "%sprocess_libcrypto_sodium", prefix);
    snprintf(label, sizeof label, "process %s (libcrypto) / process %s (sodium)", l, l);
    add_ratio(key, label, median_ratio(&items[AT(s, process[1])], &items[AT(s, process[0])], rounds), "");
}

/* A create item against the multiplications its suite requires (v1: one
 * fixed-base and n(n+1)/2 variable-base; KEM suite: n of each), and against
 * those plus the n LIONESS encryptions of the payload (spec 6.6), which the
 * multiplications alone leave out. */
static void create_ratios(const item *items, int s, int rounds) {
    for (int i = 0; i < CREATE_ROUTES; i++) {
        const double n = (double)route_hops[i];
        const double base = s == 0 ? 1 : n, var = s == 0 ? n * (n + 1) / 2 : n;
        const item *parts[3] = {&items[M_BASE], &items[M_VAR], &items[M_LIONESS]};
        const double weights[3] = {base, var, n};
        char key[48], label[56];
        snprintf(key, sizeof key, "%screate_%zu_required", s == 0 ? "" : "kem_", route_hops[i]);
        snprintf(label, sizeof label, "create %zu %s / (%.0f base + %.0f var mults)", route_hops[i], suite_label[s],
                 base, var);
        add_ratio(key, label, median_ratio_to_sum(&items[AT(s, I_CREATE + i)], parts, weights, 2, rounds),
                  s == 0 ? "<= 1.15" : "");
        snprintf(key, sizeof key, "%screate_%zu_required_with_lioness", s == 0 ? "" : "kem_", route_hops[i]);
        snprintf(label, sizeof label, "create %zu %s / (those + %zu LIONESS)", route_hops[i], suite_label[s],
                 route_hops[i]);
        add_ratio(key, label, median_ratio_to_sum(&items[AT(s, I_CREATE + i)], parts, weights, 3, rounds), "");
    }
}

int main(int argc, char **argv) {
    int json = 0, rounds = 15;
    double seconds = 0.06;
    const char *tmp = getenv("TMPDIR"), *replay_dir = tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp";
    double sustained = 0, sustained_rate = 2222;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--replay-dir") == 0 && i + 1 < argc) replay_dir = argv[++i];
        else if (strcmp(argv[i], "--replay-sustained") == 0 && i + 1 < argc) sustained = atof(argv[++i]);
        else if (strcmp(argv[i], "--replay-rate") == 0 && i + 1 < argc) sustained_rate = atof(argv[++i]);
        else {
            fprintf(stderr,
                    "usage: %s [--json] [--rounds N] [--seconds S] [--replay-dir DIR] [--replay-sustained S "
                    "[--replay-rate R]]\n",
                    argv[0]);
            return 2;
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || !(seconds > 0)) {
        fprintf(stderr, "bench_sphinx: rounds must be 1..%d and seconds positive\n", MAX_ROUNDS);
        return 2;
    }
    /* At least one insert per 10 ms tick, and never more than a filter holds after its prefill. */
    if (sustained < 0 || !(sustained_rate >= 100) ||
        sustained * sustained_rate > 0.9 * (double)(REPLAY_CAPACITY - REPLAY_PREFILL)) {
        fprintf(stderr, "bench_sphinx: --replay-rate must be at least 100, and seconds x rate fit the filter\n");
        return 2;
    }
    int rc = lsx_init();
    if (rc != LSX_OK) die("lsx_init", rc);
    lay_out_items();
    for (int s = 0; s < SUITES; s++)
        if ((rc = lsx_geometry_init(&geometries[s], suites[s], DEFAULT_HOPS, DEFAULT_PAYLOAD)) != LSX_OK)
            die("lsx_geometry_init", rc);

    /* One node key for both suites' packets (their KDF personalisations keep them apart). */
    uint8_t node_public[LSX_KEY_BYTES], node_secret[LSX_KEY_BYTES];
    if ((rc = lsx_keypair(node_public, node_secret)) != LSX_OK) die("lsx_keypair", rc);
    suite_bench bench[SUITES];
    item items[ITEMS];
    memset(items, 0, sizeof items);
    for (int s = 0; s < SUITES; s++) {
        suite_bench_init(&bench[s], s, node_public, node_secret);
        suite_bench_items(items, &bench[s], s);
    }
    mult_ctx mult;
    randombytes_buf(mult.scalar, sizeof mult.scalar);
    if (crypto_scalarmult_base(mult.point, mult.scalar) != 0) die("crypto_scalarmult_base", -1);
    randombytes_buf(mult.scalar, sizeof mult.scalar);
    filter_ctx filter = {NULL, 0, 0};
    if ((rc = lsx_replay_filter_create(&filter.filter, 4 * PROCESS_PACKETS, 1e-6, 0)) != LSX_OK)
        die("lsx_replay_filter_create", rc);
    items[M_FILTER] =
        (item){.name = "replay filter check+record", .run = run_filter, .ctx = &filter, .max_n = PROCESS_PACKETS};
    items[M_BASE] = (item){.name = "X25519 base mult", .run = run_base_mult, .ctx = &mult};
    items[M_SODIUM_BASE] = (item){.name = "X25519 base (libsodium's)", .run = run_sodium_base_mult, .ctx = &mult};
    items[M_VAR] = (item){.name = "X25519 variable mult", .run = run_var_mult, .ctx = &mult};
    items[M_LIONESS] = (item){.name = "LIONESS work (2048 B)", .run = run_lioness, .ctx = bench[0].floor};

    for (int i = 0; i < ITEMS; i++) calibrate(&items[i], seconds);
    fprintf(stderr, "bench_sphinx: %d rounds of %d items, %.2f s each\n", rounds, ITEMS, seconds);
    run_rounds(items, ITEMS, rounds);

    /* Each ratio is the median of its per-round ratios: both sides of one
     * round ran within a fraction of a second of each other. */
    const double us = 1e6;
    const item *v1_sodium = &items[AT(0, I_PROCESS_SODIUM)], *kem_sodium = &items[AT(1, I_PROCESS_SODIUM)];
    const item *v1_libcrypto = &items[AT(0, I_PROCESS_LIBCRYPTO)], *kem_libcrypto = &items[AT(1, I_PROCESS_LIBCRYPTO)];
    process_ratios(items, 0, rounds, "<= 1.10");
    create_ratios(items, 0, rounds);
    process_ratios(items, 1, rounds, "<= 1.05");
    {
        /* The replay filter is work lsx_process must do beside the floor's
         * (a keyed hash and a lock to check, the same to record). */
        const item *parts[2] = {&items[AT(1, I_FLOOR_SODIUM)], &items[M_FILTER]};
        const double weights[2] = {1, 1};
        add_ratio("kem_process_floor_filter_sodium", "  process KEM / (floor KEM + replay filter) (sodium)",
                  median_ratio_to_sum(&items[AT(1, I_PROCESS_SODIUM)], parts, weights, 2, rounds), "");
        add_ratio("kem_filter_floor_sodium", "  replay filter / floor KEM (sodium)",
                  median_ratio(&items[M_FILTER], &items[AT(1, I_FLOOR_SODIUM)], rounds), "");
    }
    create_ratios(items, 1, rounds);
    /* The KEM suite against version 1, and the same ratio of their floors:
     * the least the first can be on this machine. */
    add_ratio("kem_v1_process_sodium", "process KEM / process v1 (sodium)", median_ratio(kem_sodium, v1_sodium, rounds),
              "<= 0.60");
    add_ratio("kem_v1_process_libcrypto", "process KEM / process v1 (libcrypto)",
              median_ratio(kem_libcrypto, v1_libcrypto, rounds), "<= 0.60");
    add_ratio("kem_v1_floor_sodium", "  floor KEM / floor v1 (sodium)",
              median_ratio(&items[AT(1, I_FLOOR_SODIUM)], &items[AT(0, I_FLOOR_SODIUM)], rounds), "");
    add_ratio("kem_v1_floor_libcrypto", "  floor KEM / floor v1 (libcrypto)",
              median_ratio(&items[AT(1, I_FLOOR_LIBCRYPTO)], &items[AT(0, I_FLOOR_LIBCRYPTO)], rounds), "");
    for (int i = 0; i < CREATE_ROUTES; i++) {
        char key[48], label[56];
        snprintf(key, sizeof key, "kem_v1_create_%zu", route_hops[i]);
        snprintf(label, sizeof label, "create %zu hop%s KEM / create %zu v1", route_hops[i],
                 route_hops[i] == 1 ? "" : "s", route_hops[i]);
        add_ratio(key, label, median_ratio(&items[AT(1, I_CREATE + i)], &items[AT(0, I_CREATE + i)], rounds),
                  route_hops[i] == DEFAULT_HOPS ? "<= 0.60" : "");
    }
    {
        /* (6 base + 6 var + 6 LIONESS) / (1 base + 21 var + 6 LIONESS), per round. */
        const double n = DEFAULT_HOPS;
        double per_round[MAX_ROUNDS];
        for (int r = 0; r < rounds; r++) {
            const double b = items[M_BASE].mean[r], v = items[M_VAR].mean[r], l = items[M_LIONESS].mean[r];
            per_round[r] = (n * b + n * v + n * l) / (b + n * (n + 1) / 2 * v + n * l);
        }
        add_ratio("kem_v1_create_6_floor", "  required work: KEM 6 hops / v1 6 hops", median(per_round, rounds), "");
    }
    add_ratio("kem_v1_surb_create", "SURB create KEM / SURB create v1",
              median_ratio(&items[AT(1, I_SURB_CREATE)], &items[AT(0, I_SURB_CREATE)], rounds), "");
    add_ratio("sodium_base_ours", "X25519 base: libsodium's / the library's",
              median_ratio(&items[M_SODIUM_BASE], &items[M_BASE], rounds), "");
    add_ratio("base_var", "X25519 base (the library's) / variable mult",
              median_ratio(&items[M_BASE], &items[M_VAR], rounds), "");

    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    printf("loopix_sphinx %s, libsodium %s, %s\n", lsx_version(), sodium_version_string(),
           OpenSSL_version(OPENSSL_VERSION));
    printf("CPU: %s; geometry H=%u P=%u (%zu-byte v1 packets, %zu-byte KEM packets); medians of %d interleaved "
           "rounds\n\n",
           cpu, geometries[0].hops, geometries[0].payload, lsx_packet_bytes(&geometries[0]),
           lsx_packet_bytes(&geometries[1]), rounds);
    printf("%-28s %12s %12s %10s\n", "item", "us/op", "ops/s", "calls/rnd");
    for (int i = 0; i < ITEMS; i++)
        printf("%-28s %12.2f %12.0f %10zu\n", items[i].name, items[i].median * us, 1.0 / items[i].median,
               items[i].n);
    printf("\n%-52s %8s %8s\n", "ratio (median of per-round ratios)", "value", "target");
    for (int i = 0; i < ratio_count; i++)
        printf("%-52s %8.3f %8s\n", ratios[i].label, ratios[i].value, ratios[i].target);

    if (json) {
        printf("{\"bench\":\"loopix_sphinx\",\"version\":\"%s\",\"cpu\":\"%s\",\"rounds\":%d,\"hops\":%u,"
               "\"payload\":%u,\"us_per_op\":{",
               lsx_version(), cpu, rounds, geometries[0].hops, geometries[0].payload);
        for (int i = 0; i < ITEMS; i++) printf("%s\"%s\":%.3f", i ? "," : "", items[i].name, items[i].median * us);
        printf("},\"ratios\":{");
        for (int i = 0; i < ratio_count; i++) printf("%s\"%s\":%.4f", i ? "," : "", ratios[i].key, ratios[i].value);
        printf("}}\n");
    }

    bench_noise(&bench[0].process[0], rounds, seconds, json);
    const double process_us = bench_replay(&bench[0].process[0], rounds, seconds, json, replay_dir);
    if (sustained > 0) bench_replay_sustained(process_us, sustained, sustained_rate, replay_dir);

    for (int s = 0; s < SUITES; s++) suite_bench_free(&bench[s]);
    lsx_replay_filter_destroy(filter.filter);
    return 0;
}
