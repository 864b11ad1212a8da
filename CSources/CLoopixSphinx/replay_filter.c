/* The replay filter: a blocked Bloom filter (one 64-byte cache line per
 * tag) keyed with a random BLAKE2b key, sized from a capacity and a target
 * false-positive rate, refusing new tags once full. Its header and blocks
 * live either in memory it allocates or in memory its caller provides (a
 * MAP_SHARED file mapping, whose page cache outlives the process). */
#include "lsx_internal.h"
#include "replay_filter_layout.h"

#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

/* A block is one cache line of 64-bit words; a bit inside it is named by
 * LSXI_BIT_INDEX_BITS bits of the tag's hash. */
#define LSXI_BLOCK_BYTES LSX_REPLAY_FILTER_BLOCK_BYTES
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
#define LSXI_HASH_KEY_BYTES LSXI_RF_KEY_BYTES
#define LSXI_HASH_KEY_WORDS (LSXI_HASH_KEY_BYTES / sizeof(uint64_t))

_Static_assert(LSXI_BLOCK_BITS == 1 << LSXI_BIT_INDEX_BITS, "a bit index names every bit of a block");
_Static_assert(LSXI_HASH_KEY_BYTES == crypto_generichash_KEYBYTES, "the header keeps a whole BLAKE2b key");
_Static_assert(LSXI_HASH_KEY_WORDS * sizeof(uint64_t) == LSXI_HASH_KEY_BYTES, "the hash key is whole words");
_Static_assert(LSXI_RF_COUNT_BYTES == sizeof(uint64_t), "the count is one atomic word");
_Static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t), "atomic words overlay the memory's words");

/* ---- Striped locks: exact inserts without one lock for the whole filter ----
 * A tag's bits all live in its block, so inserts of the same tag always meet
 * at the same stripe: under it, "not there yet, so set" cannot be decided by
 * two callers at once. The locks live in the filter object, never in the
 * caller's memory, so that a process killed while holding one cannot wedge
 * the next process that attaches the memory. */
#define LSXI_STRIPES 256 /* a power of two */
#define LSXI_SPINS_BEFORE_YIELD 64

#if defined(__x86_64__) || defined(__i386__)
#define LSXI_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define LSXI_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define LSXI_CPU_RELAX() ((void)0)
#endif

typedef struct lsxi_stripe {
    _Alignas(LSXI_BLOCK_BYTES) atomic_uint held; /* a cache line each: no false sharing between stripes */
} lsxi_stripe;

static void stripe_lock(lsxi_stripe *s) {
    for (unsigned spins = 0;; spins++) {
        if (!atomic_load_explicit(&s->held, memory_order_relaxed) &&
            !atomic_exchange_explicit(&s->held, 1, memory_order_acquire))
            return;
        /* The holder runs a few dozen instructions; if it takes longer it was
         * preempted, and spinning would only keep it off the core. */
        if (spins >= LSXI_SPINS_BEFORE_YIELD) sched_yield();
        else LSXI_CPU_RELAX();
    }
}

static void stripe_unlock(lsxi_stripe *s) { atomic_store_explicit(&s->held, 0, memory_order_release); }

struct lsx_replay_filter {
    lsxi_stripe stripes[LSXI_STRIPES];
    uint8_t *memory;          /* header + blocks */
    size_t memory_len;
    int owns_memory;          /* allocated by lsx_replay_filter_create, freed by destroy */
    _Atomic uint64_t *count;  /* in the header */
    _Atomic uint64_t *blocks; /* block_count * LSXI_BLOCK_WORDS words */
    uint64_t block_count;
    uint32_t bits_per_tag;    /* k */
    uint64_t capacity;
    double false_positive_rate; /* when full */
    /* Read without a lock by every probe and replaced by rotate: atomics, so
     * that a probe racing a rotation reads some key rather than undefined
     * behaviour (its tag then belongs to neither epoch, as any tag inserted
     * during a rotation may). */
    _Atomic uint64_t hash_key[LSXI_HASH_KEY_WORDS];
    _Atomic uint64_t epoch;
    atomic_int sealed;        /* no more tags: lsx_replay_filter_seal */
    uint8_t boot_id[LSX_REPLAY_BOOT_ID_BYTES]; /* the boot it was formatted or attached in (zeros: process memory) */
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
    if (capacity == 0 || capacity > LSXI_MAX_CAPACITY || !(target > 0) || !(target <= 0.5)) return LSX_ERR_ARGUMENT;
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

/* The memory a layout of `blocks` blocks takes, or 0 if it does not fit a size_t. */
static size_t layout_bytes_for(uint64_t blocks) {
    if (blocks > (SIZE_MAX - LSX_REPLAY_FILTER_HEADER_BYTES) / LSXI_BLOCK_BYTES) return 0;
    return LSX_REPLAY_FILTER_HEADER_BYTES + (size_t)blocks * LSXI_BLOCK_BYTES;
}

uint64_t lsx_replay_filter_capacity_for(double packets_per_second, double epoch_seconds) {
    if (!(packets_per_second > 0) || !(epoch_seconds > 0)) return 0;
    double n = ceil(packets_per_second * epoch_seconds * LSXI_CAPACITY_HEADROOM);
    return n >= (double)LSXI_MAX_CAPACITY ? LSXI_MAX_CAPACITY : (uint64_t)n;
}

size_t lsx_replay_filter_layout_bytes(uint64_t capacity, double false_positive_rate) {
    uint64_t blocks = 0;
    unsigned k = 0;
    double fpr = 1.0;
    if (filter_size(&blocks, &k, &fpr, capacity, false_positive_rate) != LSX_OK) return 0;
    return layout_bytes_for(blocks);
}

size_t lsx_replay_filter_header_bytes(void) { return LSX_REPLAY_FILTER_HEADER_BYTES; }
size_t lsx_replay_filter_block_bytes(void) { return LSX_REPLAY_FILTER_BLOCK_BYTES; }
size_t lsx_replay_filter_alignment(void) { return LSX_REPLAY_FILTER_ALIGNMENT; }
size_t lsx_replay_boot_id_bytes(void) { return LSX_REPLAY_BOOT_ID_BYTES; }

/* ---- The header ---- */

static void header_digest(uint8_t digest[LSXI_RF_DIGEST_BYTES], const uint8_t *memory) {
    (void)crypto_generichash(digest, LSXI_RF_DIGEST_BYTES, memory, LSXI_RF_DIGEST_OFFSET, NULL, 0);
}

/* Writes the fields written once (and their digest) from the filter object. */
static void header_write_fixed(lsx_replay_filter *f) {
    uint8_t *h = f->memory;
    uint64_t key[LSXI_HASH_KEY_WORDS];
    memcpy(h + LSXI_RF_MAGIC_OFFSET, LSXI_RF_MAGIC, LSXI_RF_MAGIC_BYTES);
    lsxi_store_be(h + LSXI_RF_VERSION_OFFSET, LSXI_RF_VERSION_BYTES, LSXI_RF_LAYOUT_VERSION);
    lsxi_store_be(h + LSXI_RF_BITS_OFFSET, LSXI_RF_BITS_BYTES, f->bits_per_tag);
    lsxi_store_be(h + LSXI_RF_CAPACITY_OFFSET, LSXI_RF_CAPACITY_BYTES, f->capacity);
    lsxi_store_be(h + LSXI_RF_BLOCKS_OFFSET, LSXI_RF_BLOCKS_BYTES, f->block_count);
    lsxi_store_be(h + LSXI_RF_EPOCH_OFFSET, LSXI_RF_EPOCH_BYTES, atomic_load_explicit(&f->epoch, memory_order_relaxed));
    for (size_t i = 0; i < LSXI_HASH_KEY_WORDS; i++) key[i] = atomic_load_explicit(&f->hash_key[i], memory_order_relaxed);
    memcpy(h + LSXI_RF_KEY_OFFSET, key, LSXI_HASH_KEY_BYTES);
    sodium_memzero(key, sizeof key);
    header_digest(h + LSXI_RF_DIGEST_OFFSET, h);
}

static void header_write_state(uint8_t *memory, uint32_t state, const uint8_t boot_id[LSX_REPLAY_BOOT_ID_BYTES]) {
    memcpy(memory + LSXI_RF_BOOT_ID_OFFSET, boot_id, LSX_REPLAY_BOOT_ID_BYTES);
    lsxi_store_be(memory + LSXI_RF_STATE_OFFSET, LSXI_RF_STATE_BYTES, state);
}

static void new_hash_key(lsx_replay_filter *f) {
    uint64_t key[LSXI_HASH_KEY_WORDS];
    randombytes_buf(key, sizeof key);
    for (size_t i = 0; i < LSXI_HASH_KEY_WORDS; i++) atomic_store_explicit(&f->hash_key[i], key[i], memory_order_relaxed);
    sodium_memzero(key, sizeof key);
}

/* Clears every word of the blocks, writing only those that are not zero yet:
 * the fresh (sparse) file behind a new mapping stays unwritten. */
static void clear_blocks(lsx_replay_filter *f) {
    const uint64_t words = f->block_count * LSXI_BLOCK_WORDS;
    for (uint64_t i = 0; i < words; i++)
        if (atomic_load_explicit(&f->blocks[i], memory_order_relaxed) != 0)
            atomic_store_explicit(&f->blocks[i], 0, memory_order_relaxed);
}

/* A filter object over `memory` with every lock free; the caller fills the sizes. */
static lsx_replay_filter *filter_object(void *memory, size_t memory_len) {
    const size_t size = (sizeof(lsx_replay_filter) + LSXI_BLOCK_BYTES - 1) / LSXI_BLOCK_BYTES * LSXI_BLOCK_BYTES;
    lsx_replay_filter *f = aligned_alloc(LSXI_BLOCK_BYTES, size);
    if (f == NULL) return NULL;
    memset(f, 0, size);
    for (size_t i = 0; i < LSXI_STRIPES; i++) atomic_init(&f->stripes[i].held, 0);
    f->memory = memory;
    f->memory_len = memory_len;
    f->count = (_Atomic uint64_t *)(void *)((uint8_t *)memory + LSXI_RF_COUNT_OFFSET);
    f->blocks = (_Atomic uint64_t *)(void *)((uint8_t *)memory + LSXI_RF_BLOCKS_START);
    atomic_init(&f->sealed, 0);
    return f;
}

static int memory_usable(const void *memory, size_t memory_len) {
    return memory != NULL && memory_len >= LSX_REPLAY_FILTER_HEADER_BYTES &&
           (uintptr_t)memory % LSX_REPLAY_FILTER_ALIGNMENT == 0;
}

static int boot_id_usable(const uint8_t *boot_id) {
    return boot_id != NULL && !sodium_is_zero(boot_id, LSX_REPLAY_BOOT_ID_BYTES);
}

/* The filter's size for a capacity and target rate. */
typedef struct sizing {
    uint64_t capacity, blocks;
    unsigned k;
    double fpr; /* when full */
} sizing;

/* Writes a new header (state OPEN under `boot_id`) and empty blocks into
 * memory of exactly the size `size` needs. */
static int format(lsx_replay_filter **filter, void *memory, size_t memory_len, const sizing *size, uint64_t epoch,
                  const uint8_t boot_id[LSX_REPLAY_BOOT_ID_BYTES]) {
    if (memory_len != layout_bytes_for(size->blocks)) return LSX_ERR_LENGTH;
    lsx_replay_filter *made = filter_object(memory, memory_len);
    if (made == NULL) return LSX_ERR_NO_MEMORY;
    made->block_count = size->blocks;
    made->bits_per_tag = size->k;
    made->capacity = size->capacity;
    made->false_positive_rate = size->fpr;
    atomic_init(&made->epoch, epoch);
    new_hash_key(made);
    memset(memory, 0, LSX_REPLAY_FILTER_HEADER_BYTES);
    atomic_store_explicit(made->count, 0, memory_order_relaxed);
    clear_blocks(made);
    header_write_fixed(made);
    memcpy(made->boot_id, boot_id, LSX_REPLAY_BOOT_ID_BYTES);
    header_write_state(memory, LSXI_RF_STATE_OPEN, boot_id);
    *filter = made;
    return LSX_OK;
}

int lsx_replay_filter_create(lsx_replay_filter **filter, uint64_t capacity, double false_positive_rate,
                             uint64_t epoch) {
    static const uint8_t no_boot[LSX_REPLAY_BOOT_ID_BYTES] = {0}; /* process memory: never attached again */
    if (filter == NULL) return LSX_ERR_ARGUMENT;
    *filter = NULL;
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    sizing size = {.capacity = capacity};
    if (filter_size(&size.blocks, &size.k, &size.fpr, capacity, false_positive_rate) != LSX_OK)
        return LSX_ERR_ARGUMENT; /* also a target below what 96 bits per tag reach */
    const size_t len = layout_bytes_for(size.blocks);
    void *memory = NULL;
    if (len == 0 || posix_memalign(&memory, LSX_REPLAY_FILTER_ALIGNMENT, len) != 0) return LSX_ERR_NO_MEMORY;
    memset(memory, 0, len);
    int rc = format(filter, memory, len, &size, epoch, no_boot);
    if (rc != LSX_OK) {
        free(memory);
        return rc;
    }
    (*filter)->owns_memory = 1;
    return LSX_OK;
}

int lsx_replay_filter_format(lsx_replay_filter **filter, void *memory, size_t memory_len, uint64_t capacity,
                             double false_positive_rate, uint64_t epoch,
                             const uint8_t boot_id[LSX_REPLAY_BOOT_ID_BYTES]) {
    if (filter == NULL) return LSX_ERR_ARGUMENT;
    *filter = NULL;
    if (!memory_usable(memory, memory_len) || !boot_id_usable(boot_id)) return LSX_ERR_ARGUMENT;
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    sizing size = {.capacity = capacity};
    if (filter_size(&size.blocks, &size.k, &size.fpr, capacity, false_positive_rate) != LSX_OK)
        return LSX_ERR_ARGUMENT;
    return format(filter, memory, memory_len, &size, epoch, boot_id);
}

/* Reads and checks a header that may hold anything (a file can be corrupted
 * or written by someone else): every field is read once, into the object,
 * and nothing read from the memory is ever used as an index afterwards
 * except through those checked copies. */
int lsx_replay_filter_attach(lsx_replay_filter **filter, void *memory, size_t memory_len, uint64_t epoch,
                             const uint8_t boot_id[LSX_REPLAY_BOOT_ID_BYTES]) {
    if (filter == NULL) return LSX_ERR_ARGUMENT;
    *filter = NULL;
    if (!memory_usable(memory, memory_len) || !boot_id_usable(boot_id)) return LSX_ERR_ARGUMENT;
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    uint8_t header[LSX_REPLAY_FILTER_HEADER_BYTES], digest[LSXI_RF_DIGEST_BYTES];
    memcpy(header, memory, sizeof header);
    int rc = LSX_ERR_REPLAY_LAYOUT;
    header_digest(digest, header);
    const uint64_t version = lsxi_load_be(header + LSXI_RF_VERSION_OFFSET, LSXI_RF_VERSION_BYTES);
    const uint64_t k = lsxi_load_be(header + LSXI_RF_BITS_OFFSET, LSXI_RF_BITS_BYTES);
    const uint64_t capacity = lsxi_load_be(header + LSXI_RF_CAPACITY_OFFSET, LSXI_RF_CAPACITY_BYTES);
    const uint64_t blocks = lsxi_load_be(header + LSXI_RF_BLOCKS_OFFSET, LSXI_RF_BLOCKS_BYTES);
    const uint64_t state = lsxi_load_be(header + LSXI_RF_STATE_OFFSET, LSXI_RF_STATE_BYTES);
    uint64_t count;
    memcpy(&count, header + LSXI_RF_COUNT_OFFSET, sizeof count);
    if (memcmp(header + LSXI_RF_MAGIC_OFFSET, LSXI_RF_MAGIC, LSXI_RF_MAGIC_BYTES) != 0 ||
        version != LSXI_RF_LAYOUT_VERSION ||
        sodium_memcmp(digest, header + LSXI_RF_DIGEST_OFFSET, LSXI_RF_DIGEST_BYTES) != 0)
        goto done;
    /* The sizes: what sizing could have chosen, and exactly the memory given. */
    if (k < 1 || k > LSXI_MAX_BITS_PER_TAG || capacity < 1 || capacity > LSXI_MAX_CAPACITY ||
        blocks < grid_blocks(capacity, 0) || blocks > grid_blocks(capacity, LSXI_GRID_STEPS) ||
        layout_bytes_for(blocks) != memory_len || count > capacity)
        goto done;
    if (state != LSXI_RF_STATE_OPEN && state != LSXI_RF_STATE_CLEAN) goto done;
    /* Another epoch's filter is not the one asked for, and is left as it is. */
    if (lsxi_load_be(header + LSXI_RF_EPOCH_OFFSET, LSXI_RF_EPOCH_BYTES) != epoch) goto done;
    /* Open under another boot: its process did not close it, and the kernel
     * that held its newest tags in the page cache is gone with them. */
    if (state == LSXI_RF_STATE_OPEN && sodium_memcmp(header + LSXI_RF_BOOT_ID_OFFSET, boot_id, LSX_REPLAY_BOOT_ID_BYTES) != 0) {
        rc = LSX_ERR_REPLAY_LOST;
        goto done;
    }
    lsx_replay_filter *made = filter_object(memory, memory_len);
    if (made == NULL) {
        rc = LSX_ERR_NO_MEMORY;
        goto done;
    }
    made->block_count = blocks;
    made->bits_per_tag = (uint32_t)k;
    made->capacity = capacity;
    made->false_positive_rate = blocked_bloom_fpr((double)capacity, (double)blocks, (unsigned)k);
    atomic_init(&made->epoch, epoch);
    for (size_t i = 0; i < LSXI_HASH_KEY_WORDS; i++) {
        uint64_t word;
        memcpy(&word, header + LSXI_RF_KEY_OFFSET + i * sizeof word, sizeof word);
        atomic_init(&made->hash_key[i], word);
    }
    memcpy(made->boot_id, boot_id, LSX_REPLAY_BOOT_ID_BYTES);
    header_write_state(memory, LSXI_RF_STATE_OPEN, boot_id);
    *filter = made;
    rc = LSX_OK;
done:
    sodium_memzero(header, sizeof header);
    return rc;
}

void lsx_replay_filter_destroy(lsx_replay_filter *filter) {
    if (filter == NULL) return;
    if (filter->owns_memory) {
        sodium_memzero(filter->memory, LSX_REPLAY_FILTER_HEADER_BYTES); /* the hash key */
        free(filter->memory);
    }
    sodium_memzero(filter, sizeof *filter);
    free(filter);
}

/* The block a tag falls in and its k bit positions: slices of a keyed
 * BLAKE2b of the tag, so that an attacker who knows the tags of its own
 * packets cannot aim them at chosen bits. */
typedef struct probe {
    uint64_t block_index;
    _Atomic uint64_t *block;
    uint16_t bits[LSXI_MAX_BITS_PER_TAG];
} probe;

static probe probe_for(const lsx_replay_filter *f, const uint8_t tag[LSX_TAG_BYTES]) {
    uint8_t h[LSXI_PROBE_HASH_BYTES];
    uint64_t key[LSXI_HASH_KEY_WORDS], block_hash;
    probe p;
    for (size_t i = 0; i < LSXI_HASH_KEY_WORDS; i++)
        key[i] = atomic_load_explicit((_Atomic uint64_t *)&f->hash_key[i], memory_order_relaxed);
    (void)crypto_generichash(h, sizeof h, tag, LSX_TAG_BYTES, (const uint8_t *)key, sizeof key);
    sodium_memzero(key, sizeof key);
    memcpy(&block_hash, h, sizeof block_hash);
    /* The high half of hash x blocks: a block index without a division. */
    p.block_index = (uint64_t)(((unsigned __int128)block_hash * f->block_count) >> 64);
    p.block = f->blocks + p.block_index * LSXI_BLOCK_WORDS;
    for (uint32_t i = 0; i < f->bits_per_tag; i++) {
        const uint32_t bit = i * LSXI_BIT_INDEX_BITS, byte = LSXI_BLOCK_INDEX_BYTES + bit / 8, shift = bit % 8;
        p.bits[i] = (uint16_t)(((uint32_t)h[byte] | ((uint32_t)h[byte + 1] << 8)) >> shift) & (LSXI_BLOCK_BITS - 1);
    }
    return p;
}

/* The probe's bits as one mask per word of its block. */
static void probe_masks(uint64_t masks[LSXI_BLOCK_WORDS], const lsx_replay_filter *f, const probe *p) {
    memset(masks, 0, LSXI_BLOCK_WORDS * sizeof masks[0]);
    for (uint32_t i = 0; i < f->bits_per_tag; i++)
        masks[p->bits[i] / LSXI_WORD_BITS] |= UINT64_C(1) << (p->bits[i] % LSXI_WORD_BITS);
}

static int block_has(const probe *p, const uint64_t masks[LSXI_BLOCK_WORDS]) {
    for (unsigned w = 0; w < LSXI_BLOCK_WORDS; w++)
        if ((atomic_load_explicit(&p->block[w], memory_order_relaxed) & masks[w]) != masks[w]) return 0;
    return 1;
}

/* Lock-free: a contains that races an insert of the same tag may answer
 * either way, which is why lsx_process decides only by the insert. */
int lsx_replay_filter_contains(lsx_replay_filter *filter, const uint8_t tag[LSX_TAG_BYTES]) {
    if (filter == NULL || tag == NULL) return 0;
    uint64_t masks[LSXI_BLOCK_WORDS];
    probe p = probe_for(filter, tag);
    probe_masks(masks, filter, &p);
    return block_has(&p, masks);
}

/* Takes one of the `capacity` places, or says there is none left. */
static int reserve_place(lsx_replay_filter *f) {
    uint64_t count = atomic_load_explicit(f->count, memory_order_relaxed);
    do {
        if (count >= f->capacity) return 0;
    } while (!atomic_compare_exchange_weak_explicit(f->count, &count, count + 1, memory_order_relaxed,
                                                    memory_order_relaxed));
    return 1;
}

int lsx_replay_filter_insert(lsx_replay_filter *filter, const uint8_t tag[LSX_TAG_BYTES]) {
    if (filter == NULL || tag == NULL) return LSX_ERR_ARGUMENT;
    uint64_t masks[LSXI_BLOCK_WORDS];
    probe p = probe_for(filter, tag);
    probe_masks(masks, filter, &p);
    lsxi_stripe *stripe = &filter->stripes[p.block_index & (LSXI_STRIPES - 1)];
    int rc = LSX_OK;
    stripe_lock(stripe);
    if (block_has(&p, masks)) {
        rc = LSX_ERR_REPLAY;
    } else if (atomic_load_explicit(&filter->sealed, memory_order_relaxed) || !reserve_place(filter)) {
        rc = LSX_ERR_REPLAY_FULL; /* fail closed: past capacity the rate would no longer hold */
    } else {
        /* An atomic OR, not a store: the bits stay whatever else holds this
         * memory (another mapping of the same file would have its own locks). */
        for (unsigned w = 0; w < LSXI_BLOCK_WORDS; w++)
            if (masks[w] != 0) atomic_fetch_or_explicit(&p.block[w], masks[w], memory_order_relaxed);
    }
    stripe_unlock(stripe);
    return rc;
}

static void lock_all(lsx_replay_filter *f) {
    for (size_t i = 0; i < LSXI_STRIPES; i++) stripe_lock(&f->stripes[i]);
}

static void unlock_all(lsx_replay_filter *f) {
    for (size_t i = LSXI_STRIPES; i-- > 0;) stripe_unlock(&f->stripes[i]);
}

void lsx_replay_filter_rotate(lsx_replay_filter *filter, uint64_t epoch) {
    if (filter == NULL) return;
    lock_all(filter);
    if (epoch != atomic_load_explicit(&filter->epoch, memory_order_relaxed)) {
        clear_blocks(filter);
        atomic_store_explicit(filter->count, 0, memory_order_relaxed);
        atomic_store_explicit(&filter->epoch, epoch, memory_order_relaxed);
        new_hash_key(filter);
        header_write_fixed(filter);
        /* Changed since any clean mark: open again, as in any other write. */
        header_write_state(filter->memory, LSXI_RF_STATE_OPEN, filter->boot_id);
    }
    unlock_all(filter);
}

void lsx_replay_filter_seal(lsx_replay_filter *filter) {
    if (filter == NULL) return;
    atomic_store_explicit(&filter->sealed, 1, memory_order_relaxed);
    /* Every insert that took its stripe before the flag was set has finished
     * once each stripe has been taken once more; every later one sees it. */
    lock_all(filter);
    unlock_all(filter);
}

int lsx_replay_filter_mark_clean(lsx_replay_filter *filter) {
    static const uint8_t no_boot[LSX_REPLAY_BOOT_ID_BYTES] = {0}; /* a clean filter is good in any boot */
    if (filter == NULL || !atomic_load_explicit(&filter->sealed, memory_order_acquire)) return LSX_ERR_ARGUMENT;
    lock_all(filter);
    header_write_state(filter->memory, LSXI_RF_STATE_CLEAN, no_boot);
    unlock_all(filter);
    return LSX_OK;
}

uint64_t lsx_replay_filter_epoch(const lsx_replay_filter *filter) {
    return filter == NULL ? 0 : atomic_load_explicit((_Atomic uint64_t *)&filter->epoch, memory_order_relaxed);
}
uint64_t lsx_replay_filter_count(const lsx_replay_filter *filter) {
    return filter == NULL ? 0 : atomic_load_explicit(filter->count, memory_order_relaxed);
}
uint64_t lsx_replay_filter_capacity(const lsx_replay_filter *filter) { return filter == NULL ? 0 : filter->capacity; }
size_t lsx_replay_filter_memory_bytes(const lsx_replay_filter *filter) {
    return filter == NULL ? 0 : filter->memory_len + sizeof *filter;
}
double lsx_replay_filter_false_positive_rate(const lsx_replay_filter *filter) {
    return filter == NULL ? 0.0 : filter->false_positive_rate;
}
