/* The replay filter: a blocked Bloom filter (one 64-byte cache line per
 * tag) keyed with a random BLAKE2b key, sized from a capacity and a target
 * false-positive rate, refusing new tags once full. */
#include "lsx_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#define LSX_BLOCK_BITS 512
#define LSX_BLOCK_WORDS (LSX_BLOCK_BITS / 64)
#define LSX_MAX_BITS_PER_TAG 32
#define LSX_MAX_CAPACITY (UINT64_C(1) << 36)

struct lsx_replay_filter {
    pthread_mutex_t lock;
    uint64_t *blocks;      /* block_count * LSX_BLOCK_WORDS words */
    uint64_t block_count;
    uint32_t bits_per_tag; /* k */
    uint64_t capacity;
    uint64_t count;
    uint64_t epoch;
    double false_positive_rate; /* when full */
    uint8_t hash_key[crypto_generichash_KEYBYTES];
};

/* False-positive rate of a blocked Bloom filter holding n tags in `blocks`
 * blocks of 512 bits with k independent bit positions per tag: the number of
 * tags in the block a query lands in is Poisson with mean n/blocks, and each
 * of them leaves a given bit clear with probability (1 - 1/512)^k. */
static double lsx_blocked_bloom_fpr(double n, double blocks, unsigned k) {
    const double lambda = n / blocks;
    const double keep = pow(1.0 - 1.0 / LSX_BLOCK_BITS, (double)k);
    double sum = 0.0, weight = exp(-lambda); /* P(j = 0) */
    const unsigned limit = (unsigned)(lambda + 12.0 * sqrt(lambda + 1.0) + 24.0);
    for (unsigned j = 0; j <= limit; j++) {
        if (j > 0) weight *= lambda / j;
        sum += weight * pow(1.0 - pow(keep, (double)j), (double)k);
    }
    return sum;
}

/* Bits per tag are tried on a grid of 1/4 bit from 2 to 96. */
#define LSX_GRID_STEPS 376 /* (96 - 2) * 4 */

static uint64_t lsx_grid_blocks(uint64_t capacity, unsigned step) {
    const double bits_per_tag = 2.0 + 0.25 * (double)step;
    uint64_t b = (uint64_t)ceil((double)capacity * bits_per_tag / LSX_BLOCK_BITS);
    return b == 0 ? 1 : b;
}

/* The k (1...LSX_MAX_BITS_PER_TAG) with the lowest false-positive rate among
 * those that reach `target` with `blocks` blocks, or 0 if none does. */
static unsigned lsx_best_k(uint64_t capacity, uint64_t blocks, double target, double *fpr) {
    unsigned best_k = 0;
    double best = 1.0;
    for (unsigned k = 1; k <= LSX_MAX_BITS_PER_TAG; k++) {
        double f = lsx_blocked_bloom_fpr((double)capacity, (double)blocks, k);
        if (f <= target && (best_k == 0 || f < best)) {
            best_k = k;
            best = f;
        }
    }
    *fpr = best;
    return best_k;
}

/* The smallest size on the grid that reaches the target, with the best k for
 * that size. More blocks lower every k's rate (fewer tags share a block), so
 * whether a grid step reaches the target is monotone in the step, and a
 * binary search finds the same step as trying them all in order, with 9
 * evaluations instead of up to 377 (which took seconds in an unoptimised
 * build, each time a node or client made its filter). */
static int lsx_replay_filter_size(uint64_t capacity, double target, uint64_t *blocks, unsigned *k,
                                  double *fpr) {
    double f;
    if (lsx_best_k(capacity, lsx_grid_blocks(capacity, LSX_GRID_STEPS), target, &f) == 0) return LSX_ERR_ARGUMENT;
    unsigned low = 0, high = LSX_GRID_STEPS; /* the answer is in [low, high] */
    while (low < high) {
        unsigned mid = low + (high - low) / 2;
        if (lsx_best_k(capacity, lsx_grid_blocks(capacity, mid), target, &f) != 0) high = mid;
        else low = mid + 1;
    }
    *blocks = lsx_grid_blocks(capacity, low);
    *k = lsx_best_k(capacity, *blocks, target, fpr);
    return LSX_OK;
}

uint64_t lsx_replay_filter_capacity_for(double packets_per_second, double epoch_seconds) {
    if (!(packets_per_second > 0) || !(epoch_seconds > 0)) return 0;
    double n = ceil(packets_per_second * epoch_seconds * 1.25);
    return n >= (double)LSX_MAX_CAPACITY ? LSX_MAX_CAPACITY : (uint64_t)n;
}

int lsx_replay_filter_create(lsx_replay_filter **filter, uint64_t capacity, double false_positive_rate,
                             uint64_t epoch) {
    if (filter == NULL) return LSX_ERR_ARGUMENT;
    *filter = NULL;
    if (capacity == 0 || capacity > LSX_MAX_CAPACITY || !(false_positive_rate > 0) || !(false_positive_rate <= 0.5))
        return LSX_ERR_ARGUMENT;
    if (!lsx_initialized()) return LSX_ERR_NOT_INITIALIZED;

    uint64_t blocks = 0;
    unsigned best_k = 0;
    double best_fpr = 1.0;
    if (lsx_replay_filter_size(capacity, false_positive_rate, &blocks, &best_k, &best_fpr) != LSX_OK)
        return LSX_ERR_ARGUMENT; /* target below what 96 bits per tag reach */

    lsx_replay_filter *made = calloc(1, sizeof *made);
    if (made == NULL) return LSX_ERR_NO_MEMORY;
    void *memory = NULL;
    if (posix_memalign(&memory, 64, (size_t)blocks * LSX_BLOCK_BITS / 8) != 0) {
        free(made);
        return LSX_ERR_NO_MEMORY;
    }
    memset(memory, 0, (size_t)blocks * LSX_BLOCK_BITS / 8);
    if (pthread_mutex_init(&made->lock, NULL) != 0) {
        free(memory);
        free(made);
        return LSX_ERR_NO_MEMORY;
    }
    made->blocks = memory;
    made->block_count = blocks;
    made->bits_per_tag = best_k;
    made->capacity = capacity;
    made->epoch = epoch;
    made->false_positive_rate = best_fpr;
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

/* The block a tag falls in and its k bit positions: 9-bit slices of a keyed
 * BLAKE2b of the tag, so that an attacker who knows the tags of its own
 * packets cannot aim them at chosen bits. */
typedef struct lsx_probe {
    uint64_t *block;
    uint16_t bits[LSX_MAX_BITS_PER_TAG];
} lsx_probe;

static lsx_probe lsx_probe_for(const lsx_replay_filter *f, const uint8_t tag[LSX_TAG_BYTES]) {
    uint8_t h[8 + (LSX_MAX_BITS_PER_TAG * 9 + 7) / 8];
    uint64_t h1;
    lsx_probe p;
    (void)crypto_generichash(h, sizeof h, tag, LSX_TAG_BYTES, f->hash_key, sizeof f->hash_key);
    memcpy(&h1, h, 8);
    p.block = f->blocks + (uint64_t)(((unsigned __int128)h1 * f->block_count) >> 64) * LSX_BLOCK_WORDS;
    for (uint32_t i = 0; i < f->bits_per_tag; i++) {
        const uint32_t bit = i * 9, byte = 8 + bit / 8, shift = bit % 8;
        p.bits[i] = (uint16_t)(((uint32_t)h[byte] | ((uint32_t)h[byte + 1] << 8)) >> shift) & (LSX_BLOCK_BITS - 1);
    }
    return p;
}

static int lsx_probe_all_set(const lsx_replay_filter *f, const lsx_probe *p) {
    for (uint32_t i = 0; i < f->bits_per_tag; i++)
        if (!(p->block[p->bits[i] >> 6] & (UINT64_C(1) << (p->bits[i] & 63)))) return 0;
    return 1;
}

int lsx_replay_filter_contains(lsx_replay_filter *filter, const uint8_t tag[LSX_TAG_BYTES]) {
    if (filter == NULL || tag == NULL) return 0;
    pthread_mutex_lock(&filter->lock);
    lsx_probe p = lsx_probe_for(filter, tag);
    int present = lsx_probe_all_set(filter, &p);
    pthread_mutex_unlock(&filter->lock);
    return present;
}

int lsx_replay_filter_insert(lsx_replay_filter *filter, const uint8_t tag[LSX_TAG_BYTES]) {
    int rc = LSX_OK;
    if (filter == NULL || tag == NULL) return LSX_ERR_ARGUMENT;
    pthread_mutex_lock(&filter->lock);
    lsx_probe p = lsx_probe_for(filter, tag);
    if (lsx_probe_all_set(filter, &p)) {
        rc = LSX_ERR_REPLAY;
    } else if (filter->count >= filter->capacity) {
        rc = LSX_ERR_REPLAY_FULL; /* fail closed: past capacity the rate would no longer hold */
    } else {
        for (uint32_t i = 0; i < filter->bits_per_tag; i++) p.block[p.bits[i] >> 6] |= UINT64_C(1) << (p.bits[i] & 63);
        filter->count++;
    }
    pthread_mutex_unlock(&filter->lock);
    return rc;
}

void lsx_replay_filter_rotate(lsx_replay_filter *filter, uint64_t epoch) {
    if (filter == NULL) return;
    pthread_mutex_lock(&filter->lock);
    if (epoch != filter->epoch) {
        memset(filter->blocks, 0, (size_t)filter->block_count * LSX_BLOCK_BITS / 8);
        filter->count = 0;
        filter->epoch = epoch;
        randombytes_buf(filter->hash_key, sizeof filter->hash_key);
    }
    pthread_mutex_unlock(&filter->lock);
}

/* Readers of a single word under the lock, so that they never tear. */
#define LSX_LOCKED_READ(filter, field, type)                                           \
    do {                                                                              \
        if ((filter) == NULL) return 0;                                               \
        pthread_mutex_lock((pthread_mutex_t *)&(filter)->lock);                       \
        type value = (filter)->field;                                                 \
        pthread_mutex_unlock((pthread_mutex_t *)&(filter)->lock);                     \
        return value;                                                                 \
    } while (0)

uint64_t lsx_replay_filter_epoch(const lsx_replay_filter *filter) { LSX_LOCKED_READ(filter, epoch, uint64_t); }
uint64_t lsx_replay_filter_count(const lsx_replay_filter *filter) { LSX_LOCKED_READ(filter, count, uint64_t); }
uint64_t lsx_replay_filter_capacity(const lsx_replay_filter *filter) { return filter == NULL ? 0 : filter->capacity; }
size_t lsx_replay_filter_memory_bytes(const lsx_replay_filter *filter) {
    return filter == NULL ? 0 : (size_t)filter->block_count * LSX_BLOCK_BITS / 8 + sizeof *filter;
}
double lsx_replay_filter_false_positive_rate(const lsx_replay_filter *filter) {
    return filter == NULL ? 0.0 : filter->false_positive_rate;
}
