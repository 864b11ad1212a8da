/* Writes starting corpora for the fuzz targets, for every packet suite: real
 * packets, blocks and secrets for the fixed node keys (so that raw-byte
 * mutations start past the MAC), and structured inputs for the made-route
 * modes.
 * Usage: make_seeds PROCESS_DIR SURB_DIR */
#include "fuzz_common.h"

#include <errno.h>
#include <sys/stat.h>

#define MAX_NODES LSX_MAX_HOPS
#define MAX_PACKET FUZZ_MAX_PACKET
#define MAX_SURB LSX_SUITE_SURB_BYTES(LSX_SUITE_KEM_X25519, LSX_MAX_HOPS)
#define SEED_GEOMETRIES 3 /* the fourth is the first again */

static uint8_t public_keys[MAX_NODES * LSX_KEY_BYTES];
static lsx_node *nodes[FUZZ_SUITES][SEED_GEOMETRIES][MAX_NODES];
static const char *dirs[2];
static unsigned written;

static void write_seed(int dir, const char *name, const uint8_t *head, size_t head_len, const uint8_t *body,
                       size_t body_len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%s", dirs[dir], name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(head, 1, head_len, f) != head_len ||
        (body_len > 0 && fwrite(body, 1, body_len, f) != body_len) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    written++;
}

/* A valid route over nodes 0..hops-1: RELAY ..., the last one `last_flag`. */
static void route_commands(uint8_t *commands, size_t hops, uint8_t last_flag) {
    for (size_t i = 0; i < hops; i++) {
        uint8_t address[LSX_ADDRESS_BYTES];
        memset(address, (int)(0x10 + i), sizeof address);
        if (lsx_command_encode(commands + i * LSX_COMMAND_BYTES, i + 1 == hops ? last_flag : LSX_FLAG_RELAY,
                               (uint32_t)(1000 * i), address) != LSX_OK)
            exit(1);
    }
}

/* The structured part of a made-route input: hops, the suite's ephemeral
 * randomness, [change], hop bytes. */
static size_t route_input(uint8_t *out, const lsx_geometry *g, size_t hops, int with_change, uint16_t at,
                          uint8_t mask, uint8_t last) {
    size_t n = 0;
    out[n++] = (uint8_t)(hops - 1);
    for (size_t i = 0; i < lsx_ephemeral_bytes(g, hops); i++) out[n++] = (uint8_t)(i * 7 + hops);
    if (with_change) {
        out[n++] = (uint8_t)(at >> 8);
        out[n++] = (uint8_t)at;
        out[n++] = mask;
    }
    for (size_t i = 0; i < hops; i++) {
        /* flag selector: 0 RELAY .. 3 FINAL (fuzz_common.h) */
        out[n++] = i + 1 == hops ? last : 0;
        out[n++] = 0;
        out[n++] = 0;
        out[n++] = (uint8_t)(i >> 8);
        out[n++] = (uint8_t)i;
        out[n++] = (uint8_t)(0x20 + i);
        out[n++] = 0;
    }
    return n;
}

/* Every seed of one suite (fuzz_process: its second byte; fuzz_surb: bit 5 of its first). */
static int suite_seeds(int suite) {
    static uint8_t packet[MAX_PACKET], out[MAX_PACKET], buf[2 + MAX_PACKET + 4096];
    static const char message[] = "a message that the fuzzer can grow, shrink and change";
    const char *tag = suite == 0 ? "v1" : "kem";
    const uint8_t surb_suite = (uint8_t)(suite << 5);
    for (int g = 0; g < SEED_GEOMETRIES; g++) {
        const lsx_geometry *geo = &fuzz_geometries[suite][g];
        const size_t total = lsx_packet_bytes(geo), header = lsx_header_bytes(geo);
        const size_t hops = geo->hops, message_len = sizeof message - 1 < LSX_MAX_MESSAGE_BYTES(geo->payload)
                                                          ? sizeof message - 1
                                                          : LSX_MAX_MESSAGE_BYTES(geo->payload);
        uint8_t commands[MAX_NODES * LSX_COMMAND_BYTES], first_hop[LSX_ADDRESS_BYTES], name[64], setting[2];
        lsx_processed r;
        setting[1] = (uint8_t)suite;

        /* Raw packets for node 0: every setting of filter, placement and backend. */
        route_commands(commands, hops, LSX_FLAG_FINAL);
        if (lsx_create_packet(packet, total, geo, hops, public_keys, commands, (const uint8_t *)message, message_len,
                              NULL, 0) != LSX_OK)
            return 1;
        for (int s = 0; s < 32; s++) {
            setting[0] = (uint8_t)(g | (s & 1) << 2 | ((s >> 1) & 3) << 3 | ((s >> 3) & 1) << 5 | ((s >> 4) & 1) << 7);
            snprintf((char *)name, sizeof name, "%s-raw-g%d-%02x", tag, g, setting[0]);
            write_seed(0, (char *)name, setting, 2, packet, total);
        }
        /* The same packet one hop on (node 0 must refuse it: the MAC is node 1's). */
        if (lsx_process(out, total, &r, nodes[suite][g][0], NULL, packet, total) != LSX_OK) return 1;
        setting[0] = (uint8_t)g;
        snprintf((char *)name, sizeof name, "%s-raw-g%d-next-hop", tag, g);
        write_seed(0, (char *)name, setting, 2, out, total);
        /* A 1-hop FINAL packet, what its hop puts out, and a cover packet. */
        route_commands(commands, 1, LSX_FLAG_FINAL);
        if (lsx_create_packet(packet, total, geo, 1, public_keys, commands, (const uint8_t *)message, message_len,
                              NULL, 0) != LSX_OK)
            return 1;
        snprintf((char *)name, sizeof name, "%s-raw-g%d-final", tag, g);
        write_seed(0, (char *)name, setting, 2, packet, total);
        if (lsx_process(out, total, &r, nodes[suite][g][0], NULL, packet, total) != LSX_OK) return 1;
        snprintf((char *)name, sizeof name, "%s-raw-g%d-final-output", tag, g);
        write_seed(0, (char *)name, setting, 2, out, total);
        if (lsx_create_dummy(packet, total, geo) != LSX_OK) return 1;
        snprintf((char *)name, sizeof name, "%s-raw-g%d-dummy", tag, g);
        write_seed(0, (char *)name, setting, 2, packet, total);

        /* Made routes: each last flag, full and short routes, with and without a change. */
        for (uint8_t last = 0; last < 4; last++) {
            for (size_t n = 1; n <= hops; n = n < 3 ? n + 1 : n + 3) {
                for (int change = 0; change < 2; change++) {
                    buf[0] = (uint8_t)(g | (2 + change) << 5 | (last & 1) << 2);
                    buf[1] = (uint8_t)suite;
                    size_t len = 2 + route_input(buf + 2, geo, n, change, (uint16_t)(change ? header + 40 : 0), 1, last);
                    memcpy(buf + len, message, message_len);
                    snprintf((char *)name, sizeof name, "%s-route-g%d-n%zu-f%u-c%d", tag, g, n, last, change);
                    write_seed(0, (char *)name, buf, len + message_len, NULL, 0);
                    /* Reply blocks need a FINAL last hop. */
                    if (last != 3) continue;
                    buf[0] = (uint8_t)(g | (2 + change) << 2 | surb_suite);
                    len = 1 + route_input(buf + 1, geo, n, 1, (uint16_t)(change ? 5 : 0), change ? 0x40 : 0, last);
                    memcpy(buf + len, message, message_len);
                    snprintf((char *)name, sizeof name, "%s-real-g%d-n%zu-c%d", tag, g, n, change);
                    write_seed(1, (char *)name, buf, len + message_len, NULL, 0);
                }
            }
        }

        /* A real block (use mode) and a delivered reply with its secret (open mode). */
        static uint8_t surb[MAX_SURB], secret[LSX_SURB_SECRET_BYTES(LSX_MAX_HOPS)];
        const size_t surb_len = lsx_surb_bytes(geo), secret_len = lsx_surb_secret_bytes(geo);
        route_commands(commands, hops, LSX_FLAG_FINAL);
        memset(first_hop, 0x42, sizeof first_hop);
        if (lsx_surb_create(surb, surb_len, secret, secret_len, geo, hops, public_keys, commands, first_hop, NULL, 0,
                            NULL) != LSX_OK)
            return 1;
        uint8_t use_head[3] = {(uint8_t)(g | surb_suite), 0, (uint8_t)message_len};
        snprintf((char *)name, sizeof name, "%s-use-g%d", tag, g);
        write_seed(1, (char *)name, use_head, 3, surb, surb_len);
        if (lsx_surb_use(packet, total, first_hop, geo, surb, surb_len, (const uint8_t *)message, message_len) !=
            LSX_OK)
            return 1;
        for (size_t i = 0; i < hops; i++) {
            if (lsx_process(out, total, &r, nodes[suite][g][i], NULL, packet, total) != LSX_OK) return 1;
            memcpy(packet, out, total);
        }
        buf[0] = (uint8_t)(g | 1 << 2 | surb_suite);
        memcpy(buf + 1, secret, secret_len);
        memcpy(buf + 1 + secret_len, packet + header, geo->payload);
        snprintf((char *)name, sizeof name, "%s-open-g%d", tag, g);
        write_seed(1, (char *)name, buf, 1 + secret_len + geo->payload, NULL, 0);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PROCESS_DIR SURB_DIR\n", argv[0]);
        return 2;
    }
    dirs[0] = argv[1];
    dirs[1] = argv[2];
    if (lsx_init() != LSX_OK || lsx_set_backend(LSX_BACKEND_SODIUM) != LSX_OK) return 1;
    for (unsigned i = 0; i < MAX_NODES; i++) {
        uint8_t secret[LSX_KEY_BYTES];
        fuzz_node_secret(secret, i);
        if (lsx_public_key(public_keys + i * LSX_KEY_BYTES, secret) != LSX_OK) return 1;
        for (int s = 0; s < FUZZ_SUITES; s++)
            for (int g = 0; g < SEED_GEOMETRIES; g++)
                if (lsx_node_create(&nodes[s][g][i], &fuzz_geometries[s][g], secret) != LSX_OK) return 1;
    }
    for (int s = 0; s < FUZZ_SUITES; s++)
        if (suite_seeds(s) != 0) return 1;
    printf("make_seeds: %u seeds in %s and %s\n", written, dirs[0], dirs[1]);
    return 0;
}
