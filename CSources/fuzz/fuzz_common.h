/* What the fuzz targets and their seed writer share: the fixed node keys, the
 * geometries an input can pick, and checks that hold for any call. */
#ifndef LSX_FUZZ_COMMON_H
#define LSX_FUZZ_COMMON_H

#include "loopix_sphinx.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Geometries an input picks with its first byte's two low bits: the default,
 * the small one, the largest route, and the default again (so that half of
 * all inputs use it). */
static const lsx_geometry lsx_fuzz_geometries[4] = {{6, 2048}, {2, 64}, {16, 64}, {6, 2048}};

/* Bytes each hop of a structured input takes: flag, delay (4), a seed for
 * the address, a byte for the command's first reserved byte. */
#define LSX_FUZZ_HOP_BYTES 7

/* The fixed secret key of route position `i`: BLAKE2b("loopix-sphinx-fuzz/node" || i). */
static inline void lsx_fuzz_node_secret(uint8_t secret[LSX_KEY_BYTES], unsigned i) {
    uint8_t label[32];
    int n = snprintf((char *)label, sizeof label, "loopix-sphinx-fuzz/node%u", i);
    crypto_generichash(secret, LSX_KEY_BYTES, label, (size_t)n, NULL, 0);
}

/* Aborts with a message: what libFuzzer reports as a crash. */
#define LSX_FUZZ_ASSERT(cond)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Every return code is 0 or one of the enum's named errors. */
static inline void lsx_fuzz_check_code(int rc) {
    LSX_FUZZ_ASSERT(rc <= 0);
    LSX_FUZZ_ASSERT(strcmp(lsx_error_name(rc), "unknown_error") != 0);
}

/* Decodes one hop of a structured input into a 48-byte command and returns
 * what a node must answer for it. Mostly valid, so that mutations keep
 * reaching deep: a flag byte with its top bit clear picks one of the four
 * flags, with the top bit set it is taken raw (0x80..0xff: unknown); a
 * reserved byte with its top bit set goes into the command's first reserved
 * byte. */
static inline int lsx_fuzz_command(uint8_t command[LSX_COMMAND_BYTES], const uint8_t in[LSX_FUZZ_HOP_BYTES],
                                   unsigned hop) {
    const uint8_t flag = (in[0] & 0x80) ? in[0] : (uint8_t)(LSX_FLAG_RELAY + in[0] % 4);
    memset(command, 0, LSX_COMMAND_BYTES);
    command[0] = flag;
    memcpy(command + 1, in + 1, 4);
    memset(command + 5, in[5], LSX_ADDRESS_BYTES);
    command[5] ^= (uint8_t)hop;
    if (in[6] & 0x80) command[5 + LSX_ADDRESS_BYTES] = in[6];
    if (flag < LSX_FLAG_RELAY || flag > LSX_FLAG_FINAL) return LSX_ERR_FLAG;
    if (in[6] & 0x80) return LSX_ERR_RESERVED;
    return LSX_OK;
}

#endif
