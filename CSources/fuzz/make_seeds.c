/* Writes starting corpora for the fuzz targets: real packets, blocks and
 * secrets for the fixed node keys (so that raw-byte mutations start past the
 * MAC), and structured inputs for the made-route modes.
 * Usage: make_seeds PROCESS_DIR SURB_DIR */
#include "fuzz_common.h"

#include <errno.h>
#include <sys/stat.h>

#define MAX_NODES LSX_MAX_HOPS
#define MAX_PACKET LSX_PACKET_BYTES(LSX_MAX_HOPS, 2048)

static uint8_t public_keys[MAX_NODES * LSX_KEY_BYTES];
static lsx_node *nodes[3][MAX_NODES];
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

/* The structured part of a made-route input: hops, secret, [change], hop bytes. */
static size_t route_input(uint8_t *out, size_t hops, int with_change, uint16_t at, uint8_t mask, uint8_t last) {
    size_t n = 0;
    out[n++] = (uint8_t)(hops - 1);
    for (int i = 0; i < LSX_SECRET_BYTES; i++) out[n++] = (uint8_t)(i * 7 + hops);
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

int main(int argc, char **argv) {
    static uint8_t packet[MAX_PACKET], out[MAX_PACKET], buf[1 + MAX_PACKET + 4096];
    static const char message[] = "a message that the fuzzer can grow, shrink and change";
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
        for (int g = 0; g < 3; g++)
            if (lsx_node_create(&nodes[g][i], &fuzz_geometries[g], secret) != LSX_OK) return 1;
    }

    for (int g = 0; g < 3; g++) {
        const lsx_geometry *geo = &fuzz_geometries[g];
        const size_t total = LSX_PACKET_BYTES(geo->hops, geo->payload), header = LSX_HEADER_BYTES(geo->hops);
        const size_t hops = geo->hops, message_len = sizeof message - 1 < LSX_MAX_MESSAGE_BYTES(geo->payload)
                                                          ? sizeof message - 1
                                                          : LSX_MAX_MESSAGE_BYTES(geo->payload);
        uint8_t commands[MAX_NODES * LSX_COMMAND_BYTES], first_hop[LSX_ADDRESS_BYTES], name[64], setting;
        lsx_processed r;

        /* Raw packets for node 0: every setting of filter, placement and backend. */
        route_commands(commands, hops, LSX_FLAG_FINAL);
        if (lsx_create_packet(packet, total, geo, hops, public_keys, commands, (const uint8_t *)message, message_len,
                              NULL) != LSX_OK)
            return 1;
        for (int s = 0; s < 32; s++) {
            setting = (uint8_t)(g | (s & 1) << 2 | ((s >> 1) & 3) << 3 | ((s >> 3) & 1) << 5 | ((s >> 4) & 1) << 7);
            snprintf((char *)name, sizeof name, "raw-g%d-%02x", g, setting);
            write_seed(0, (char *)name, &setting, 1, packet, total);
        }
        /* The same packet one hop on (node 0 must refuse it: the MAC is node 1's). */
        if (lsx_process(out, total, &r, nodes[g][0], NULL, packet, total) != LSX_OK) return 1;
        setting = (uint8_t)g;
        snprintf((char *)name, sizeof name, "raw-g%d-next-hop", g);
        write_seed(0, (char *)name, &setting, 1, out, total);
        /* A 1-hop FINAL packet, and a cover packet. */
        route_commands(commands, 1, LSX_FLAG_FINAL);
        if (lsx_create_packet(packet, total, geo, 1, public_keys, commands, (const uint8_t *)message, message_len,
                              NULL) != LSX_OK)
            return 1;
        snprintf((char *)name, sizeof name, "raw-g%d-final", g);
        write_seed(0, (char *)name, &setting, 1, packet, total);
        if (lsx_create_dummy(packet, total, geo) != LSX_OK) return 1;
        snprintf((char *)name, sizeof name, "raw-g%d-dummy", g);
        write_seed(0, (char *)name, &setting, 1, packet, total);

        /* Made routes: each last flag, full and short routes, with and without a change. */
        for (uint8_t last = 0; last < 4; last++) {
            for (size_t n = 1; n <= hops; n = n < 3 ? n + 1 : n + 3) {
                for (int change = 0; change < 2; change++) {
                    buf[0] = (uint8_t)(g | (2 + change) << 5 | (last & 1) << 2);
                    size_t len = 1 + route_input(buf + 1, n, change, (uint16_t)(change ? header + 40 : 0), 1, last);
                    memcpy(buf + len, message, message_len);
                    snprintf((char *)name, sizeof name, "route-g%d-n%zu-f%u-c%d", g, n, last, change);
                    write_seed(0, (char *)name, buf, len + message_len, NULL, 0);
                    /* Reply blocks need a FINAL last hop. */
                    if (last != 3) continue;
                    buf[0] = (uint8_t)(g | (2 + change) << 2);
                    len = 1 + route_input(buf + 1, n, 1, (uint16_t)(change ? 5 : 0), change ? 0x40 : 0, last);
                    memcpy(buf + len, message, message_len);
                    snprintf((char *)name, sizeof name, "real-g%d-n%zu-c%d", g, n, change);
                    write_seed(1, (char *)name, buf, len + message_len, NULL, 0);
                }
            }
        }

        /* A real block (use mode) and a delivered reply with its secret (open mode). */
        static uint8_t surb[LSX_SURB_BYTES(LSX_MAX_HOPS)], secret[LSX_SURB_SECRET_BYTES(LSX_MAX_HOPS)];
        const size_t surb_len = LSX_SURB_BYTES(hops), secret_len = LSX_SURB_SECRET_BYTES(hops);
        route_commands(commands, hops, LSX_FLAG_FINAL);
        memset(first_hop, 0x42, sizeof first_hop);
        if (lsx_surb_create(surb, surb_len, secret, secret_len, geo, hops, public_keys, commands, first_hop, NULL,
                            NULL) != LSX_OK)
            return 1;
        uint8_t use_head[3] = {(uint8_t)g, 0, (uint8_t)message_len};
        snprintf((char *)name, sizeof name, "use-g%d", g);
        write_seed(1, (char *)name, use_head, 3, surb, surb_len);
        if (lsx_surb_use(packet, total, first_hop, geo, surb, surb_len, (const uint8_t *)message, message_len) !=
            LSX_OK)
            return 1;
        for (size_t i = 0; i < hops; i++) {
            if (lsx_process(out, total, &r, nodes[g][i], NULL, packet, total) != LSX_OK) return 1;
            memcpy(packet, out, total);
        }
        buf[0] = (uint8_t)(g | 1 << 2);
        memcpy(buf + 1, secret, secret_len);
        memcpy(buf + 1 + secret_len, packet + header, geo->payload);
        snprintf((char *)name, sizeof name, "open-g%d", g);
        write_seed(1, (char *)name, buf, 1 + secret_len + geo->payload, NULL, 0);
    }
    printf("make_seeds: %u seeds in %s and %s\n", written, dirs[0], dirs[1]);
    return 0;
}
