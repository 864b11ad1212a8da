/* libFuzzer target for reply blocks: lsx_surb_use on arbitrary bytes and
 * message lengths, lsx_surb_open on arbitrary secrets and payloads, and real
 * blocks (made from fuzzed routes) whose block or secret is then changed.
 *
 * Input: byte 0 picks the setting,
 *   bits 0-1  geometry (fuzz_common.h)
 *   bits 2-3  mode: 0 use arbitrary block, 1 open arbitrary secret and payload,
 *             2 real block, changed, then used, carried and opened,
 *             3 real block, used and carried, then opened with a changed secret
 *   bit  4    (modes 0, 1) lengths as given by the input rather than exact
 *   bit  5    the packet suite: version 1 or the KEM suite
 * Modes 0 and 1: message length (2 bytes) or split point (2 bytes), then the
 * bytes. Modes 2 and 3: hops (1), the suite's ephemeral randomness for that
 * many hops (lsx_ephemeral_bytes), change position (2) and xor mask (1; 0 =
 * no change), FUZZ_HOP_BYTES per hop, then the message. Missing bytes read
 * as zero. */
#include "fuzz_common.h"

#define MAX_NODES LSX_MAX_HOPS
#define MAX_PACKET FUZZ_MAX_PACKET
#define MAX_SURB LSX_SUITE_SURB_BYTES(LSX_SUITE_KEM_X25519, LSX_MAX_HOPS)
#define MAX_SURB_SECRET LSX_SURB_SECRET_BYTES(LSX_MAX_HOPS)
#define LARGEST_INPUT 65536

static lsx_node *nodes[FUZZ_SUITES][FUZZ_GEOMETRIES][MAX_NODES];
static uint8_t public_keys[MAX_NODES * LSX_KEY_BYTES];
static uint8_t message_buf[LSX_MAX_PAYLOAD + 64];
static uint8_t surb_buf[LARGEST_INPUT + MAX_SURB];
static uint8_t secret_buf[LARGEST_INPUT + MAX_SURB_SECRET];
static uint8_t payload_buf[LARGEST_INPUT + 2048];
static uint8_t packet[MAX_PACKET], next_packet[MAX_PACKET];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (lsx_init() != LSX_OK || lsx_set_backend(LSX_BACKEND_SODIUM) != LSX_OK) abort();
    for (unsigned i = 0; i < MAX_NODES; i++) {
        uint8_t secret[LSX_KEY_BYTES];
        fuzz_node_secret(secret, i);
        if (lsx_public_key(public_keys + i * LSX_KEY_BYTES, secret) != LSX_OK) abort();
        for (int s = 0; s < FUZZ_SUITES; s++)
            for (int g = 0; g < FUZZ_GEOMETRIES; g++)
                if (lsx_node_create(&nodes[s][g][i], &fuzz_geometries[s][g], secret) != LSX_OK) abort();
        sodium_memzero(secret, sizeof secret);
    }
    for (size_t i = 0; i < sizeof message_buf; i++) message_buf[i] = (uint8_t)(i * 131 + 7);
    return 0;
}

static size_t read_u16(fuzz_reader *r) { return fuzz_read_number(r, 2); }

/* The rest of the input, or exactly `n` bytes of it (zero-padded). */
static size_t read_rest(fuzz_reader *r, uint8_t *out, int exact, size_t n) {
    if (exact) {
        fuzz_read_bytes(r, out, n);
        return n;
    }
    size_t len = r->pos < r->size ? r->size - r->pos : 0;
    fuzz_read_bytes(r, out, len);
    return len;
}

/* lsx_surb_use on arbitrary bytes: refused by length, by message length, or
 * it builds a packet whose header is the block's. */
static void fuzz_use(const lsx_geometry *g, int exact, fuzz_reader *in) {
    const size_t message_len = read_u16(in) + (exact ? 0 : read_u16(in)); /* up to 128 KiB: too long too */
    const size_t surb_want = lsx_surb_bytes(g), surb_len = read_rest(in, surb_buf, exact, surb_want);
    const size_t header = lsx_header_bytes(g), total = lsx_packet_bytes(g);
    uint8_t first_hop[LSX_ADDRESS_BYTES];
    const uint8_t *message = message_len <= LSX_MAX_PAYLOAD ? message_buf : NULL;
    int expected = LSX_OK;
    if (message == NULL) expected = LSX_ERR_ARGUMENT;
    else if (surb_len != surb_want) expected = LSX_ERR_LENGTH;
    else if (message_len > LSX_MAX_MESSAGE_BYTES(g->payload)) expected = LSX_ERR_MESSAGE_TOO_LONG;
    memset(packet, 0xa5, total);
    int rc = lsx_surb_use(packet, total, first_hop, g, surb_buf, surb_len, message, message_len);
    fuzz_check_code(rc);
    FUZZ_ASSERT(rc == expected);
    if (rc == LSX_OK) {
        FUZZ_ASSERT(memcmp(first_hop, surb_buf + LSXI_SURB_FIRST_HOP_OFFSET, LSX_ADDRESS_BYTES) == 0);
        FUZZ_ASSERT(memcmp(packet, surb_buf + LSXI_SURB_HEADER_OFFSET, header) == 0);
    }
    /* Reading the first hop alone agrees with using the block, and only needs its length right. */
    uint8_t read_first_hop[LSX_ADDRESS_BYTES];
    rc = lsx_surb_first_hop(read_first_hop, g, surb_buf, surb_len);
    fuzz_check_code(rc);
    FUZZ_ASSERT(rc == (surb_len == surb_want ? LSX_OK : LSX_ERR_LENGTH));
    if (rc == LSX_OK && expected == LSX_OK) FUZZ_ASSERT(memcmp(read_first_hop, first_hop, LSX_ADDRESS_BYTES) == 0);
}

/* lsx_surb_open on arbitrary bytes: refused by length or route length, or
 * opened (then the range is inside the payload), or refused as not ours
 * (then the payload is wiped). */
static void fuzz_open(const lsx_geometry *g, int exact, fuzz_reader *in) {
    const size_t secret_want = LSX_SURB_SECRET_BYTES(g->hops);
    size_t secret_len, payload_len;
    if (exact) {
        secret_len = read_rest(in, secret_buf, 1, secret_want);
        payload_len = read_rest(in, payload_buf, 1, g->payload);
    } else {
        secret_len = read_u16(in);
        size_t left = in->pos < in->size ? in->size - in->pos : 0;
        if (secret_len > left) secret_len = left;
        fuzz_read_bytes(in, secret_buf, secret_len);
        payload_len = read_rest(in, payload_buf, 0, 0);
    }
    size_t offset = 12345, len = 12345;
    int expected = LSX_OK;
    if (secret_len != secret_want || payload_len != g->payload) expected = LSX_ERR_LENGTH;
    else if (secret_buf[LSXI_SURB_SECRET_HOPS_OFFSET] < LSX_MIN_HOPS ||
             secret_buf[LSXI_SURB_SECRET_HOPS_OFFSET] > g->hops)
        expected = LSX_ERR_ROUTE;
    int rc = lsx_surb_open(payload_buf, payload_len, &offset, &len, g, secret_buf, secret_len);
    fuzz_check_code(rc);
    if (expected != LSX_OK) {
        FUZZ_ASSERT(rc == expected);
    } else if (rc == LSX_OK) {
        FUZZ_ASSERT(offset == LSXI_PAYLOAD_MESSAGE_OFFSET && len <= LSX_MAX_MESSAGE_BYTES(g->payload));
    } else {
        FUZZ_ASSERT(rc == LSX_ERR_PAYLOAD && sodium_is_zero(payload_buf, payload_len));
    }
}

/* A real block over the fixed nodes; `change_secret` picks whether the
 * change (if any) goes into the block before use or into the secret before
 * opening. Checks every step against what the change must cause. */
static void fuzz_real(int suite, int g_index, int change_secret, fuzz_reader *in) {
    const lsx_geometry *g = &fuzz_geometries[suite][g_index];
    const size_t H = g->hops, header = lsx_header_bytes(g), total = lsx_packet_bytes(g);
    const size_t surb_len = lsx_surb_bytes(g), secret_len = lsx_surb_secret_bytes(g);
    uint8_t hops_byte, ephemeral[LSXI_MAX_EPHEMERAL_BYTES], commands[MAX_NODES * LSX_COMMAND_BYTES], mask;
    uint8_t first_hop[LSX_ADDRESS_BYTES], first_hop_out[LSX_ADDRESS_BYTES];
    int create_expected = LSX_OK;

    fuzz_read_bytes(in, &hops_byte, 1);
    const size_t hops = 1 + hops_byte % H, ephemeral_len = lsx_ephemeral_bytes(g, hops);
    fuzz_read_bytes(in, ephemeral, ephemeral_len);
    const size_t change_at = read_u16(in) % (change_secret ? secret_len : surb_len);
    fuzz_read_bytes(in, &mask, 1);
    for (size_t i = 0; i < hops; i++) {
        uint8_t hop[FUZZ_HOP_BYTES];
        fuzz_read_bytes(in, hop, sizeof hop);
        int e = fuzz_command(commands + i * LSX_COMMAND_BYTES, hop, (unsigned)i);
        if (create_expected == LSX_OK) create_expected = e;
    }
    if (create_expected == LSX_OK && commands[(hops - 1) * LSX_COMMAND_BYTES] != LSX_FLAG_FINAL)
        create_expected = LSX_ERR_ROUTE;
    const size_t message_len = in->pos < in->size ? in->size - in->pos : 0;
    const uint8_t *message = message_len > 0 ? in->data + in->pos : message_buf;
    memset(first_hop, 0x42, sizeof first_hop);

    int rc = lsx_surb_create(surb_buf, surb_len, secret_buf, secret_len, g, hops, public_keys, commands, first_hop,
                             ephemeral, ephemeral_len, NULL);
    fuzz_check_code(rc);
    FUZZ_ASSERT(rc == create_expected);
    if (rc != LSX_OK) return;
    FUZZ_ASSERT(secret_buf[LSXI_SURB_SECRET_HOPS_OFFSET] == hops);
    FUZZ_ASSERT(memcmp(surb_buf + LSXI_SURB_FIRST_HOP_OFFSET, first_hop, LSX_ADDRESS_BYTES) == 0);
    if (!change_secret) surb_buf[change_at] ^= mask;

    rc = lsx_surb_use(packet, total, first_hop_out, g, surb_buf, surb_len, message, message_len);
    fuzz_check_code(rc);
    if (message_len > LSX_MAX_MESSAGE_BYTES(g->payload)) {
        FUZZ_ASSERT(rc == LSX_ERR_MESSAGE_TOO_LONG);
        return;
    }
    FUZZ_ASSERT(rc == LSX_OK && memcmp(first_hop_out, surb_buf, LSX_ADDRESS_BYTES) == 0);

    /* Where the change went decides what must happen. */
    const int changed = mask != 0;
    const size_t kt_in_block = LSXI_SURB_REPLY_KEY_OFFSET(g->suite, H);
    const int in_header = changed && !change_secret && change_at >= LSXI_SURB_HEADER_OFFSET && change_at < kt_in_block;
    const int in_kt = changed && !change_secret && change_at >= kt_in_block;
    const int in_used_secret =
        changed && change_secret && change_at < LSXI_SURB_SECRET_HOP_KEYS_OFFSET + hops * LSX_REPLY_KEY_BYTES;

    for (size_t i = 0; i < hops; i++) {
        lsx_processed r;
        rc = lsx_process(next_packet, total, &r, nodes[suite][g_index][i], NULL, packet, total);
        fuzz_check_code(rc);
        if (in_header) {
            FUZZ_ASSERT(i == 0 && rc != LSX_OK);
            return;
        }
        FUZZ_ASSERT(rc == LSX_OK);
        uint8_t flag;
        FUZZ_ASSERT(lsx_command_decode(&flag, NULL, NULL, commands + i * LSX_COMMAND_BYTES) == LSX_OK);
        FUZZ_ASSERT(r.flag == flag);
        /* A reply is not readable as a forward message by the hops, the maker included. */
        if (flag == LSX_FLAG_FINAL) FUZZ_ASSERT(r.final_status == LSX_ERR_PAYLOAD);
        memcpy(packet, next_packet, total);
    }

    if (change_secret) secret_buf[change_at] ^= mask;
    size_t offset = 0, len = 0;
    rc = lsx_surb_open(packet + header, g->payload, &offset, &len, g, secret_buf, secret_len);
    fuzz_check_code(rc);
    /* K1 of kt, on either side (the replier's block or the maker's secret),
     * only drives the stream round that LIONESS decryption does last, and
     * that round rewrites R alone (the bytes after L): the zero prefix and
     * the length live in L and still check out, and only the message bytes
     * past L come out garbled. The check of spec 6.9 cannot see a
     * wrong K1; the maker's secret is its own, and the replier chooses the
     * message anyway. */
    const size_t kt_at = change_secret ? LSXI_SURB_SECRET_REPLY_KEY_OFFSET : kt_in_block;
    const size_t in_left = LSXI_LIONESS_LEFT_BYTES - LSXI_PAYLOAD_MESSAGE_OFFSET; /* message bytes in L */
    if (changed && change_at >= kt_at && change_at < kt_at + LSXI_LIONESS_KEY_BYTES) {
        FUZZ_ASSERT(rc == LSX_OK && offset == LSXI_PAYLOAD_MESSAGE_OFFSET && len == message_len);
        FUZZ_ASSERT(memcmp(packet + header + offset, message, message_len < in_left ? message_len : in_left) == 0);
    } else if (in_kt || in_used_secret) {
        const size_t changed_hops = secret_buf[LSXI_SURB_SECRET_HOPS_OFFSET];
        if (change_secret && change_at == LSXI_SURB_SECRET_HOPS_OFFSET &&
            (changed_hops < LSX_MIN_HOPS || changed_hops > H))
            FUZZ_ASSERT(rc == LSX_ERR_ROUTE);
        else
            FUZZ_ASSERT(rc == LSX_ERR_PAYLOAD && sodium_is_zero(packet + header, g->payload));
    } else {
        /* Unchanged, or changed where nothing reads (first hop id, unused secret tail). */
        FUZZ_ASSERT(rc == LSX_OK && offset == LSXI_PAYLOAD_MESSAGE_OFFSET && len == message_len);
        FUZZ_ASSERT(message_len == 0 || memcmp(packet + header + offset, message, message_len) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0 || size > LARGEST_INPUT) return 0;
    const int g_index = data[0] & 3, mode = (data[0] >> 2) & 3, exact = !((data[0] >> 4) & 1);
    const int suite = (data[0] >> 5) & 1;
    const lsx_geometry *g = &fuzz_geometries[suite][g_index];
    fuzz_reader in = {data + 1, size - 1, 0};
    switch (mode) {
    case 0: fuzz_use(g, exact, &in); break;
    case 1: fuzz_open(g, exact, &in); break;
    default: fuzz_real(suite, g_index, mode == 3, &in); break;
    }
    return 0;
}
