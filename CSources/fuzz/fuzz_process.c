/* libFuzzer target for lsx_process: raw bytes as a packet, and packets made
 * properly from fuzzed routes, commands and messages, then carried (and
 * sometimes tampered with) along their whole route.
 *
 * Input: bytes 0 and 1 pick the setting,
 *   byte 0 bits 0-1  geometry (fuzz_common.h: 6/2048, 2/64, 16/64, 6/2048)
 *          bit  2    replay filter on
 *          bits 3-4  output buffer: 0 and 3 a separate one, 1 in place, 2 one
 *                    that overlaps the input (must be refused)
 *          bits 5-6  mode: 0 and 1 raw packet, 2 made route, 3 made route + tamper
 *          bit  7    the nodes' X25519 backend: libsodium or libcrypto
 *   byte 1 bit  0    the packet suite: version 1 or the KEM suite
 * Raw: the rest is the packet, any length (a KEM packet's encapsulation also
 * goes to lsx_kem_decapsulate, which must agree). Made route: hops count (1 byte),
 * the suite's ephemeral randomness for that many hops (lsx_ephemeral_bytes:
 * v1's one secret, or one KEM seed per hop), [tamper: position (2), xor mask
 * (1)], then FUZZ_HOP_BYTES per hop, then the message (any length). Missing
 * bytes read as zero. */
#include "fuzz_common.h"

#define MAX_NODES LSX_MAX_HOPS
#define MAX_PACKET FUZZ_MAX_PACKET
#define SETTING_BYTES 2
/* Each input starts a new epoch in the filters it uses, so that it runs the
 * same however often it comes (inputs that make the same packet are common),
 * and no filter ever fills. */
#define FILTER_CAPACITY 256

/* [backend][suite][geometry][route position] */
static lsx_node *nodes[2][FUZZ_SUITES][FUZZ_GEOMETRIES][MAX_NODES];
static lsx_replay_filter *filters[2][FUZZ_SUITES][FUZZ_GEOMETRIES][MAX_NODES];
static uint8_t public_keys[MAX_NODES * LSX_KEY_BYTES];
static uint64_t epoch = 1;

/* Packet buffers: the input copy, the output, a scratch one for overlaps. */
static uint8_t in_buf[MAX_PACKET + 8192];
static uint8_t out_buf[MAX_PACKET + 8192];
static uint8_t overlap_buf[2 * (MAX_PACKET + 8192) + 1];
static uint8_t hop_packet[MAX_PACKET];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (lsx_init() != LSX_OK) abort();
    const lsx_backend backends[2] = {LSX_BACKEND_SODIUM, LSX_BACKEND_LIBCRYPTO};
    for (unsigned i = 0; i < MAX_NODES; i++) {
        uint8_t secret[LSX_KEY_BYTES];
        fuzz_node_secret(secret, i);
        if (lsx_public_key(public_keys + i * LSX_KEY_BYTES, secret) != LSX_OK) abort();
        for (int b = 0; b < 2; b++) {
            if (lsx_set_backend(backends[b]) != LSX_OK) abort();
            for (int s = 0; s < FUZZ_SUITES; s++) {
                for (int g = 0; g < FUZZ_GEOMETRIES; g++) {
                    if (lsx_node_create(&nodes[b][s][g][i], &fuzz_geometries[s][g], secret) != LSX_OK) abort();
                    if (lsx_replay_filter_create(&filters[b][s][g][i], FILTER_CAPACITY, 1e-9, epoch) != LSX_OK)
                        abort();
                }
            }
        }
        sodium_memzero(secret, sizeof secret);
    }
    /* Packets are made with libsodium; nodes of both backends must read them. */
    if (lsx_set_backend(LSX_BACKEND_SODIUM) != LSX_OK) abort();
    return 0;
}

/* A filter in a new epoch: empty, whatever earlier inputs left in it. */
static lsx_replay_filter *fresh_filter(lsx_replay_filter *f) {
    lsx_replay_filter_rotate(f, ++epoch);
    return f;
}

/* What must hold after any lsx_process call. */
static void check_result(int rc, const lsx_geometry *g, const lsx_processed *r, const uint8_t *out) {
    const size_t header = lsx_header_bytes(g), total = lsx_packet_bytes(g);
    fuzz_check_code(rc);
    if (rc != LSX_OK) {
        /* Only the tag may survive an error. */
        FUZZ_ASSERT(r->flag == 0 && r->delay_us == 0 && r->final_status == 0);
        FUZZ_ASSERT(r->message_offset == 0 && r->message_len == 0 && sodium_is_zero(r->address, sizeof r->address));
        return;
    }
    FUZZ_ASSERT(r->flag >= LSX_FLAG_RELAY && r->flag <= LSX_FLAG_FINAL);
    FUZZ_ASSERT(out[LSXI_HEADER_VERSION_OFFSET] == lsx_suite_format_version(g->suite));
    FUZZ_ASSERT(fuzz_element_canonical(g->suite, out + LSXI_HEADER_ELEMENT_OFFSET));
    if (r->flag == LSX_FLAG_FINAL && r->final_status == LSX_OK) {
        FUZZ_ASSERT(r->message_offset >= header + LSXI_PAYLOAD_MESSAGE_OFFSET);
        FUZZ_ASSERT(r->message_len <= LSX_MAX_MESSAGE_BYTES(g->payload));
        FUZZ_ASSERT((size_t)r->message_offset + r->message_len <= total);
    } else {
        FUZZ_ASSERT(r->final_status == (r->flag == LSX_FLAG_FINAL ? LSX_ERR_PAYLOAD : LSX_OK));
        FUZZ_ASSERT(r->message_offset == 0 && r->message_len == 0);
    }
}

/* Processes `packet` (len bytes) with the output placed as `placement` asks;
 * checks the result, and that a failed call left the output untouched.
 * Returns the code; on success the new packet is in *out. */
static int process_placed(const lsx_node *node, lsx_replay_filter *filter, const lsx_geometry *g, int placement,
                          const uint8_t *packet, size_t len, const uint8_t **out, lsx_processed *r) {
    const size_t total = lsx_packet_bytes(g);
    int rc;
    if (placement == 2) {
        /* Overlapping buffers: refused after the length check, never read. */
        memcpy(overlap_buf, packet, len);
        rc = lsx_process(overlap_buf + 1 + len / 2, len, r, node, filter, overlap_buf, len);
        fuzz_check_code(rc);
        FUZZ_ASSERT(rc == (len != total ? LSX_ERR_LENGTH : LSX_ERR_ARGUMENT));
        placement = 0;
    }
    if (placement == 1) {
        memcpy(out_buf, packet, len);
        rc = lsx_process(out_buf, len, r, node, filter, out_buf, len);
        check_result(rc, g, r, out_buf);
        if (rc != LSX_OK) FUZZ_ASSERT(len == 0 || memcmp(out_buf, packet, len) == 0);
    } else {
        memset(out_buf, 0xa5, len);
        rc = lsx_process(out_buf, len, r, node, filter, packet, len);
        check_result(rc, g, r, out_buf);
        if (rc != LSX_OK)
            for (size_t i = 0; i < len; i++) FUZZ_ASSERT(out_buf[i] == 0xa5);
    }
    *out = out_buf;
    return rc;
}

/* The plaintext a FINAL (or last) hop must see: zeros || length || message || zeros. */
static int payload_is(const uint8_t *payload, size_t payload_len, const uint8_t *message, size_t message_len) {
    const uint8_t *text = payload + LSXI_PAYLOAD_MESSAGE_OFFSET;
    if (!sodium_is_zero(payload + LSXI_PAYLOAD_ZERO_OFFSET, LSX_PAYLOAD_ZERO_BYTES) ||
        lsxi_load_be(payload + LSXI_PAYLOAD_LENGTH_OFFSET, LSX_PAYLOAD_LENGTH_BYTES) != message_len)
        return 0;
    if (message_len > 0 && memcmp(text, message, message_len) != 0) return 0;
    return sodium_is_zero(text + message_len, LSX_MAX_MESSAGE_BYTES(payload_len) - message_len);
}

static void fuzz_raw(int backend, int suite, int g_index, int use_filter, int placement, const uint8_t *data,
                     size_t size) {
    const lsx_geometry *g = &fuzz_geometries[suite][g_index];
    lsx_node *const node = nodes[backend][suite][g_index][0];
    lsx_replay_filter *filter = use_filter ? fresh_filter(filters[backend][suite][g_index][0]) : NULL;
    const uint8_t *out;
    lsx_processed r;
    memcpy(in_buf, data, size);
    int rc = process_placed(node, filter, g, placement, in_buf, size, &out, &r);
    if (g->suite == LSX_SUITE_KEM_X25519 && size == lsx_packet_bytes(g) &&
        in_buf[LSXI_HEADER_VERSION_OFFSET] == LSX_KEM_X25519_FORMAT_VERSION) {
        /* The KEM alone says of the encapsulation what processing said. */
        uint8_t shared[LSX_KEM_SHARED_SECRET_BYTES];
        const int kem_rc = lsx_kem_decapsulate(shared, node, in_buf + LSXI_HEADER_ELEMENT_OFFSET,
                                               LSX_KEM_X25519_CIPHERTEXT_BYTES);
        fuzz_check_code(kem_rc);
        if (kem_rc == LSX_OK) {
            FUZZ_ASSERT(rc != LSX_ERR_NONCANONICAL_ALPHA && rc != LSX_ERR_LOW_ORDER);
        } else {
            FUZZ_ASSERT(kem_rc == rc && sodium_is_zero(shared, sizeof shared));
        }
    }
    if (rc == LSX_OK && filter != NULL) {
        /* The same bytes again are a replay, whatever they are. */
        uint8_t tag[LSX_TAG_BYTES];
        memcpy(tag, r.tag, sizeof tag);
        rc = process_placed(node, filter, g, placement, in_buf, size, &out, &r);
        FUZZ_ASSERT(rc == LSX_ERR_REPLAY && memcmp(tag, r.tag, sizeof tag) == 0);
    }
}

/* Makes a packet over a route of the fixed nodes from the fuzzed commands
 * and message, then processes it hop by hop and checks every hop's answer. */
static void fuzz_route(int backend, int suite, int g_index, int use_filter, int placement, int tamper, fuzz_reader *in) {
    const lsx_geometry *g = &fuzz_geometries[suite][g_index];
    const size_t header = lsx_header_bytes(g), total = lsx_packet_bytes(g);
    const size_t hops = 1 + fuzz_read_byte(in) % g->hops, ephemeral_len = lsx_ephemeral_bytes(g, hops);
    uint8_t ephemeral[LSXI_MAX_EPHEMERAL_BYTES], commands[MAX_NODES * LSX_COMMAND_BYTES];
    int expected[MAX_NODES];
    size_t tamper_at = 0;
    uint8_t tamper_mask = 0;
    int create_expected = LSX_OK;

    fuzz_read_bytes(in, ephemeral, ephemeral_len);
    if (tamper) {
        uint8_t pos[2];
        fuzz_read_bytes(in, pos, 2);
        tamper_at = (((size_t)pos[0] << 8) | pos[1]) % total;
        tamper_mask = fuzz_read_byte(in) | 1;
    }
    for (size_t i = 0; i < hops; i++) {
        uint8_t hop[FUZZ_HOP_BYTES];
        fuzz_read_bytes(in, hop, sizeof hop);
        expected[i] = fuzz_command(commands + i * LSX_COMMAND_BYTES, hop, (unsigned)i);
        if (create_expected == LSX_OK) create_expected = expected[i];
    }
    const uint8_t *message = in->pos < in->size ? in->data + in->pos : in->data;
    const size_t message_len = in->pos < in->size ? in->size - in->pos : 0;
    /* The message is checked before the commands. */
    if (message_len > LSX_MAX_MESSAGE_BYTES(g->payload)) create_expected = LSX_ERR_MESSAGE_TOO_LONG;

    int rc = lsx_create_packet(hop_packet, total, g, hops, public_keys, commands, message, message_len, ephemeral,
                               ephemeral_len);
    fuzz_check_code(rc);
    FUZZ_ASSERT(rc == create_expected);
    if (message_len > LSX_MAX_MESSAGE_BYTES(g->payload)) return;
    if (rc != LSX_OK) {
        /* The creator refuses bad commands; build the packet anyway, as the
         * test vectors do, to see that the hop reading one refuses it. */
        lsxi_lioness_keys keys[MAX_NODES];
        rc = lsxi_build_header(hop_packet, keys, g, hops, public_keys, commands, ephemeral);
        FUZZ_ASSERT(rc == LSX_OK);
        lsxi_payload_encode(hop_packet + header, g->payload, message, message_len);
        for (size_t i = hops; i-- > 0;) lsxi_lioness_encrypt(hop_packet + header, g->payload, &keys[i]);
        sodium_memzero(keys, sizeof keys);
    }
    if (tamper) hop_packet[tamper_at] ^= tamper_mask;

    for (size_t i = 0; i < hops; i++) {
        lsx_node *const node = nodes[backend][suite][g_index][i];
        lsx_replay_filter *filter = use_filter ? fresh_filter(filters[backend][suite][g_index][i]) : NULL;
        const uint8_t *out;
        lsx_processed r;
        uint8_t flag = 0, address[LSX_ADDRESS_BYTES];
        uint32_t delay = 0;
        rc = process_placed(node, filter, g, placement, hop_packet, total, &out, &r);
        if (tamper && tamper_at < header) {
            /* Any change to the header is caught at the first hop. */
            FUZZ_ASSERT(i == 0 && rc != LSX_OK);
            return;
        }
        if (expected[i] != LSX_OK) {
            FUZZ_ASSERT(rc == expected[i]);
            return;
        }
        FUZZ_ASSERT(rc == LSX_OK);
        FUZZ_ASSERT(lsx_command_decode(&flag, &delay, address, commands + i * LSX_COMMAND_BYTES) == LSX_OK);
        FUZZ_ASSERT(r.flag == flag && r.delay_us == delay && memcmp(r.address, address, sizeof address) == 0);
        if (i + 1 == hops) {
            /* The last hop sees the plaintext, unless the payload was changed on the way. */
            const int intact = payload_is(out + header, g->payload, message, message_len);
            FUZZ_ASSERT(intact == !tamper);
            if (flag == LSX_FLAG_FINAL) {
                FUZZ_ASSERT(r.final_status == (tamper ? LSX_ERR_PAYLOAD : LSX_OK));
                if (!tamper) FUZZ_ASSERT(r.message_offset == header + LSXI_PAYLOAD_MESSAGE_OFFSET &&
                                        r.message_len == message_len);
            }
        }
        if (filter != NULL && i == 0) {
            const uint8_t *again;
            lsx_processed replay;
            FUZZ_ASSERT(process_placed(node, filter, g, placement, hop_packet, total, &again, &replay) ==
                        LSX_ERR_REPLAY);
            FUZZ_ASSERT(memcmp(replay.tag, r.tag, LSX_TAG_BYTES) == 0);
            /* The refused replay left the output as it found it (0xa5 or the
             * input), so make this hop's output again, without the filter. */
            rc = process_placed(node, NULL, g, placement, hop_packet, total, &out, &r);
            FUZZ_ASSERT(rc == LSX_OK);
        }
        memcpy(hop_packet, out, total);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < SETTING_BYTES) return 0;
    const int g_index = data[0] & 3, use_filter = (data[0] >> 2) & 1, placement = (data[0] >> 3) & 3;
    const int mode = (data[0] >> 5) & 3, backend = data[0] >> 7, suite = data[1] & 1;
    if (size - SETTING_BYTES > sizeof in_buf) return 0;
    if (mode < 2) {
        fuzz_raw(backend, suite, g_index, use_filter, placement, data + SETTING_BYTES, size - SETTING_BYTES);
    } else {
        fuzz_reader in = {data + SETTING_BYTES, size - SETTING_BYTES, 0};
        fuzz_route(backend, suite, g_index, use_filter, placement, mode == 3, &in);
    }
    return 0;
}
