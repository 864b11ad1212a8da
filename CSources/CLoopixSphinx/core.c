/* The version, error names, the packet suites, geometry and sizes, keys and
 * routing commands (lsx_init and the backends are in x25519.c). */
#include "lsx_internal.h"

#include <stdlib.h>

const char *lsx_version(void) { return LSX_VERSION_STRING; }

const char *lsx_error_name(int code) {
    switch (code) {
    case LSX_OK: return "ok";
    case LSX_ERR_ARGUMENT: return "invalid_argument";
    case LSX_ERR_GEOMETRY: return "invalid_geometry";
    case LSX_ERR_LENGTH: return "wrong_length";
    case LSX_ERR_VERSION: return "bad_version";
    case LSX_ERR_NONCANONICAL_ALPHA: return "noncanonical_alpha";
    case LSX_ERR_LOW_ORDER: return "low_order_point";
    case LSX_ERR_REPLAY: return "replay";
    case LSX_ERR_MAC: return "bad_mac";
    case LSX_ERR_FLAG: return "unknown_flag";
    case LSX_ERR_RESERVED: return "reserved_nonzero";
    case LSX_ERR_PAYLOAD: return "payload_integrity";
    case LSX_ERR_MESSAGE_TOO_LONG: return "message_too_long";
    case LSX_ERR_ROUTE: return "invalid_route";
    case LSX_ERR_REPLAY_FULL: return "replay_filter_saturated";
    case LSX_ERR_BACKEND: return "backend_failure";
    case LSX_ERR_NOT_INITIALIZED: return "not_initialized";
    case LSX_ERR_NO_MEMORY: return "no_memory";
    case LSX_ERR_SIGNATURE: return "bad_signature";
    case LSX_ERR_NOISE_PROTOCOL: return "noise_protocol_unsupported";
    case LSX_ERR_NOISE_KEYS: return "noise_keys_mismatch";
    case LSX_ERR_NOISE_STATE: return "noise_bad_state";
    case LSX_ERR_NONCE_EXHAUSTED: return "nonce_exhausted";
    case LSX_ERR_REPLAY_LAYOUT: return "replay_filter_bad_layout";
    case LSX_ERR_REPLAY_LOST: return "replay_filter_may_have_lost_tags";
    default: return "unknown_error";
    }
}

/* ---- Packet suites ---- */

/* Every suite this library implements. Its sizes come from the public
 * macros, so that the table, the header and the functions cannot disagree. */
static const lsxi_suite suites[] = {
    {LSX_SUITE_V1, LSX_SUITE_FORMAT_VERSION(LSX_SUITE_V1), LSXI_KDF_CONTEXT_V1, LSX_SUITE_ELEMENT_BYTES(LSX_SUITE_V1),
     LSX_SUITE_SLOT_BYTES(LSX_SUITE_V1), NULL, "sphinx-v1"},
    {LSX_SUITE_KEM_X25519, LSX_SUITE_FORMAT_VERSION(LSX_SUITE_KEM_X25519), LSXI_KDF_CONTEXT_KEM_X25519,
     LSX_SUITE_ELEMENT_BYTES(LSX_SUITE_KEM_X25519), LSX_SUITE_SLOT_BYTES(LSX_SUITE_KEM_X25519), &lsxi_kem_x25519,
     "kem-x25519"},
};

const lsxi_suite *lsxi_suite_of(lsx_suite id) {
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (suites[i].id == id) return &suites[i];
    return NULL;
}

const char *lsx_suite_name(lsx_suite suite) {
    const lsxi_suite *s = lsxi_suite_of(suite);
    return s == NULL ? "unknown" : s->name;
}

uint8_t lsx_suite_format_version(lsx_suite suite) {
    const lsxi_suite *s = lsxi_suite_of(suite);
    return s == NULL ? 0 : s->version;
}

size_t lsx_suite_element_bytes(lsx_suite suite) {
    const lsxi_suite *s = lsxi_suite_of(suite);
    return s == NULL ? 0 : s->element_bytes;
}

size_t lsx_suite_slot_bytes(lsx_suite suite) {
    const lsxi_suite *s = lsxi_suite_of(suite);
    return s == NULL ? 0 : s->slot_bytes;
}

size_t lsx_kem_x25519_ciphertext_bytes(void) { return LSX_KEM_X25519_CIPHERTEXT_BYTES; }
size_t lsx_kem_x25519_seed_bytes(void) { return LSX_KEM_X25519_SEED_BYTES; }
size_t lsx_kem_x25519_slot_bytes(void) { return LSX_KEM_X25519_SLOT_BYTES; }
size_t lsx_kem_shared_secret_bytes(void) { return LSX_KEM_SHARED_SECRET_BYTES; }

/* ---- Geometry ---- */

int lsx_geometry_init(lsx_geometry *geometry, lsx_suite suite, uint32_t hops, uint32_t payload) {
    if (geometry == NULL) return LSX_ERR_ARGUMENT;
    if (lsxi_suite_of(suite) == NULL || hops < LSX_MIN_HOPS || hops > LSX_MAX_HOPS || payload < LSX_MIN_PAYLOAD ||
        payload > LSX_MAX_PAYLOAD)
        return LSX_ERR_GEOMETRY;
    geometry->hops = hops;
    geometry->payload = payload;
    geometry->suite = suite;
    return LSX_OK;
}

int lsx_geometry_check(const lsx_geometry *geometry) {
    lsx_geometry copy;
    if (geometry == NULL) return LSX_ERR_ARGUMENT;
    return lsx_geometry_init(&copy, geometry->suite, geometry->hops, geometry->payload);
}

#define LSXI_SIZE_OF_VALID(expr) (lsx_geometry_check(geometry) == LSX_OK ? (size_t)(expr) : 0)

size_t lsx_header_bytes(const lsx_geometry *geometry) {
    return LSXI_SIZE_OF_VALID(LSX_SUITE_HEADER_BYTES(geometry->suite, geometry->hops));
}
size_t lsx_packet_bytes(const lsx_geometry *geometry) {
    return LSXI_SIZE_OF_VALID(LSX_SUITE_PACKET_BYTES(geometry->suite, geometry->hops, geometry->payload));
}
size_t lsx_max_message_bytes(const lsx_geometry *geometry) {
    return LSXI_SIZE_OF_VALID(LSX_MAX_MESSAGE_BYTES(geometry->payload));
}
size_t lsx_surb_bytes(const lsx_geometry *geometry) {
    return LSXI_SIZE_OF_VALID(LSX_SUITE_SURB_BYTES(geometry->suite, geometry->hops));
}
size_t lsx_surb_secret_bytes(const lsx_geometry *geometry) {
    return LSXI_SIZE_OF_VALID(LSX_SURB_SECRET_BYTES(geometry->hops));
}
size_t lsx_ephemeral_bytes(const lsx_geometry *geometry, size_t hops) {
    if (lsx_geometry_check(geometry) != LSX_OK || hops < LSX_MIN_HOPS || hops > geometry->hops) return 0;
    return LSX_SUITE_EPHEMERAL_BYTES(geometry->suite, hops);
}

size_t lsx_format_version_bytes(void) { return LSX_FORMAT_VERSION_BYTES; }
size_t lsx_key_bytes(void) { return LSX_KEY_BYTES; }
size_t lsx_secret_bytes(void) { return LSX_SECRET_BYTES; }
size_t lsx_alpha_bytes(void) { return LSX_ALPHA_BYTES; }
size_t lsx_gamma_bytes(void) { return LSX_GAMMA_BYTES; }
size_t lsx_address_bytes(void) { return LSX_ADDRESS_BYTES; }
size_t lsx_tag_bytes(void) { return LSX_TAG_BYTES; }
size_t lsx_command_flag_bytes(void) { return LSX_COMMAND_FLAG_BYTES; }
size_t lsx_command_delay_bytes(void) { return LSX_COMMAND_DELAY_BYTES; }
size_t lsx_command_reserved_bytes(void) { return LSX_COMMAND_RESERVED_BYTES; }
size_t lsx_command_bytes(void) { return LSX_COMMAND_BYTES; }
size_t lsx_slot_bytes(void) { return LSX_SLOT_BYTES; }
size_t lsx_payload_zero_bytes(void) { return LSX_PAYLOAD_ZERO_BYTES; }
size_t lsx_payload_length_bytes(void) { return LSX_PAYLOAD_LENGTH_BYTES; }
size_t lsx_payload_overhead(void) { return LSX_PAYLOAD_OVERHEAD; }
size_t lsx_reply_key_bytes(void) { return LSX_REPLY_KEY_BYTES; }
size_t lsx_route_length_bytes(void) { return LSX_ROUTE_LENGTH_BYTES; }
uint32_t lsx_min_hops(void) { return LSX_MIN_HOPS; }
uint32_t lsx_max_hops(void) { return LSX_MAX_HOPS; }
uint32_t lsx_min_payload(void) { return LSX_MIN_PAYLOAD; }
uint32_t lsx_max_payload(void) { return LSX_MAX_PAYLOAD; }
uint32_t lsx_default_hops(void) { return LSX_DEFAULT_HOPS; }
uint32_t lsx_default_payload(void) { return LSX_DEFAULT_PAYLOAD; }

/* ---- Keys ---- */

void lsx_wipe(void *buffer, size_t n) {
    if (buffer != NULL) sodium_memzero(buffer, n);
}

void lsx_random(void *buffer, size_t n) {
    if (buffer != NULL && n > 0) randombytes_buf(buffer, n);
}

int lsx_public_key(uint8_t public_key[LSX_KEY_BYTES], const uint8_t secret_key[LSX_KEY_BYTES]) {
    if (public_key == NULL || secret_key == NULL) return LSX_ERR_ARGUMENT;
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    return lsxi_x25519_base(public_key, secret_key);
}

int lsx_keypair(uint8_t public_key[LSX_KEY_BYTES], uint8_t secret_key[LSX_KEY_BYTES]) {
    if (public_key == NULL || secret_key == NULL) return LSX_ERR_ARGUMENT;
    if (!lsxi_initialized()) return LSX_ERR_NOT_INITIALIZED;
    randombytes_buf(secret_key, LSX_KEY_BYTES);
    return lsx_public_key(public_key, secret_key);
}

/* ---- Routing commands ---- */

static int flag_known(uint8_t flag) { return flag >= LSX_FLAG_RELAY && flag <= LSX_FLAG_FINAL; }

int lsx_command_encode(uint8_t command[LSX_COMMAND_BYTES], uint8_t flag, uint32_t delay_us,
                       const uint8_t address[LSX_ADDRESS_BYTES]) {
    if (command == NULL) return LSX_ERR_ARGUMENT;
    if (!flag_known(flag)) return LSX_ERR_FLAG;
    memset(command, 0, LSX_COMMAND_BYTES);
    command[LSXI_COMMAND_FLAG_OFFSET] = flag;
    lsxi_store_be(command + LSXI_COMMAND_DELAY_OFFSET, LSX_COMMAND_DELAY_BYTES, delay_us);
    if (address != NULL) memcpy(command + LSXI_COMMAND_ADDRESS_OFFSET, address, LSX_ADDRESS_BYTES);
    return LSX_OK;
}

int lsx_command_decode(uint8_t *flag, uint32_t *delay_us, uint8_t address[LSX_ADDRESS_BYTES],
                       const uint8_t command[LSX_COMMAND_BYTES]) {
    if (command == NULL) return LSX_ERR_ARGUMENT;
    if (!flag_known(command[LSXI_COMMAND_FLAG_OFFSET])) return LSX_ERR_FLAG;
    if (!sodium_is_zero(command + LSXI_COMMAND_RESERVED_OFFSET, LSX_COMMAND_RESERVED_BYTES)) return LSX_ERR_RESERVED;
    if (flag != NULL) *flag = command[LSXI_COMMAND_FLAG_OFFSET];
    if (delay_us != NULL)
        *delay_us = (uint32_t)lsxi_load_be(command + LSXI_COMMAND_DELAY_OFFSET, LSX_COMMAND_DELAY_BYTES);
    if (address != NULL) memcpy(address, command + LSXI_COMMAND_ADDRESS_OFFSET, LSX_ADDRESS_BYTES);
    return LSX_OK;
}
