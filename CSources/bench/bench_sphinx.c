/* Measures the Sphinx core against the cost it cannot avoid: lsx_process
 * against its cryptographic floor (per X25519 backend), lsx_create_packet
 * against the scalar multiplications the spec requires, and reply blocks; then, in a section
 * of its own, Noise XK link encryption (a frame's transport, a handshake) beside lsx_process.
 *
 * All items run in the same process, interleaved round by round; an item's
 * result is the median over rounds of its per-round mean, so that noise on a
 * shared machine hits every item alike and ratios stay meaningful.
 *
 * Usage: bench_sphinx [--json] [--rounds N] [--seconds S]
 *   --rounds   rounds (default 9)
 *   --seconds  time each item gets per round (default 0.1) */
#include "loopix_sphinx.h"
#include "loopix_noise.h"
#include "lsx_internal.h" /* the sizes of the work inside a hop, for its floor */

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ROUNDS 31
#define PROCESS_PACKETS 4000 /* fresh packets per round: no replay is ever refused */
#define DEFAULT_HOPS LSX_DEFAULT_HOPS
#define DEFAULT_PAYLOAD LSX_DEFAULT_PAYLOAD
/* Sizes of the symmetric work of one hop at the default geometry (spec sections 5-8). */
#define BETA_BYTES LSXI_BETA_BYTES(LSX_SUITE_V1, DEFAULT_HOPS)                   /* 384: MAC input after the version byte */
#define ROUTING_BYTES LSXI_ROUTING_BYTES(LSX_SUITE_V1, DEFAULT_HOPS)             /* 448: header stream */
#define LIONESS_R_BYTES (DEFAULT_PAYLOAD - LSXI_LIONESS_LEFT_BYTES) /* 2016 */
#define KDF_CALLS LSXI_KDF_TAG /* ids 1..8: stream, mac, K1..K4, blinding, tag */
#define KEY(id) keys[(id) - 1]

static const lsx_geometry geometry = {DEFAULT_HOPS, DEFAULT_PAYLOAD, LSX_SUITE_V1};

static double now(void) {
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

/* The floor of one hop: the same primitives on the same sizes, with nothing else. */
typedef struct floor_ctx {
    uint8_t node_secret[LSX_KEY_BYTES], alpha[LSX_ALPHA_BYTES], shared[LSXI_POINT_BYTES], blinded[LSXI_POINT_BYTES];
    uint8_t keys[KDF_CALLS][LSXI_KDF_KEY_BYTES];
    uint8_t mac_input[LSX_FORMAT_VERSION_BYTES + BETA_BYTES], mac[LSX_GAMMA_BYTES];
    uint8_t routing[ROUTING_BYTES];
    uint8_t payload[DEFAULT_PAYLOAD];
    EVP_PKEY *evp_node; /* for the libcrypto floor */
} floor_ctx;

static const uint8_t zero_nonce[crypto_stream_chacha20_NONCEBYTES];

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

static void floor_symmetric(floor_ctx *c) {
    for (int id = 1; id <= KDF_CALLS; id++)
        crypto_kdf_derive_from_key(c->KEY(id), LSXI_KDF_KEY_BYTES, (uint64_t)id, LSXI_KDF_CONTEXT_V1, c->shared);
    crypto_generichash(c->mac, sizeof c->mac, c->mac_input, sizeof c->mac_input, c->KEY(LSXI_KDF_HEADER_MAC),
                       LSXI_MAC_KEY_BYTES);
    crypto_stream_chacha20_xor(c->routing, c->routing, ROUTING_BYTES, zero_nonce, c->KEY(LSXI_KDF_HEADER_STREAM));
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
        if (crypto_scalarmult(c->shared, c->node_secret, c->alpha) != 0) die("crypto_scalarmult", -1);
        floor_symmetric(c);
        if (crypto_scalarmult(c->blinded, c->KEY(LSXI_KDF_BLINDING), c->alpha) != 0) die("crypto_scalarmult", -1);
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
        evp_x25519(c->shared, c->evp_node, c->alpha); /* the node key is built once, as lsx_node does */
        floor_symmetric(c);
        EVP_PKEY *blinding =
            EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, c->KEY(LSXI_KDF_BLINDING), LSXI_SCALAR_BYTES);
        if (blinding == NULL) die("EVP_PKEY_new_raw_private_key", -1);
        evp_x25519(c->blinded, blinding, c->alpha);
        EVP_PKEY_free(blinding);
    }
    sink ^= c->blinded[0] ^ c->payload[0] ^ c->mac[0];
}

typedef struct mult_ctx {
    uint8_t scalar[LSXI_SCALAR_BYTES], point[LSXI_POINT_BYTES], out[LSXI_POINT_BYTES];
} mult_ctx;

static void run_base_mult(void *p, size_t n) {
    mult_ctx *c = p;
    for (size_t i = 0; i < n; i++) {
        crypto_scalarmult_base(c->out, c->scalar);
        c->scalar[0] ^= c->out[0]; /* a new scalar each time, as a sender's fresh secret */
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
    size_t hops;
    uint8_t public_keys[LSX_MAX_HOPS * LSX_KEY_BYTES];
    uint8_t secret_keys[LSX_MAX_HOPS * LSX_KEY_BYTES];
    uint8_t commands[LSX_MAX_HOPS * LSX_COMMAND_BYTES];
    uint8_t message[1000];
    uint8_t packet[LSX_PACKET_BYTES(DEFAULT_HOPS, DEFAULT_PAYLOAD)];
    uint8_t surb[LSX_SURB_BYTES(DEFAULT_HOPS)];
    uint8_t surb_secret[LSX_SURB_SECRET_BYTES(DEFAULT_HOPS)];
    uint8_t reply_payload[DEFAULT_PAYLOAD]; /* a delivered reply, for opening */
    uint8_t scratch[DEFAULT_PAYLOAD];
} route_ctx;

static void route_init(route_ctx *c, size_t hops) {
    memset(c, 0, sizeof *c);
    c->hops = hops;
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
        int rc = lsx_create_packet(c->packet, sizeof c->packet, &geometry, c->hops, c->public_keys, c->commands,
                                   c->message, sizeof c->message, NULL, 0);
        if (rc != LSX_OK) die("lsx_create_packet", rc);
    }
    sink ^= c->packet[1];
}

static void run_surb_create(void *p, size_t n) {
    route_ctx *c = p;
    uint8_t first_hop[LSX_ADDRESS_BYTES] = {1};
    for (size_t i = 0; i < n; i++) {
        int rc = lsx_surb_create(c->surb, sizeof c->surb, c->surb_secret, sizeof c->surb_secret, &geometry, c->hops,
                                 c->public_keys, c->commands, first_hop, NULL, 0, NULL);
        if (rc != LSX_OK) die("lsx_surb_create", rc);
    }
    sink ^= c->surb[40];
}

static void run_surb_use(void *p, size_t n) {
    route_ctx *c = p;
    uint8_t first_hop[LSX_ADDRESS_BYTES];
    for (size_t i = 0; i < n; i++) {
        int rc = lsx_surb_use(c->packet, sizeof c->packet, first_hop, &geometry, c->surb, sizeof c->surb, c->message,
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
        int rc = lsx_surb_open(c->scratch, sizeof c->scratch, &offset, &len, &geometry, c->surb_secret,
                               sizeof c->surb_secret);
        if (rc != LSX_OK) die("lsx_surb_open", rc);
    }
    sink ^= c->scratch[offset];
}

/* Makes a reply block over c's route, sends a reply through it and keeps the
 * payload its maker receives. */
static void deliver_reply(route_ctx *c) {
    uint8_t out[sizeof c->packet];
    lsx_processed r;
    run_surb_create(c, 1);
    run_surb_use(c, 1);
    for (size_t i = 0; i < c->hops; i++) {
        lsx_node *node;
        int rc = lsx_node_create(&node, &geometry, c->secret_keys + i * LSX_KEY_BYTES);
        if (rc != LSX_OK) die("lsx_node_create", rc);
        if ((rc = lsx_process(out, sizeof out, &r, node, NULL, c->packet, sizeof c->packet)) != LSX_OK)
            die("lsx_process", rc);
        memcpy(c->packet, out, sizeof out);
        lsx_node_destroy(node);
    }
    memcpy(c->reply_payload, c->packet + LSX_HEADER_BYTES(DEFAULT_HOPS), sizeof c->reply_payload);
}

/* ---- the items, interleaved ---- */

typedef struct item {
    const char *name;
    void (*run)(void *ctx, size_t n);
    void *ctx;
    size_t max_n;  /* 0: no limit */
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

static void calibrate(item *it, double seconds) {
    size_t n = 1;
    double elapsed = 0;
    while (elapsed < 0.02) {
        double start = now();
        it->run(it->ctx, n);
        elapsed = now() - start;
        if (elapsed < 0.02) n *= 2;
    }
    double per_call = elapsed / (double)n;
    it->n = (size_t)(seconds / per_call) + 1;
    if (it->max_n != 0 && it->n > it->max_n) it->n = it->max_n;
}

/* Runs every item once per round, in order, so that noise on the host hits them alike, and
 * keeps each item's mean per call of each round and their median. */
static void run_rounds(item *items, int count, int rounds) {
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < count; i++) {
            double start = now();
            items[i].run(items[i].ctx, items[i].n);
            items[i].mean[r] = (now() - start) / (double)items[i].n;
        }
    }
    for (int i = 0; i < count; i++) items[i].median = median(items[i].mean, rounds);
}

static process_ctx make_process_ctx(lsx_backend backend, const uint8_t *secret, const uint8_t *packets) {
    process_ctx c = {0};
    int rc;
    c.packet_bytes = lsx_packet_bytes(&geometry);
    if ((rc = lsx_set_backend(backend)) != LSX_OK) die("lsx_set_backend", rc);
    if ((rc = lsx_node_create(&c.node, &geometry, secret)) != LSX_OK) die("lsx_node_create", rc);
    if (lsx_node_backend(c.node) != backend) die("lsx_node_backend", LSX_ERR_BACKEND);
    if ((rc = lsx_replay_filter_create(&c.filter, 4 * PROCESS_PACKETS, 1e-6, 0)) != LSX_OK)
        die("lsx_replay_filter_create", rc);
    c.packets = (uint8_t *)packets;
    c.out = malloc(c.packet_bytes);
    return c;
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

static double median_ratio(const item *a, const item *b, int rounds) {
    double per_round[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) per_round[r] = a->mean[r] / b->mean[r];
    return median(per_round, rounds);
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
        [N_PROCESS] = {"process (sodium)", run_process, process, PROCESS_PACKETS},
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

int main(int argc, char **argv) {
    int json = 0, rounds = 9;
    double seconds = 0.1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--json] [--rounds N] [--seconds S]\n", argv[0]);
            return 2;
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || !(seconds > 0)) {
        fprintf(stderr, "bench_sphinx: rounds must be 1..%d and seconds positive\n", MAX_ROUNDS);
        return 2;
    }
    int rc = lsx_init();
    if (rc != LSX_OK) die("lsx_init", rc);
    if ((rc = lsx_set_backend(LSX_BACKEND_SODIUM)) != LSX_OK) die("lsx_set_backend", rc);

    /* The node and its packets: 6-hop routes that start at the node. */
    uint8_t node_public[LSX_KEY_BYTES], node_secret[LSX_KEY_BYTES];
    route_ctx *stock_route = malloc(sizeof *stock_route);
    route_init(stock_route, DEFAULT_HOPS);
    if ((rc = lsx_keypair(node_public, node_secret)) != LSX_OK) die("lsx_keypair", rc);
    memcpy(stock_route->public_keys, node_public, LSX_KEY_BYTES);
    const size_t packet_bytes = lsx_packet_bytes(&geometry);
    uint8_t *packets = malloc(PROCESS_PACKETS * packet_bytes);
    fprintf(stderr, "bench_sphinx: making %d packets...\n", PROCESS_PACKETS);
    for (size_t i = 0; i < PROCESS_PACKETS; i++) {
        rc = lsx_create_packet(packets + i * packet_bytes, packet_bytes, &geometry, DEFAULT_HOPS,
                               stock_route->public_keys, stock_route->commands, stock_route->message,
                               sizeof stock_route->message, NULL, 0);
        if (rc != LSX_OK) die("lsx_create_packet", rc);
    }
    process_ctx proc_sodium = make_process_ctx(LSX_BACKEND_SODIUM, node_secret, packets);
    process_ctx proc_libcrypto = make_process_ctx(LSX_BACKEND_LIBCRYPTO, node_secret, packets);
    if ((rc = lsx_set_backend(LSX_BACKEND_SODIUM)) != LSX_OK) die("lsx_set_backend", rc);

    floor_ctx *floor = calloc(1, sizeof *floor);
    memcpy(floor->node_secret, node_secret, LSX_KEY_BYTES);
    memcpy(floor->alpha, packets + LSXI_HEADER_ALPHA_OFFSET, LSX_ALPHA_BYTES);
    randombytes_buf(floor->mac_input, sizeof floor->mac_input);
    randombytes_buf(floor->routing, sizeof floor->routing);
    randombytes_buf(floor->payload, sizeof floor->payload);
    floor->evp_node = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, node_secret, LSX_KEY_BYTES);
    if (floor->evp_node == NULL) die("EVP_PKEY_new_raw_private_key", -1);

    mult_ctx mult;
    randombytes_buf(mult.scalar, sizeof mult.scalar);
    crypto_scalarmult_base(mult.point, mult.scalar);
    randombytes_buf(mult.scalar, sizeof mult.scalar);

    /* Routes of 1 and 3 hops, 4 (a mix's loop), 5 (a client's drop cover)
     * and 6 (a client's message or loop), and one more whose block and
     * secret stay fixed (creating blocks overwrites them) for opening its
     * reply. */
    enum { CREATE_ROUTES = 5 };
    route_ctx *routes[CREATE_ROUTES + 1];
    const size_t route_hops[CREATE_ROUTES + 1] = {1, 3, 4, 5, 6, 6};
    for (int i = 0; i < CREATE_ROUTES + 1; i++) {
        routes[i] = malloc(sizeof *routes[i]);
        route_init(routes[i], route_hops[i]);
    }
    deliver_reply(routes[5]);

    /* Items compared with each other run next to each other in every round. */
    enum { P_SODIUM, F_SODIUM, P_LIBCRYPTO, F_LIBCRYPTO, M_BASE, M_VAR, LIONESS, C1, C3, C4, C5, C6, S_CREATE, S_USE, S_OPEN,
           ITEMS };
    item items[ITEMS] = {
        [P_SODIUM] = {"process (sodium)", run_process, &proc_sodium, PROCESS_PACKETS},
        [P_LIBCRYPTO] = {"process (libcrypto)", run_process, &proc_libcrypto, PROCESS_PACKETS},
        [F_SODIUM] = {"floor (sodium)", run_floor_sodium, floor, 0},
        [F_LIBCRYPTO] = {"floor (libcrypto)", run_floor_libcrypto, floor, 0},
        [M_BASE] = {"X25519 base mult", run_base_mult, &mult, 0},
        [M_VAR] = {"X25519 variable mult", run_var_mult, &mult, 0},
        [LIONESS] = {"LIONESS work (2048 B)", run_lioness, floor, 0},
        [C1] = {"create 1 hop", run_create, routes[0], 0},
        [C3] = {"create 3 hops", run_create, routes[1], 0},
        [C4] = {"create 4 hops", run_create, routes[2], 0},
        [C5] = {"create 5 hops", run_create, routes[3], 0},
        [C6] = {"create 6 hops", run_create, routes[4], 0},
        [S_CREATE] = {"SURB create (6 hops)", run_surb_create, routes[4], 0},
        [S_USE] = {"SURB use", run_surb_use, routes[4], 0},
        [S_OPEN] = {"SURB open (6 hops)", run_surb_open, routes[5], 0},
    };
    for (int i = 0; i < ITEMS; i++) calibrate(&items[i], seconds);
    fprintf(stderr, "bench_sphinx: %d rounds of %d items, %.2f s each\n", rounds, ITEMS, seconds);
    run_rounds(items, ITEMS, rounds);

    /* Each ratio is the median of its per-round ratios: both sides of one
     * round ran within a fraction of a second of each other. */
    const double us = 1e6;
    double per_round[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) per_round[r] = items[P_SODIUM].mean[r] / items[F_SODIUM].mean[r];
    const double ratio_sodium = median(per_round, rounds);
    for (int r = 0; r < rounds; r++) per_round[r] = items[P_LIBCRYPTO].mean[r] / items[F_LIBCRYPTO].mean[r];
    const double ratio_libcrypto = median(per_round, rounds);
    /* create against the multiplications alone (the target), and against
     * them plus the n LIONESS encryptions of the payload that the spec also
     * requires (6.6), which the multiplications alone leave out. */
    double create_ratio[CREATE_ROUTES], create_lioness_ratio[CREATE_ROUTES];
    const int create_items[CREATE_ROUTES] = {C1, C3, C4, C5, C6};
    for (int i = 0; i < CREATE_ROUTES; i++) {
        const double n = (double)route_hops[i];
        for (int r = 0; r < rounds; r++)
            per_round[r] = items[create_items[i]].mean[r] / (items[M_BASE].mean[r] + n * (n + 1) / 2 * items[M_VAR].mean[r]);
        create_ratio[i] = median(per_round, rounds);
        for (int r = 0; r < rounds; r++)
            per_round[r] = items[create_items[i]].mean[r] /
                           (items[M_BASE].mean[r] + n * (n + 1) / 2 * items[M_VAR].mean[r] + n * items[LIONESS].mean[r]);
        create_lioness_ratio[i] = median(per_round, rounds);
    }
    char cpu[256];
    cpu_model(cpu, sizeof cpu);

    printf("loopix_sphinx %s, libsodium %s, %s\n", lsx_version(), sodium_version_string(),
           OpenSSL_version(OPENSSL_VERSION));
    printf("CPU: %s; geometry H=%u P=%u (%zu-byte packets); medians of %d interleaved rounds\n\n", cpu,
           geometry.hops, geometry.payload, packet_bytes, rounds);
    printf("%-24s %12s %12s %10s\n", "item", "us/op", "ops/s", "calls/rnd");
    for (int i = 0; i < ITEMS; i++)
        printf("%-24s %12.2f %12.0f %10zu\n", items[i].name, items[i].median * us, 1.0 / items[i].median,
               items[i].n);
    printf("\n%-44s %8s %8s\n", "ratio", "value", "target");
    printf("%-44s %8.3f %8s\n", "process / floor (sodium)", ratio_sodium, "<= 1.10");
    printf("%-44s %8.3f %8s\n", "process / floor (libcrypto)", ratio_libcrypto, "<= 1.10");
    printf("%-44s %8.3f %8s\n", "process (libcrypto) / process (sodium)",
           items[P_LIBCRYPTO].median / items[P_SODIUM].median, "");
    for (int i = 0; i < CREATE_ROUTES; i++) {
        char label[64];
        snprintf(label, sizeof label, "create %zu hop%s / (1 base + %zu var mults)", route_hops[i],
                 route_hops[i] == 1 ? "" : "s", route_hops[i] * (route_hops[i] + 1) / 2);
        printf("%-44s %8.3f %8s\n", label, create_ratio[i], "<= 1.15");
    }
    for (int i = 0; i < CREATE_ROUTES; i++) {
        char label[64];
        snprintf(label, sizeof label, "create %zu hop%s / (those mults + %zu LIONESS)", route_hops[i],
                 route_hops[i] == 1 ? "" : "s", route_hops[i]);
        printf("%-44s %8.3f %8s\n", label, create_lioness_ratio[i], "");
    }

    if (json) {
        printf("{\"bench\":\"loopix_sphinx\",\"version\":\"%s\",\"cpu\":\"%s\",\"rounds\":%d,\"hops\":%u,"
               "\"payload\":%u,\"us_per_op\":{",
               lsx_version(), cpu, rounds, geometry.hops, geometry.payload);
        for (int i = 0; i < ITEMS; i++) printf("%s\"%s\":%.3f", i ? "," : "", items[i].name, items[i].median * us);
        printf("},\"ratios\":{\"process_floor_sodium\":%.4f,\"process_floor_libcrypto\":%.4f", ratio_sodium,
               ratio_libcrypto);
        for (int i = 0; i < CREATE_ROUTES; i++) printf(",\"create_%zu_required\":%.4f", route_hops[i], create_ratio[i]);
        for (int i = 0; i < CREATE_ROUTES; i++)
            printf(",\"create_%zu_required_with_lioness\":%.4f", route_hops[i], create_lioness_ratio[i]);
        printf("}}\n");
    }

    bench_noise(&proc_sodium, rounds, seconds, json);

    lsx_node_destroy(proc_sodium.node);
    lsx_node_destroy(proc_libcrypto.node);
    lsx_replay_filter_destroy(proc_sodium.filter);
    lsx_replay_filter_destroy(proc_libcrypto.filter);
    EVP_PKEY_free(floor->evp_node);
    free(proc_sodium.out);
    free(proc_libcrypto.out);
    free(packets);
    free(floor);
    free(stock_route);
    for (int i = 0; i < CREATE_ROUTES + 1; i++) free(routes[i]);
    return 0;
}
