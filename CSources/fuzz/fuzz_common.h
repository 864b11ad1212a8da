/* What the fuzz targets and their seed writer share: the fixed node keys, the
 * suites and geometries an input can pick, and checks that hold for any call. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include "loopix_sphinx.h"
#include "lsx_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The packet suites an input picks with one bit (which bit, each target
 * says), and per suite the geometries it picks with its first byte's two low
 * bits: the default, the small one, the largest route, and the default again
 * (so that half of all inputs use it). */
#define FUZZ_SUITES 2
#define FUZZ_GEOMETRIES 4
static const lsx_suite fuzz_suites[FUZZ_SUITES] = {LSX_SUITE_V1, LSX_SUITE_KEM_X25519};
static const lsx_geometry fuzz_geometries[FUZZ_SUITES][FUZZ_GEOMETRIES] = {
    {{6, 2048, LSX_SUITE_V1}, {2, 64, LSX_SUITE_V1}, {16, 64, LSX_SUITE_V1}, {6, 2048, LSX_SUITE_V1}},
    {{6, 2048, LSX_SUITE_KEM_X25519},
     {2, 64, LSX_SUITE_KEM_X25519},
     {16, 64, LSX_SUITE_KEM_X25519},
     {6, 2048, LSX_SUITE_KEM_X25519}},
};
/* The largest packet any of them makes. */
#define FUZZ_MAX_PACKET LSX_SUITE_PACKET_BYTES(LSX_SUITE_KEM_X25519, LSX_MAX_HOPS, 2048)

/* Bytes each hop of a structured input takes: flag, delay, a seed for the
 * address, a byte for the command's first reserved byte. */
#define FUZZ_HOP_FLAG 0
#define FUZZ_HOP_DELAY (FUZZ_HOP_FLAG + LSX_COMMAND_FLAG_BYTES)
#define FUZZ_HOP_ADDRESS_SEED (FUZZ_HOP_DELAY + LSX_COMMAND_DELAY_BYTES)
#define FUZZ_HOP_RESERVED (FUZZ_HOP_ADDRESS_SEED + 1)
#define FUZZ_HOP_BYTES (FUZZ_HOP_RESERVED + 1)

/* The fixed secret key of route position `i`: BLAKE2b("loopix-sphinx-fuzz/node" || i). */
static inline void fuzz_node_secret(uint8_t secret[LSX_KEY_BYTES], unsigned i) {
    uint8_t label[32];
    int n = snprintf((char *)label, sizeof label, "loopix-sphinx-fuzz/node%u", i);
    crypto_generichash(secret, LSX_KEY_BYTES, label, (size_t)n, NULL, 0);
}

/* A fuzz input read front to back; bytes past its end read as zero, so that
 * every input, however short, decodes to something. */
typedef struct fuzz_reader {
    const uint8_t *data;
    size_t size, pos;
} fuzz_reader;

static inline void fuzz_read_bytes(fuzz_reader *r, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++, r->pos++) out[i] = r->pos < r->size ? r->data[r->pos] : 0;
}

static inline uint8_t fuzz_read_byte(fuzz_reader *r) {
    uint8_t b;
    fuzz_read_bytes(r, &b, 1);
    return b;
}

/* The next `bytes` bytes as a big-endian number. */
static inline size_t fuzz_read_number(fuzz_reader *r, size_t bytes) {
    size_t value = 0;
    for (size_t i = 0; i < bytes; i++, r->pos++) value = value << 8 | (r->pos < r->size ? r->data[r->pos] : 0);
    return value;
}

/* Aborts with a message: what libFuzzer reports as a crash. */
#define FUZZ_ASSERT(cond)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* An element (alpha, or an encapsulation) in its suite's one accepted
 * encoding: what every packet a node puts out must carry. */
static inline int fuzz_element_canonical(lsx_suite suite, const uint8_t *element) {
    if (suite == LSX_SUITE_KEM_X25519) return lsxi_kem_x25519.check(element) == LSX_OK;
    return (element[LSXI_ALPHA_TOP_BYTE] & LSXI_ALPHA_TOP_BIT) == 0;
}

/* Every return code is 0 or one of the enum's named errors. */
static inline void fuzz_check_code(int rc) {
    FUZZ_ASSERT(rc <= 0);
    FUZZ_ASSERT(strcmp(lsx_error_name(rc), "unknown_error") != 0);
}

/* Decodes one hop of a structured input into a 48-byte command and returns
 * what a node must answer for it. Mostly valid, so that mutations keep
 * reaching deep: a flag byte with its top bit clear picks one of the four
 * flags, with the top bit set it is taken raw (0x80..0xff: unknown); a
 * reserved byte with its top bit set goes into the command's first reserved
 * byte. */
static inline int fuzz_command(uint8_t command[LSX_COMMAND_BYTES], const uint8_t in[FUZZ_HOP_BYTES],
                                   unsigned hop) {
    const uint8_t selector = in[FUZZ_HOP_FLAG], reserved = in[FUZZ_HOP_RESERVED];
    const uint8_t flag = (selector & 0x80) ? selector : (uint8_t)(LSX_FLAG_RELAY + selector % 4);
    memset(command, 0, LSX_COMMAND_BYTES);
    command[LSXI_COMMAND_FLAG_OFFSET] = flag;
    memcpy(command + LSXI_COMMAND_DELAY_OFFSET, in + FUZZ_HOP_DELAY, LSX_COMMAND_DELAY_BYTES);
    memset(command + LSXI_COMMAND_ADDRESS_OFFSET, in[FUZZ_HOP_ADDRESS_SEED], LSX_ADDRESS_BYTES);
    command[LSXI_COMMAND_ADDRESS_OFFSET] ^= (uint8_t)hop;
    if (reserved & 0x80) command[LSXI_COMMAND_RESERVED_OFFSET] = reserved;
    if (flag < LSX_FLAG_RELAY || flag > LSX_FLAG_FINAL) return LSX_ERR_FLAG;
    if (reserved & 0x80) return LSX_ERR_RESERVED;
    return LSX_OK;
}

#endif
