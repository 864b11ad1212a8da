/* The replay filter: a blocked Bloom filter (one 64-byte cache line per
 * tag) keyed with a random BLAKE2b key, sized from a capacity and a target
 * false-positive rate, refusing new tags once full. */
#include "lsx_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

/* A block is one cache line of 64-bit words; a bit inside it is named by
 * LSXI_BIT_INDEX_BITS bits of the tag's hash. */
#define LSXI_BLOCK_BYTES 64
#define LSXI_BLOCK_BITS (LSXI_BLOCK_BYTES * 8)
#define LSXI_WORD_BITS 64
#define LSXI_BLOCK_WORDS (LSXI_BLOCK_BITS / LSXI_WORD_BITS)
#define LSXI_BIT_INDEX_BITS 9 /* log2(LSXI_BLOCK_BITS) */
#define LSXI_MAX_BITS_PER_TAG 32
#define LSXI_MAX_CAPACITY (UINT64_C(1) << 36)
#define LSXI_CAPACITY_HEADROOM 1.25
/* The hash of a tag: the block index, then a bit index per bit set. */
#define LSXI_BLOCK_INDEX_BYTES sizeof(uint64_t)
#define LSXI_PROBE_HASH_BYTES (LSXI_BLOCK_INDEX_BYTES + (LSXI_MAX_BITS_PER_TAG * LSXI_BIT_INDEX_BITS + 7) / 8)

_Static_assert(LSXI_BLOCK_BITS == 1 << LSXI_BIT_INDEX_BITS, "a bit index names every bit of a block");

struct lsx_replay_filter {
    pthread_mutex_t lock;
    uint64_t *blocks;      /* block_count * LSXI_BLOCK_WORDS words */
    uint64_t block_count;
    uint32_t bits_per_tag; /* k */
    uint64_t capacity;
    uint64_t count;
    uint64_t epoch;
    double false_positive_rate; /* when full */
    uint8_t hash_key[crypto_generichash_KEYBYTES];
};

/* False-positive rate of a blocked Bloom filter holding n tags in `blocks`
 * blocks of LSXI_BLOCK_BITS bits with k independent bit positions per tag:
 * the number of tags in the block a query lands in is Poisson with mean
 * n/blocks, and each of them leaves a given bit clear with probability
 * (1 - 1/LSXI_BLOCK_BITS)^k. */
static double blocked_bloom_fpr(double n, double blocks, unsigned k) {
    const double lambda = n / blocks;
    const double keep = pow(1.0 - 1.0 / LSXI_BLOCK_BITS, (double)k);
    double sum = 0.0, weight = exp(-lambda); /* P(j = 0) */
    const unsigned limit = (unsigned)(lambda + 12.0 * sqrt(lambda + 1.0) + 24.0);
    for (unsigned j = 0; j <= limit; j++) {
        if (j > 0) weight *= lambda / j;
        sum += weight * pow(1.0 - pow(keep, (double)j), (double)k);
    }
    return sum;
}

/* Bits per tag are tried on a grid of 1/4 bit from 2 to 96. */
#define LSXI_GRID_MIN_BITS 2
#define LSXI_GRID_MAX_BITS 96
#define LSXI_GRID_STEPS_PER_BIT 4
#define LSXI_GRID_STEPS ((LSXI_GRID_MAX_BITS - LSXI_GRID_MIN_BITS) * LSXI_GRID_STEPS_PER_BIT)

static uint64_t grid_blocks(uint64_t capacity, unsigned step) {
    const double bits_per_tag = LSXI_GRID_MIN_BITS + (double)step / LSXI_GRID_STEPS_PER_BIT;
    uint64_t b = (uint64_t)ceil((double)capacity * bits_per_tag / LSXI_BLOCK_BITS);
    return b == 0 ? 1 : b;
}

/* The k (1...LSXI_MAX_BITS_PER_TAG) with the lowest false-positive rate
 * among those that reach `target` with `blocks` blocks (its rate in *fpr),
 * or 0 if none does. */
static unsigned best_k(double *fpr, uint64_t capacity, uint64_t blocks, double target) {
    unsigned best = 0;
    double best_fpr = 1.0;
    for (unsigned k = 1; k <= LSXI_MAX_BITS_PER_TAG; k++) {
        double f = blocked_bloom_fpr((double)capacity, (double)blocks, k);
        if (f <= target && (best == 0 || f < best_fpr)) {
            best = k;
            best_fpr = f;
        }
    }
    *fpr = best_fpr;
    return best;
}

/* The smallest size on the grid that reaches the target, with the best k for
 * that size. More blocks lower every k's rate (fewer tags share a block), so
 * whether a grid step reaches the target is monotone in the step, and a
 * binary search finds the same step as trying them all in order, with 9
 * evaluations instead of up to 377 (which took seconds in an unoptimised
 * build, each time a node or client made its filter). */
static int filter_size(uint64_t *blocks, unsigned *k, double *fpr, uint64_t capacity, double target) {
    double f;
    if (best_k(&f, capacity, grid_blocks(capacity, LSXI_GRID_STEPS), target) == 0) return LSX_ERR_ARGUMENT;
    unsigned low = 0, high = LSXI_GRID_STEPS; /* the answer is in [low, high] */
    while (low < high) {
        unsigned mid = low + (high - low) / 2;
        if (best_k(&f, capacity, grid_blocks(capacity, mid), target) != 0) high = mid;
        else low = mid + 1;
    }
    *blocks = grid_blocks(capacity, low);
    *k = best_k(fpr, capacity, *blocks, target);
    return LSX_OK;
}

uint64_t lsx_replay_filter_capacity_for(double packets_per_second, double epoch_seconds) {
    if (!(packets_per_second > 0) || !(epoch_seconds > 0)) return 0;
    double n = ceil(packets_per_second * epoch_seconds * LSXI_CAPACITY_HEADROOM);
    return n >= (double)LSXI_MAX_CAPACITY ? LSXI_MAX_CAPACITY : (uint64_t)n;
}

int lsx_replay_filter_create(lsx_replay_filter **filter, uint64_t capacity, double false_positive_rate,
                             uint64_t epoch) {
    if (filter == NULL) return LSX_ERR_ARGUMENT;
    *filter = NULL;
    if (capacity == 0 || capacity > LSXI_MAX_CAPACITY || !(false_positive_rate > 0) || !(false_positive_rate <= 0.5))
        return LSX_ERR_ARGUMENT;
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;

    uint64_t blocks = 0;
    unsigned k = 0;
    double fpr = 1.0;
    if (filter_size(&blocks, &k, &fpr, capacity, false_positive_rate) != LSX_OK)
        return LSX_ERR_ARGUMENT; /* target below what 96 bits per tag reach */

    lsx_replay_filter *made = calloc(1, sizeof *made);
    if (made == NULL) return LSX_ERR_NO_MEMORY;
    void *memory = NULL;
    if (posix_memalign(&memory, LSXI_BLOCK_BYTES, (size_t)blocks * LSXI_BLOCK_BYTES) != 0) {
        free(made);
        return LSX_ERR_NO_MEMORY;
    }
    memset(memory, 0, (size_t)blocks * LSXI_BLOCK_BYTES);
    if (pthread_mutex_init(&made->lock, NULL) != 0) {
        free(memory);
        free(made);
        return LSX_ERR_NO_MEMORY;
    }
    made->blocks = memory;
    made->block_count = blocks;
    made->bits_per_tag = k;
    made->capacity = capacity;
    made->epoch = epoch;
    made->false_positive_rate = fpr;
    randombytes_buf(made->hash_key, sizeof made->hash_key);
    *filter = made;
    return LSX_OK;
}

void lsx_replay_filter_destroy(lsx_replay_filter *filter) {
    if (filter == NULL) return;
    pthread_mutex_destroy(&filter->lock);
    free(filter->blocks);
    sodium_memzero(filter, sizeof *filter);
    free(filter);
}

/* The block a tag falls in and its k bit positions: slices of a keyed
 * BLAKE2b of the tag, so that an attacker who knows the tags of its own
 * packets cannot aim them at chosen bits. */
typedef struct probe {
    uint64_t *block;
    uint16_t bits[LSXI_MAX_BITS_PER_TAG];
} probe;

static probe probe_for(const lsx_replay_filter *f, const uint8_t tag[LSX_TAG_BYTES]) {
    uint8_t h[LSXI_PROBE_HASH_BYTES];
    uint64_t block_hash;
    probe p;
    (void)crypto_generichash(h, sizeof h, tag, LSX_TAG_BYTES, f->hash_key, sizeof f->hash_key);
    memcpy(&block_hash, h, sizeof block_hash);
    /* The high half of hash x blocks: a block index without a division. */
    p.block = f->blocks + (uint64_t)(((unsigned __int128)block_hash * f->block_count) >> 64) * LSXI_BLOCK_WORDS;
    for (uint32_t i = 0; i < f->bits_per_tag; i++) {
        const uint32_t bit = i * LSXI_BIT_INDEX_BITS, byte = LSXI_BLOCK_INDEX_BYTES + bit / 8, shift = bit % 8;
        p.bits[i] = (uint16_t)(((uint32_t)h[byte] | ((uint32_t)h[byte + 1] << 8)) >> shift) & (LSXI_BLOCK_BITS - 1);
    }
    return p;
}

static uint64_t bit_mask(uint16_t bit) { return UINT64_C(1) << (bit % LSXI_WORD_BITS); }

static int probe_all_set(const lsx_replay_filter *f, const probe *p) {
    for (uint32_t i = 0; i < f->bits_per_tag; i++)
        if (!(p->block[p->bits[i] / LSXI_WORD_BITS] & bit_mask(p->bits[i]))) return 0;
    return 1;
}

int lsx_replay_filter_contains(lsx_replay_filter *filter, const uint8_t tag[LSX_TAG_BYTES]) {
    if (filter == NULL || tag == NULL) return 0;
    pthread_mutex_lock(&filter->lock);
    probe p = probe_for(filter, tag);
    int present = probe_all_set(filter, &p);
    pthread_mutex_unlock(&filter->lock);
    return present;
}

int lsx_replay_filter_insert(lsx_replay_filter *filter, const uint8_t tag[LSX_TAG_BYTES]) {
    int rc = LSX_OK;
    if (filter == NULL || tag == NULL) return LSX_ERR_ARGUMENT;
    pthread_mutex_lock(&filter->lock);
    probe p = probe_for(filter, tag);
    if (probe_all_set(filter, &p)) {
        rc = LSX_ERR_REPLAY;
    } else if (filter->count >= filter->capacity) {
        rc = LSX_ERR_REPLAY_FULL; /* fail closed: past capacity the rate would no longer hold */
    } else {
        for (uint32_t i = 0; i < filter->bits_per_tag; i++) p.block[p.bits[i] / LSXI_WORD_BITS] |= bit_mask(p.bits[i]);
        filter->count++;
    }
    pthread_mutex_unlock(&filter->lock);
    return rc;
}

void lsx_replay_filter_rotate(lsx_replay_filter *filter, uint64_t epoch) {
    if (filter == NULL) return;
    pthread_mutex_lock(&filter->lock);
    if (epoch != filter->epoch) {
        memset(filter->blocks, 0, (size_t)filter->block_count * LSXI_BLOCK_BYTES);
        filter->count = 0;
        filter->epoch = epoch;
        randombytes_buf(filter->hash_key, sizeof filter->hash_key);
    }
    pthread_mutex_unlock(&filter->lock);
}

/* Readers of a single word under the lock, so that they never tear. */
#define LSXI_LOCKED_READ(filter, field, type)                                           \
    do {                                                                              \
        if ((filter) == NULL) return 0;                                               \
        pthread_mutex_lock((pthread_mutex_t *)&(filter)->lock);                       \
        type value = (filter)->field;                                                 \
        pthread_mutex_unlock((pthread_mutex_t *)&(filter)->lock);                     \
        return value;                                                                 \
    } while (0)

uint64_t lsx_replay_filter_epoch(const lsx_replay_filter *filter) { LSXI_LOCKED_READ(filter, epoch, uint64_t); }
uint64_t lsx_replay_filter_count(const lsx_replay_filter *filter) { LSXI_LOCKED_READ(filter, count, uint64_t); }
uint64_t lsx_replay_filter_capacity(const lsx_replay_filter *filter) { return filter == NULL ? 0 : filter->capacity; }
size_t lsx_replay_filter_memory_bytes(const lsx_replay_filter *filter) {
    return filter == NULL ? 0 : (size_t)filter->block_count * LSXI_BLOCK_BYTES + sizeof *filter;
}
double lsx_replay_filter_false_positive_rate(const lsx_replay_filter *filter) {
    return filter == NULL ? 0.0 : filter->false_positive_rate;
}
