/* libFuzzer target for the replay filter over caller memory: arbitrary bytes
 * given to lsx_replay_filter_attach, and real filters changed by the input
 * before they are attached again, then inserts and lookups on whatever
 * attached.
 *
 * Input: byte 0 picks the mode,
 *   bit 0    0: raw: the rest of the input is the memory, as it is
 *            1: made: a real filter, changed as the bytes below say, attached
 * Made: capacity (1 byte: one of 8 from 1 to 2048), rate (1 byte: 0.5, 1e-2,
 * 1e-6, 1e-9), flags (1 byte: bit 0 closed cleanly before the changes, bit 1
 * attached in another boot, bit 2 digest rewritten after the changes, bit 3
 * length changed by the next byte), the length change (1 byte, signed), the
 * number of tags to record (1 byte, % 64), the number of changes (1 byte, % 16),
 * then each change: offset (2 bytes, within the memory) and an XOR mask.
 * The rest of the input names the tags of the inserts and lookups that
 * follow an attach. Missing bytes read as zero. */
#include "fuzz_common.h"
#include "replay_filter_layout.h"

#define MAX_OPS 32
#define MAX_RECORDED 64
#define CAPACITIES 8
#define RATES 4
#define FUZZ_EPOCH 3 /* the epoch of every filter made here */

static const uint64_t capacities[CAPACITIES] = {1, 2, 3, 7, 64, 100, 1000, 2048};
static const double rates[RATES] = {0.5, 1e-2, 1e-6, 1e-9};
static uint8_t boot_a[LSX_REPLAY_BOOT_ID_BYTES], boot_b[LSX_REPLAY_BOOT_ID_BYTES];

/* An empty filter of each size, formatted once (sizing takes milliseconds)
 * and copied for each input, so that an input always meets the same hash key. */
static struct {
    uint8_t *memory;
    size_t len;
} templates[CAPACITIES][RATES];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (lsx_init() != LSX_OK) abort();
    memset(boot_a, 0xa1, sizeof boot_a);
    memset(boot_b, 0xb2, sizeof boot_b);
    return 0;
}

/* Exactly len bytes (ASan catches a read past them), a copy of `from` or zeros. */
static uint8_t *aligned_copy(const uint8_t *from, size_t len) {
    void *m = NULL;
    if (posix_memalign(&m, LSX_REPLAY_FILTER_ALIGNMENT, len == 0 ? 1 : len) != 0) abort();
    if (from != NULL && len > 0) memcpy(m, from, len);
    else memset(m, 0, len);
    return m;
}

/* A copy of the empty filter of this size, open in boot_a; its length in *len. */
static uint8_t *empty_filter(size_t *len, unsigned c, unsigned r) {
    if (templates[c][r].memory == NULL) {
        const size_t layout = lsx_replay_filter_layout_bytes(capacities[c], rates[r]);
        FUZZ_ASSERT(layout > LSX_REPLAY_FILTER_HEADER_BYTES);
        uint8_t *memory = aligned_copy(NULL, layout);
        lsx_replay_filter *f = NULL;
        FUZZ_ASSERT(lsx_replay_filter_format(&f, memory, layout, capacities[c], rates[r], FUZZ_EPOCH, boot_a) == LSX_OK);
        lsx_replay_filter_destroy(f);
        templates[c][r].memory = memory;
        templates[c][r].len = layout;
    }
    *len = templates[c][r].len;
    return aligned_copy(templates[c][r].memory, *len);
}

/* The i-th tag named by the rest of the input. */
static void tag_for(uint8_t tag[LSX_TAG_BYTES], const fuzz_reader *r, unsigned i) {
    const uint8_t *tail = r->pos < r->size ? r->data + r->pos : r->data;
    const size_t tail_len = r->pos < r->size ? r->size - r->pos : 0;
    uint8_t key[crypto_generichash_KEYBYTES] = {0};
    key[0] = (uint8_t)i;
    crypto_generichash(tag, LSX_TAG_BYTES, tail, tail_len, key, sizeof key);
}

/* Inserts and lookups on an attached filter: every answer is one an insert
 * may give, a recorded tag is found and refused, and the count never passes
 * the capacity. */
static void exercise(lsx_replay_filter *f, const fuzz_reader *tags) {
    const unsigned ops = tags->size > tags->pos ? (unsigned)((tags->size - tags->pos) % MAX_OPS) + 1 : 1;
    for (unsigned i = 0; i < ops; i++) {
        uint8_t tag[LSX_TAG_BYTES];
        tag_for(tag, tags, i % 8); /* some tags come twice */
        const int rc = lsx_replay_filter_insert(f, tag);
        fuzz_check_code(rc);
        FUZZ_ASSERT(rc == LSX_OK || rc == LSX_ERR_REPLAY || rc == LSX_ERR_REPLAY_FULL);
        if (rc == LSX_OK) {
            FUZZ_ASSERT(lsx_replay_filter_contains(f, tag) == 1);
            FUZZ_ASSERT(lsx_replay_filter_insert(f, tag) == LSX_ERR_REPLAY);
        }
        FUZZ_ASSERT(lsx_replay_filter_count(f) <= lsx_replay_filter_capacity(f));
    }
}

/* Closes an attached filter cleanly and attaches it in another boot: it comes
 * back with the same count and finds what it found before. */
static void close_and_reattach(lsx_replay_filter *f, uint8_t *memory, size_t len) {
    static const uint8_t probe[LSX_TAG_BYTES] = {7};
    const int had = lsx_replay_filter_contains(f, probe);
    const uint64_t before = lsx_replay_filter_count(f);
    lsx_replay_filter_seal(f);
    FUZZ_ASSERT(lsx_replay_filter_insert(f, probe) == (had ? LSX_ERR_REPLAY : LSX_ERR_REPLAY_FULL));
    FUZZ_ASSERT(lsx_replay_filter_mark_clean(f) == LSX_OK);
    lsx_replay_filter_destroy(f);
    lsx_replay_filter *again = NULL;
    FUZZ_ASSERT(lsx_replay_filter_attach(&again, memory, len, FUZZ_EPOCH, boot_b) == LSX_OK);
    FUZZ_ASSERT(lsx_replay_filter_count(again) == before && lsx_replay_filter_contains(again, probe) == had);
    lsx_replay_filter_destroy(again);
}

static void fuzz_raw(const uint8_t *data, size_t size) {
    uint8_t *memory = aligned_copy(data, size);
    lsx_replay_filter *f = NULL;
    const int rc = lsx_replay_filter_attach(&f, memory, size, FUZZ_EPOCH, boot_a);
    fuzz_check_code(rc);
    FUZZ_ASSERT(rc == LSX_OK || rc == LSX_ERR_REPLAY_LAYOUT || rc == LSX_ERR_REPLAY_LOST ||
                (rc == LSX_ERR_ARGUMENT && size < LSX_REPLAY_FILTER_HEADER_BYTES));
    FUZZ_ASSERT((rc == LSX_OK) == (f != NULL));
    if (f != NULL) {
        fuzz_reader tags = {data, size, 0};
        exercise(f, &tags);
        close_and_reattach(f, memory, size);
    }
    free(memory);
}

static void fuzz_made(fuzz_reader *in) {
    const unsigned c = fuzz_read_byte(in) % CAPACITIES, r = fuzz_read_byte(in) % RATES;
    const uint8_t flags = fuzz_read_byte(in);
    const int8_t delta = (int8_t)fuzz_read_byte(in);
    const unsigned recorded = fuzz_read_byte(in) % MAX_RECORDED, changes = fuzz_read_byte(in) % 16;

    /* A real filter with some tags, perhaps closed cleanly. */
    size_t layout;
    uint8_t *memory = empty_filter(&layout, c, r);
    lsx_replay_filter *f = NULL;
    FUZZ_ASSERT(lsx_replay_filter_attach(&f, memory, layout, FUZZ_EPOCH, boot_a) == LSX_OK);
    uint8_t tags[MAX_RECORDED][LSX_TAG_BYTES];
    unsigned held = 0; /* the tags the filter holds: recorded, or refused as already there */
    for (unsigned i = 0; i < recorded; i++) {
        crypto_generichash(tags[held], LSX_TAG_BYTES, (const uint8_t *)&i, sizeof i, NULL, 0);
        const int rc = lsx_replay_filter_insert(f, tags[held]);
        FUZZ_ASSERT(rc == LSX_OK || rc == LSX_ERR_REPLAY || rc == LSX_ERR_REPLAY_FULL);
        held += rc != LSX_ERR_REPLAY_FULL;
    }
    const uint64_t count = lsx_replay_filter_count(f);
    if (flags & 1) {
        lsx_replay_filter_seal(f);
        FUZZ_ASSERT(lsx_replay_filter_mark_clean(f) == LSX_OK);
    }
    lsx_replay_filter_destroy(f);
    uint8_t *image = aligned_copy(memory, layout);

    /* The changes, then perhaps a digest that covers them, then perhaps another length. */
    for (unsigned i = 0; i < changes; i++) {
        size_t at = (size_t)fuzz_read_byte(in) << 8;
        at = (at | fuzz_read_byte(in)) % layout;
        memory[at] ^= fuzz_read_byte(in);
    }
    if (flags & 4)
        crypto_generichash(memory + LSXI_RF_DIGEST_OFFSET, LSXI_RF_DIGEST_BYTES, memory, LSXI_RF_DIGEST_OFFSET,
                           NULL, 0);
    size_t len = layout;
    if ((flags & 8) && delta != 0) {
        len = delta < 0 ? layout - (size_t)(-(int)delta) : layout + (size_t)delta;
        uint8_t *resized = aligned_copy(NULL, len);
        memcpy(resized, memory, len < layout ? len : layout);
        free(memory);
        memory = resized;
    }
    const int unchanged = len == layout && memcmp(memory, image, layout) == 0;
    const int fields_kept = len == layout && memcmp(memory, image, LSXI_RF_BOOT_ID_OFFSET) == 0 &&
                            memcmp(memory + LSXI_RF_BLOCKS_START, image + LSXI_RF_BLOCKS_START,
                                   layout - LSXI_RF_BLOCKS_START) == 0;

    const uint8_t *boot = (flags & 2) ? boot_b : boot_a;
    const int rc = lsx_replay_filter_attach(&f, memory, len, FUZZ_EPOCH, boot);
    fuzz_check_code(rc);
    FUZZ_ASSERT(rc == LSX_OK || rc == LSX_ERR_REPLAY_LAYOUT || rc == LSX_ERR_REPLAY_LOST ||
                (rc == LSX_ERR_ARGUMENT && len < LSX_REPLAY_FILTER_HEADER_BYTES));
    FUZZ_ASSERT((rc == LSX_OK) == (f != NULL));
    /* Unchanged: open in this boot or closed cleanly attaches; open in another boot never does. */
    if (unchanged) FUZZ_ASSERT(rc == ((flags & 1) || boot == boot_a ? LSX_OK : LSX_ERR_REPLAY_LOST));
    if (f != NULL) {
        if (fields_kept) {
            for (unsigned i = 0; i < held; i++) FUZZ_ASSERT(lsx_replay_filter_contains(f, tags[i]) == 1);
            if (unchanged) FUZZ_ASSERT(lsx_replay_filter_count(f) == count);
        }
        exercise(f, in);
        close_and_reattach(f, memory, len);
    }
    free(image);
    free(memory);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if ((data[0] & 1) == 0) {
        fuzz_raw(data + 1, size - 1);
    } else {
        fuzz_reader in = {data + 1, size - 1, 0};
        fuzz_made(&in);
    }
    return 0;
}
