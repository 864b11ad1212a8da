/* Tests of the replay filter over caller-owned memory: format and attach,
 * what a boot id and a clean mark decide, hostile headers, exact inserts
 * under concurrency, and real processes killed with SIGKILL (or closed
 * cleanly) while recording tags into a MAP_SHARED file.
 * Usage: test_replay [DIRECTORY for the filter files, default $TMPDIR or /tmp] */
#include "check.h"
#include "loopix_sphinx.h"
#include "lsx_internal.h"
#include "replay_filter_layout.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static uint8_t boot_a[LSX_REPLAY_BOOT_ID_BYTES], boot_b[LSX_REPLAY_BOOT_ID_BYTES];
static const char *directory = "/tmp";

/* Memory as a caller would give it: aligned, exactly `len` bytes (and filled
 * with garbage, so that format cannot rely on zeros). */
static uint8_t *memory_new(size_t len) {
    void *m = NULL;
    if (posix_memalign(&m, LSX_REPLAY_FILTER_ALIGNMENT, len) != 0) abort();
    lsx_random(m, len);
    return m;
}

static uint8_t *memory_copy(const uint8_t *from, size_t len) {
    uint8_t *m = memory_new(len);
    memcpy(m, from, len);
    return m;
}

static uint8_t *random_tags(size_t n) {
    uint8_t *tags = malloc(n * LSX_TAG_BYTES);
    lsx_random(tags, n * LSX_TAG_BYTES);
    return tags;
}

/* Every one of the n tags is refused by f. */
static int all_refused(lsx_replay_filter *f, const uint8_t *tags, size_t n) {
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        ok &= lsx_replay_filter_contains(f, tags + i * LSX_TAG_BYTES) == 1;
        ok &= lsx_replay_filter_insert(f, tags + i * LSX_TAG_BYTES) == LSX_ERR_REPLAY;
    }
    return ok;
}

/* Records n tags into f; 1 if each was new. */
static int record_all(lsx_replay_filter *f, const uint8_t *tags, size_t n) {
    int ok = 1;
    for (size_t i = 0; i < n; i++) ok &= lsx_replay_filter_insert(f, tags + i * LSX_TAG_BYTES) == LSX_OK;
    return ok;
}

/* Rewrites the digest of the header's fixed fields, as someone who knows the
 * layout (and not only random corruption) could. */
static void fix_digest(uint8_t *memory) {
    crypto_generichash(memory + LSXI_RF_DIGEST_OFFSET, LSXI_RF_DIGEST_BYTES, memory, LSXI_RF_DIGEST_OFFSET, NULL, 0);
}

static void test_sizes(void) {
    current_test = "replay layout: sizes";
    CHECK(lsx_replay_filter_header_bytes() == LSX_REPLAY_FILTER_HEADER_BYTES);
    CHECK(lsx_replay_filter_block_bytes() == LSX_REPLAY_FILTER_BLOCK_BYTES);
    CHECK(lsx_replay_filter_alignment() == LSX_REPLAY_FILTER_ALIGNMENT);
    CHECK(lsx_replay_boot_id_bytes() == LSX_REPLAY_BOOT_ID_BYTES);
    CHECK(lsx_replay_filter_layout_bytes(0, 1e-6) == 0);
    CHECK(lsx_replay_filter_layout_bytes(100, 0.0) == 0);
    CHECK(lsx_replay_filter_layout_bytes(100, 0.9) == 0);
    const size_t len = lsx_replay_filter_layout_bytes(10000000, 1e-6);
    CHECK(len > LSX_REPLAY_FILTER_HEADER_BYTES && (len - LSX_REPLAY_FILTER_HEADER_BYTES) % LSX_REPLAY_FILTER_BLOCK_BYTES == 0);
    CHECK(len == LSX_REPLAY_FILTER_LAYOUT_BYTES((len - LSX_REPLAY_FILTER_HEADER_BYTES) / LSX_REPLAY_FILTER_BLOCK_BYTES));
    printf("  replay layout: 10^7 tags at 1e-6 take %zu bytes (%.1f bits/tag)\n", len, 8.0 * (double)len / 1e7);
    /* The in-memory filter has the same layout, plus its object. */
    lsx_replay_filter *f = NULL;
    CHECK_RC(lsx_replay_filter_create(&f, 5000, 1e-6, 0), LSX_OK);
    CHECK(lsx_replay_filter_memory_bytes(f) > lsx_replay_filter_layout_bytes(5000, 1e-6));
    lsx_replay_filter_destroy(f);
}

static void test_arguments(void) {
    current_test = "replay layout: arguments";
    const size_t len = lsx_replay_filter_layout_bytes(1000, 1e-6);
    uint8_t *m = memory_new(len + LSX_REPLAY_FILTER_ALIGNMENT), zeros[LSX_REPLAY_BOOT_ID_BYTES] = {0};
    lsx_replay_filter *f = (lsx_replay_filter *)m; /* not NULL: each refusal must set it to NULL */
    CHECK_RC(lsx_replay_filter_format(NULL, m, len, 1000, 1e-6, 0, boot_a), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_replay_filter_format(&f, NULL, len, 1000, 1e-6, 0, boot_a), LSX_ERR_ARGUMENT);
    CHECK(f == NULL);
    CHECK_RC(lsx_replay_filter_format(&f, m + 8, len, 1000, 1e-6, 0, boot_a), LSX_ERR_ARGUMENT); /* misaligned */
    CHECK_RC(lsx_replay_filter_format(&f, m, LSX_REPLAY_FILTER_HEADER_BYTES - 1, 1000, 1e-6, 0, boot_a), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_replay_filter_format(&f, m, len, 1000, 1e-6, 0, NULL), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_replay_filter_format(&f, m, len, 1000, 1e-6, 0, zeros), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_replay_filter_format(&f, m, len, 0, 1e-6, 0, boot_a), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_replay_filter_format(&f, m, len, 1000, 0.7, 0, boot_a), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_replay_filter_format(&f, m, len - 1, 1000, 1e-6, 0, boot_a), LSX_ERR_LENGTH);
    CHECK_RC(lsx_replay_filter_format(&f, m, len + LSX_REPLAY_FILTER_BLOCK_BYTES, 1000, 1e-6, 0, boot_a), LSX_ERR_LENGTH);
    CHECK(f == NULL);
    CHECK_RC(lsx_replay_filter_format(&f, m, len, 1000, 1e-6, 0, boot_a), LSX_OK);
    lsx_replay_filter_destroy(f);
    CHECK_RC(lsx_replay_filter_attach(NULL, m, len, 0, boot_a), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_replay_filter_attach(&f, m, len, 0, zeros), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_replay_filter_attach(&f, m + 8, len, 0, boot_a), LSX_ERR_ARGUMENT);
    CHECK_RC(lsx_replay_filter_attach(&f, m, 0, 0, boot_a), LSX_ERR_ARGUMENT);
    CHECK(f == NULL);
    CHECK_RC(lsx_replay_filter_mark_clean(NULL), LSX_ERR_ARGUMENT);
    lsx_replay_filter_seal(NULL);
    CHECK(strcmp(lsx_error_name(LSX_ERR_REPLAY_LAYOUT), "replay_filter_bad_layout") == 0);
    CHECK(strcmp(lsx_error_name(LSX_ERR_REPLAY_LOST), "replay_filter_may_have_lost_tags") == 0);
    free(m);
}

static void test_format_attach(void) {
    current_test = "replay layout: attach keeps every tag";
    const uint64_t capacity = 4000;
    const size_t n = 3000, len = lsx_replay_filter_layout_bytes(capacity, 1e-6);
    uint8_t *m = memory_new(len), *tags = random_tags(n), *fresh = random_tags(10);
    lsx_replay_filter *f = NULL, *reference = NULL;
    CHECK_RC(lsx_replay_filter_format(&f, m, len, capacity, 1e-6, 77, boot_a), LSX_OK);
    CHECK_RC(lsx_replay_filter_create(&reference, capacity, 1e-6, 77), LSX_OK);
    CHECK(lsx_replay_filter_false_positive_rate(f) == lsx_replay_filter_false_positive_rate(reference));
    CHECK(lsx_replay_filter_capacity(f) == capacity && lsx_replay_filter_epoch(f) == 77);
    CHECK(lsx_replay_filter_count(f) == 0);
    CHECK(record_all(f, tags, n));
    CHECK(lsx_replay_filter_count(f) == n);
    CHECK(all_refused(f, tags, n));
    const double fpr = lsx_replay_filter_false_positive_rate(f);
    lsx_replay_filter_destroy(f);
    lsx_replay_filter_destroy(reference);

    /* Another epoch's filter is refused and left as it was. */
    uint8_t *before = memory_copy(m, len);
    f = (lsx_replay_filter *)m;
    CHECK_RC(lsx_replay_filter_attach(&f, m, len, 76, boot_b), LSX_ERR_REPLAY_LAYOUT);
    CHECK(f == NULL && memcmp(before, m, len) == 0);
    free(before);
    /* The same memory, attached again in the same boot (a process that died):
     * the same key, sizes and count, and every tag still refused. */
    CHECK_RC(lsx_replay_filter_attach(&f, m, len, 77, boot_a), LSX_OK);
    CHECK(lsx_replay_filter_capacity(f) == capacity && lsx_replay_filter_epoch(f) == 77);
    CHECK(lsx_replay_filter_count(f) == n);
    CHECK(lsx_replay_filter_false_positive_rate(f) == fpr);
    CHECK(all_refused(f, tags, n));
    CHECK(record_all(f, fresh, 10));
    CHECK(lsx_replay_filter_count(f) == n + 10);
    /* Rotation works on caller memory too, and the header follows it. */
    lsx_replay_filter_rotate(f, 78);
    CHECK(lsx_replay_filter_count(f) == 0 && lsx_replay_filter_epoch(f) == 78);
    CHECK(record_all(f, tags, 10));
    lsx_replay_filter_destroy(f);
    CHECK_RC(lsx_replay_filter_attach(&f, m, len, 78, boot_a), LSX_OK);
    CHECK(lsx_replay_filter_epoch(f) == 78 && lsx_replay_filter_count(f) == 10);
    CHECK(all_refused(f, tags, 10));
    CHECK(lsx_replay_filter_contains(f, tags + 10 * LSX_TAG_BYTES) == 0);
    lsx_replay_filter_destroy(f);
    /* Saturation is kept across an attach. */
    const size_t small_len = lsx_replay_filter_layout_bytes(5, 1e-6);
    uint8_t *small = memory_new(small_len);
    CHECK_RC(lsx_replay_filter_format(&f, small, small_len, 5, 1e-6, 0, boot_a), LSX_OK);
    CHECK(record_all(f, tags, 5));
    CHECK_RC(lsx_replay_filter_insert(f, fresh), LSX_ERR_REPLAY_FULL);
    lsx_replay_filter_destroy(f);
    CHECK_RC(lsx_replay_filter_attach(&f, small, small_len, 0, boot_a), LSX_OK);
    CHECK_RC(lsx_replay_filter_insert(f, fresh), LSX_ERR_REPLAY_FULL);
    CHECK(all_refused(f, tags, 5));
    lsx_replay_filter_destroy(f);
    free(small);
    free(m);
    free(tags);
    free(fresh);
}

static void test_boots(void) {
    current_test = "replay layout: boot id and clean mark";
    const size_t n = 500, len = lsx_replay_filter_layout_bytes(1000, 1e-6);
    uint8_t *m = memory_new(len), *tags = random_tags(n + 1), boot_c[LSX_REPLAY_BOOT_ID_BYTES];
    lsx_random(boot_c, sizeof boot_c);
    lsx_replay_filter *f = NULL;
    CHECK_RC(lsx_replay_filter_format(&f, m, len, 1000, 1e-6, 1, boot_a), LSX_OK);
    CHECK(record_all(f, tags, n));
    lsx_replay_filter_destroy(f); /* as a killed process: no seal, no mark */
    /* Another boot without a clean mark: the filter may have lost tags. */
    f = (lsx_replay_filter *)m;
    CHECK_RC(lsx_replay_filter_attach(&f, m, len, 1, boot_b), LSX_ERR_REPLAY_LOST);
    CHECK(f == NULL);
    /* ... and says so every time, not only the first. */
    CHECK_RC(lsx_replay_filter_attach(&f, m, len, 1, boot_c), LSX_ERR_REPLAY_LOST);
    /* The same boot: the page cache held everything. */
    CHECK_RC(lsx_replay_filter_attach(&f, m, len, 1, boot_a), LSX_OK);
    /* A clean mark needs a seal first; sealing refuses every new tag but still finds the old. */
    CHECK_RC(lsx_replay_filter_mark_clean(f), LSX_ERR_ARGUMENT);
    lsx_replay_filter_seal(f);
    CHECK_RC(lsx_replay_filter_insert(f, tags + n * LSX_TAG_BYTES), LSX_ERR_REPLAY_FULL);
    CHECK(lsx_replay_filter_contains(f, tags) == 1);
    CHECK_RC(lsx_replay_filter_mark_clean(f), LSX_OK);
    lsx_replay_filter_destroy(f);
    /* Clean: good in any boot, which then owns it (open again). */
    CHECK_RC(lsx_replay_filter_attach(&f, m, len, 1, boot_b), LSX_OK);
    CHECK(all_refused(f, tags, n));
    CHECK(lsx_replay_filter_count(f) == n);
    lsx_replay_filter_destroy(f);
    CHECK_RC(lsx_replay_filter_attach(&f, m, len, 1, boot_c), LSX_ERR_REPLAY_LOST);
    CHECK_RC(lsx_replay_filter_attach(&f, m, len, 1, boot_a), LSX_ERR_REPLAY_LOST);
    CHECK_RC(lsx_replay_filter_attach(&f, m, len, 1, boot_b), LSX_OK);
    /* A rotation after the clean mark opens the header again. */
    lsx_replay_filter_seal(f);
    CHECK_RC(lsx_replay_filter_mark_clean(f), LSX_OK);
    lsx_replay_filter_rotate(f, 2);
    lsx_replay_filter_destroy(f);
    CHECK_RC(lsx_replay_filter_attach(&f, m, len, 2, boot_c), LSX_ERR_REPLAY_LOST);
    free(m);
    free(tags);
}

/* Attaches a changed copy of `image`: the answer is always a code, and a filter
 * that attaches with its fixed fields and blocks unchanged refuses every tag. */
static int attach_changed(const uint8_t *image, const uint8_t *changed, size_t len, const uint8_t *tags, size_t n) {
    uint8_t *m = memory_copy(changed, len);
    lsx_replay_filter *f = NULL;
    int rc = lsx_replay_filter_attach(&f, m, len, 5, boot_a);
    CHECK(rc == LSX_OK || rc == LSX_ERR_REPLAY_LAYOUT || rc == LSX_ERR_REPLAY_LOST);
    CHECK((rc == LSX_OK) == (f != NULL));
    if (rc == LSX_OK) {
        CHECK(lsx_replay_filter_count(f) <= lsx_replay_filter_capacity(f));
        if (memcmp(image, changed, LSXI_RF_BOOT_ID_OFFSET) == 0 &&
            memcmp(image + LSXI_RF_BLOCKS_START, changed + LSXI_RF_BLOCKS_START, len - LSXI_RF_BLOCKS_START) == 0)
            CHECK(all_refused(f, tags, n));
        lsx_replay_filter_destroy(f);
    }
    free(m);
    return rc;
}

static void test_hostile_headers(void) {
    current_test = "replay layout: hostile headers";
    const size_t n = 50, len = lsx_replay_filter_layout_bytes(100, 1e-6);
    uint8_t *image = memory_new(len), *tags = random_tags(n);
    lsx_replay_filter *f = NULL;
    CHECK_RC(lsx_replay_filter_format(&f, image, len, 100, 1e-6, 5, boot_a), LSX_OK);
    CHECK(record_all(f, tags, n));
    lsx_replay_filter_destroy(f);
    uint8_t *changed = memory_copy(image, len);

    /* Every bit of the header flipped alone. */
    int attached = 0, layout = 0, lost = 0;
    for (size_t bit = 0; bit < 8 * LSX_REPLAY_FILTER_HEADER_BYTES; bit++) {
        memcpy(changed, image, len);
        changed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int rc = attach_changed(image, changed, len, tags, n);
        attached += rc == LSX_OK;
        layout += rc == LSX_ERR_REPLAY_LAYOUT;
        lost += rc == LSX_ERR_REPLAY_LOST;
        /* Any change to the fixed fields, the digest or the state is caught. */
        if (bit / 8 < LSXI_RF_BOOT_ID_OFFSET ||
            (bit / 8 >= LSXI_RF_STATE_OFFSET && bit / 8 < LSXI_RF_STATE_OFFSET + LSXI_RF_STATE_BYTES))
            CHECK(rc == LSX_ERR_REPLAY_LAYOUT);
        /* A changed boot id of an open filter is another boot's. */
        if (bit / 8 >= LSXI_RF_BOOT_ID_OFFSET && bit / 8 < LSXI_RF_STATE_OFFSET) CHECK(rc == LSX_ERR_REPLAY_LOST);
    }
    printf("  replay layout: %d single-bit header changes: %d attach, %d bad layout, %d lost\n",
           8 * LSX_REPLAY_FILTER_HEADER_BYTES, attached, layout, lost);

    /* Lengths that do not match the header, down to none. */
    for (size_t cut = 1; cut <= len; cut = cut < 256 ? cut + 1 : cut * 2) {
        uint8_t *m = memory_copy(image, len);
        f = NULL;
        const int rc = lsx_replay_filter_attach(&f, m, len - cut, 5, boot_a);
        CHECK(rc == (len - cut < LSX_REPLAY_FILTER_HEADER_BYTES ? LSX_ERR_ARGUMENT : LSX_ERR_REPLAY_LAYOUT) && f == NULL);
        free(m);
    }
    uint8_t *longer = memory_new(len + LSX_REPLAY_FILTER_BLOCK_BYTES);
    memcpy(longer, image, len);
    CHECK_RC(lsx_replay_filter_attach(&f, longer, len + LSX_REPLAY_FILTER_BLOCK_BYTES, 5, boot_a), LSX_ERR_REPLAY_LAYOUT);
    free(longer);

    /* Headers that pass the digest but not the sizes (written by someone who knows the layout). */
    struct {
        size_t offset, bytes;
        uint64_t value;
    } sizes[] = {
        {LSXI_RF_VERSION_OFFSET, LSXI_RF_VERSION_BYTES, LSXI_RF_LAYOUT_VERSION + 1},
        {LSXI_RF_BITS_OFFSET, LSXI_RF_BITS_BYTES, 0},
        {LSXI_RF_BITS_OFFSET, LSXI_RF_BITS_BYTES, 33},
        {LSXI_RF_BITS_OFFSET, LSXI_RF_BITS_BYTES, UINT32_MAX},
        {LSXI_RF_CAPACITY_OFFSET, LSXI_RF_CAPACITY_BYTES, 0},
        {LSXI_RF_CAPACITY_OFFSET, LSXI_RF_CAPACITY_BYTES, UINT64_MAX},
        {LSXI_RF_CAPACITY_OFFSET, LSXI_RF_CAPACITY_BYTES, 1},    /* 1 tag in this many blocks: too sparse */
        {LSXI_RF_CAPACITY_OFFSET, LSXI_RF_CAPACITY_BYTES, 100000}, /* 100000 in this few: too dense */
        {LSXI_RF_BLOCKS_OFFSET, LSXI_RF_BLOCKS_BYTES, 0},
        {LSXI_RF_BLOCKS_OFFSET, LSXI_RF_BLOCKS_BYTES, UINT64_MAX},
        {LSXI_RF_BLOCKS_OFFSET, LSXI_RF_BLOCKS_BYTES, (UINT64_MAX - LSX_REPLAY_FILTER_HEADER_BYTES) / 64 + 1},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        memcpy(changed, image, len);
        lsxi_store_be(changed + sizes[i].offset, sizes[i].bytes, sizes[i].value);
        fix_digest(changed);
        CHECK_RC(attach_changed(image, changed, len, tags, n), LSX_ERR_REPLAY_LAYOUT);
    }
    /* A count above the capacity; a lower one is accepted (it only lets more tags in). */
    uint64_t count = 101;
    memcpy(changed, image, len);
    memcpy(changed + LSXI_RF_COUNT_OFFSET, &count, sizeof count);
    CHECK_RC(attach_changed(image, changed, len, tags, n), LSX_ERR_REPLAY_LAYOUT);
    count = 0;
    memcpy(changed + LSXI_RF_COUNT_OFFSET, &count, sizeof count);
    CHECK_RC(attach_changed(image, changed, len, tags, n), LSX_OK);
    /* A state that is neither open nor clean, in any boot. */
    memcpy(changed, image, len);
    lsxi_store_be(changed + LSXI_RF_STATE_OFFSET, LSXI_RF_STATE_BYTES, 0);
    CHECK_RC(attach_changed(image, changed, len, tags, n), LSX_ERR_REPLAY_LAYOUT);
    /* Random headers, and random headers with a valid magic and digest. */
    int refused = 1;
    for (int i = 0; i < 2000; i++) {
        memcpy(changed, image, len);
        lsx_random(changed, LSX_REPLAY_FILTER_HEADER_BYTES);
        if (i % 2) {
            memcpy(changed, LSXI_RF_MAGIC, LSXI_RF_MAGIC_BYTES);
            lsxi_store_be(changed + LSXI_RF_VERSION_OFFSET, LSXI_RF_VERSION_BYTES, LSXI_RF_LAYOUT_VERSION);
            fix_digest(changed);
        }
        refused &= attach_changed(image, changed, len, tags, n) == LSX_ERR_REPLAY_LAYOUT;
    }
    CHECK(refused);
    free(changed);
    free(image);
    free(tags);
}

/* ---- Exact inserts under concurrency ---- */

#define THREADS 4

typedef struct race {
    lsx_replay_filter *filter;
    const uint8_t *tags;
    size_t n;
    int same_order; /* every thread walks the tags in the same order (else each from its own start) */
    atomic_uint *accepted; /* per tag: how many threads got LSX_OK */
    atomic_uint full;
    pthread_barrier_t start;
} race;

typedef struct racer {
    race *race;
    unsigned index;
} racer;

static void *race_inserts(void *p) {
    racer *r = p;
    race *x = r->race;
    const size_t offset = x->same_order ? 0 : r->index * x->n / THREADS;
    pthread_barrier_wait(&x->start);
    for (size_t i = 0; i < x->n; i++) {
        const size_t t = (i + offset) % x->n;
        const int rc = lsx_replay_filter_insert(x->filter, x->tags + t * LSX_TAG_BYTES);
        if (rc == LSX_OK) atomic_fetch_add(&x->accepted[t], 1);
        else if (rc == LSX_ERR_REPLAY_FULL) atomic_fetch_add(&x->full, 1);
    }
    return NULL;
}

/* THREADS threads insert the same n tags at once: each tag is accepted by at
 * most one of them, and the count is what they were told. */
static void race_filter(lsx_replay_filter *f, size_t n, int same_order, size_t *accepted_total, size_t *doubles,
                        unsigned *full) {
    race x = {.filter = f, .n = n, .same_order = same_order};
    uint8_t *tags = random_tags(n);
    x.tags = tags;
    x.accepted = calloc(n, sizeof *x.accepted);
    atomic_init(&x.full, 0);
    pthread_barrier_init(&x.start, NULL, THREADS);
    pthread_t threads[THREADS];
    racer racers[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        racers[i] = (racer){&x, i};
        pthread_create(&threads[i], NULL, race_inserts, &racers[i]);
    }
    for (unsigned i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&x.start);
    *accepted_total = *doubles = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned a = atomic_load(&x.accepted[i]);
        *accepted_total += a;
        *doubles += a > 1;
    }
    *full = atomic_load(&x.full);
    free(x.accepted);
    free(tags);
}

static void test_concurrent_inserts(void) {
    current_test = "replay filter: exact inserts under concurrency";
    const size_t n = 20000, len = lsx_replay_filter_layout_bytes(4 * n, 1e-9);
    for (int kind = 0; kind < 2; kind++) {
        for (int same_order = 0; same_order < 2; same_order++) {
            lsx_replay_filter *f = NULL;
            uint8_t *m = NULL;
            if (kind == 0) {
                CHECK_RC(lsx_replay_filter_create(&f, 4 * n, 1e-9, 0), LSX_OK);
            } else {
                m = memory_new(len);
                CHECK_RC(lsx_replay_filter_format(&f, m, len, 4 * n, 1e-9, 0, boot_a), LSX_OK);
            }
            size_t accepted, doubles;
            unsigned full;
            race_filter(f, n, same_order, &accepted, &doubles, &full);
            CHECK(doubles == 0);
            CHECK(full == 0);
            CHECK(accepted == lsx_replay_filter_count(f));
            CHECK(accepted + 2 >= n); /* a false positive at 1e-9 is possible, not likely */
            lsx_replay_filter_destroy(f);
            free(m);
        }
    }
    /* Saturation under concurrency: exactly `capacity` distinct tags get in. */
    current_test = "replay filter: exact saturation under concurrency";
    for (int kind = 0; kind < 2; kind++) {
        const uint64_t capacity = 3000;
        const size_t small_len = lsx_replay_filter_layout_bytes(capacity, 1e-6);
        lsx_replay_filter *f = NULL;
        uint8_t *m = NULL;
        if (kind == 0) {
            CHECK_RC(lsx_replay_filter_create(&f, capacity, 1e-6, 0), LSX_OK);
        } else {
            m = memory_new(small_len);
            CHECK_RC(lsx_replay_filter_format(&f, m, small_len, capacity, 1e-6, 0, boot_a), LSX_OK);
        }
        size_t accepted, doubles;
        unsigned full;
        race_filter(f, 8000, 0, &accepted, &doubles, &full);
        CHECK(accepted == capacity && doubles == 0);
        CHECK(lsx_replay_filter_count(f) == capacity);
        CHECK(full > 0);
        lsx_replay_filter_destroy(f);
        free(m);
    }
}

/* ---- Real processes over a MAP_SHARED file ---- */

/* A filter file mapped as a node maps it: 0600, its whole length, MAP_SHARED. */
static uint8_t *map_file(int *fd, const char *path, size_t len, int create) {
    *fd = open(path, O_RDWR | (create ? O_CREAT | O_TRUNC : 0) | O_CLOEXEC, 0600);
    if (*fd < 0) return NULL;
    if (create && ftruncate(*fd, (off_t)len) != 0) return NULL;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    return m == MAP_FAILED ? NULL : m;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return 0;
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

/* The child: formats the file and records random tags, reporting each on the
 * pipe once its insert has returned; with `close_after` > 0 it stops after that
 * many, closes cleanly (seal, msync, clean mark, msync) and exits. */
static void child_record(const char *path, size_t len, uint64_t capacity, int report, size_t close_after) {
    int fd;
    uint8_t *m = map_file(&fd, path, len, 1), tag[LSX_TAG_BYTES];
    lsx_replay_filter *f = NULL;
    if (m == NULL || lsx_replay_filter_format(&f, m, len, capacity, 1e-6, 9, boot_a) != LSX_OK ||
        msync(m, LSX_REPLAY_FILTER_HEADER_BYTES, MS_SYNC) != 0)
        _exit(3);
    for (size_t i = 0; close_after == 0 || i < close_after; i++) {
        lsx_random(tag, sizeof tag);
        if (lsx_replay_filter_insert(f, tag) != LSX_OK) continue;
        if (!write_all(report, tag, sizeof tag)) _exit(4);
    }
    lsx_replay_filter_seal(f);
    if (msync(m, len, MS_SYNC) != 0 || lsx_replay_filter_mark_clean(f) != LSX_OK ||
        msync(m, LSX_REPLAY_FILTER_HEADER_BYTES, MS_SYNC) != 0)
        _exit(5);
    lsx_replay_filter_destroy(f);
    munmap(m, len);
    close(fd);
    close(report);
    exit(0);
}

/* Reads tags from the pipe until it holds `want` of them (or to its end when 0). */
static size_t read_tags(uint8_t **tags, size_t *have, size_t *cap, int fd, size_t want) {
    uint8_t buf[LSX_TAG_BYTES * 64];
    while (want == 0 || *have < want * LSX_TAG_BYTES) {
        size_t ask = want == 0 ? sizeof buf : want * LSX_TAG_BYTES - *have;
        ssize_t r = read(fd, buf, ask < sizeof buf ? ask : sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (*have + (size_t)r > *cap) {
            *cap = 2 * (*have + (size_t)r);
            *tags = realloc(*tags, *cap);
        }
        memcpy(*tags + *have, buf, (size_t)r);
        *have += (size_t)r;
    }
    return *have / LSX_TAG_BYTES;
}

/* One child recording tags: killed after `kill_after` reported tags (plus a
 * random pause), or left to close cleanly after `close_after`. Then this
 * process attaches the file and must refuse every reported tag. */
static void run_child(const char *path, size_t kill_after, size_t close_after) {
    const uint64_t capacity = 200000;
    const size_t len = lsx_replay_filter_layout_bytes(capacity, 1e-6);
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) abort();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
        close(pipe_fds[0]);
        child_record(path, len, capacity, pipe_fds[1], close_after);
    }
    close(pipe_fds[1]);
    uint8_t *tags = NULL;
    size_t have = 0, cap = 0;
    int status = 0;
    if (kill_after > 0) {
        read_tags(&tags, &have, &cap, pipe_fds[0], kill_after);
        uint32_t pause_us = randombytes_uniform(2000);
        usleep(pause_us);
        kill(pid, SIGKILL);
    }
    const size_t reported = read_tags(&tags, &have, &cap, pipe_fds[0], 0); /* what the child wrote before it ended */
    close(pipe_fds[0]);
    waitpid(pid, &status, 0);
    if (kill_after > 0) CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    else CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && reported == close_after);
    CHECK(have % LSX_TAG_BYTES == 0); /* a pipe write of one tag is atomic */

    int fd;
    uint8_t *m = map_file(&fd, path, len, 0);
    CHECK(m != NULL);
    if (m == NULL) return;
    lsx_replay_filter *f = NULL;
    /* A later boot: refused after a kill, accepted after a clean close. */
    uint8_t *copy = memory_copy(m, len);
    const int later_boot = lsx_replay_filter_attach(&f, copy, len, 9, boot_b);
    CHECK(later_boot == (kill_after > 0 ? LSX_ERR_REPLAY_LOST : LSX_OK));
    lsx_replay_filter_destroy(f);
    free(copy);
    /* This boot: every tag reported before the end is refused. */
    CHECK_RC(lsx_replay_filter_attach(&f, m, len, 9, boot_a), LSX_OK);
    if (f != NULL) {
        CHECK(lsx_replay_filter_count(f) >= reported);
        CHECK(all_refused(f, tags, reported));
        printf("  replay file: child %s after %zu reported tags (filter count %llu): all refused\n",
               kill_after > 0 ? "killed" : "closed cleanly", reported,
               (unsigned long long)lsx_replay_filter_count(f));
    }
    lsx_replay_filter_destroy(f);
    munmap(m, len);
    close(fd);
    unlink(path);
    free(tags);
}

static void test_processes(void) {
    current_test = "replay file: SIGKILL and clean close in real processes";
    char path[512];
    snprintf(path, sizeof path, "%s/test_replay.%ld.filter", directory, (long)getpid());
    const size_t kills[] = {1, 37, 500, 2000};
    for (size_t i = 0; i < sizeof kills / sizeof kills[0]; i++)
        run_child(path, kills[i] + randombytes_uniform((uint32_t)kills[i]), 0);
    run_child(path, 0, 1500);
}

int main(int argc, char **argv) {
    if (lsx_init() != LSX_OK) {
        fprintf(stderr, "lsx_init failed\n");
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    directory = argc > 1 ? argv[1] : tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp";
    lsx_random(boot_a, sizeof boot_a);
    lsx_random(boot_b, sizeof boot_b);
    test_sizes();
    test_arguments();
    test_format_attach();
    test_boots();
    test_hostile_headers();
    test_processes(); /* before any thread exists: the children are forked */
    test_concurrent_inserts();
    printf("replay: %d passed, %d failed\n", checks_run - checks_failed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}
