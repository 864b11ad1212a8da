/* Where each field of a replay filter's header sits (docs/c-api.md, "Replay
 * filter"), for the filter itself and for the tests and the fuzz target that
 * write hostile headers. Internal: not installed. */
#ifndef LSXI_REPLAY_FILTER_LAYOUT_H
#define LSXI_REPLAY_FILTER_LAYOUT_H

#include "loopix_sphinx.h"

/* The fields written once (magic to hash key) are big-endian and covered by
 * a BLAKE2b digest; the boot id and the state change when a process attaches
 * or closes the filter; the count and the blocks' words are atomics in the
 * host's byte order (the memory never leaves its host: its page cache is the
 * point). The rest of the header is zeros. */
#define LSXI_RF_MAGIC "LOOPIXRF"
#define LSXI_RF_LAYOUT_VERSION 1
#define LSXI_RF_MAGIC_OFFSET 0
#define LSXI_RF_MAGIC_BYTES 8
#define LSXI_RF_VERSION_OFFSET (LSXI_RF_MAGIC_OFFSET + LSXI_RF_MAGIC_BYTES)
#define LSXI_RF_VERSION_BYTES 4
#define LSXI_RF_BITS_OFFSET (LSXI_RF_VERSION_OFFSET + LSXI_RF_VERSION_BYTES)
#define LSXI_RF_BITS_BYTES 4
#define LSXI_RF_CAPACITY_OFFSET (LSXI_RF_BITS_OFFSET + LSXI_RF_BITS_BYTES)
#define LSXI_RF_CAPACITY_BYTES 8
#define LSXI_RF_BLOCKS_OFFSET (LSXI_RF_CAPACITY_OFFSET + LSXI_RF_CAPACITY_BYTES)
#define LSXI_RF_BLOCKS_BYTES 8
#define LSXI_RF_EPOCH_OFFSET (LSXI_RF_BLOCKS_OFFSET + LSXI_RF_BLOCKS_BYTES)
#define LSXI_RF_EPOCH_BYTES 8
#define LSXI_RF_KEY_OFFSET (LSXI_RF_EPOCH_OFFSET + LSXI_RF_EPOCH_BYTES)
#define LSXI_RF_KEY_BYTES 32 /* the BLAKE2b key that places tags */
#define LSXI_RF_DIGEST_OFFSET (LSXI_RF_KEY_OFFSET + LSXI_RF_KEY_BYTES) /* BLAKE2b of bytes [0, here) */
#define LSXI_RF_DIGEST_BYTES 16
#define LSXI_RF_BOOT_ID_OFFSET (LSXI_RF_DIGEST_OFFSET + LSXI_RF_DIGEST_BYTES)
#define LSXI_RF_STATE_OFFSET (LSXI_RF_BOOT_ID_OFFSET + LSX_REPLAY_BOOT_ID_BYTES)
#define LSXI_RF_STATE_BYTES 4
/* The count on a cache line of its own: every insert writes it. */
#define LSXI_RF_COUNT_OFFSET 128
#define LSXI_RF_COUNT_BYTES 8
#define LSXI_RF_BLOCKS_START LSX_REPLAY_FILTER_HEADER_BYTES
/* The states, each the other's complement, so that no few flipped bits turn
 * one into the other. */
#define LSXI_RF_STATE_OPEN UINT32_C(0x4f50454e) /* "OPEN": in use, or its process ended without closing it */
#define LSXI_RF_STATE_CLEAN UINT32_C(0xb0afbab1) /* closed after every block was made durable */

_Static_assert(LSXI_RF_STATE_OPEN == (uint32_t)~LSXI_RF_STATE_CLEAN, "the states are complements");
_Static_assert(LSXI_RF_STATE_OFFSET + LSXI_RF_STATE_BYTES <= LSXI_RF_COUNT_OFFSET, "the fields come before the count");
_Static_assert(LSXI_RF_COUNT_OFFSET % LSX_REPLAY_FILTER_BLOCK_BYTES == 0 &&
                   LSXI_RF_COUNT_OFFSET + LSX_REPLAY_FILTER_BLOCK_BYTES <= LSX_REPLAY_FILTER_HEADER_BYTES,
               "the count has a cache line of its own inside the header");
_Static_assert(LSX_REPLAY_FILTER_HEADER_BYTES % LSX_REPLAY_FILTER_ALIGNMENT == 0 &&
                   LSX_REPLAY_FILTER_ALIGNMENT % LSX_REPLAY_FILTER_BLOCK_BYTES == 0,
               "blocks start on a cache line");

#endif
