/*
 * loopix_sphinx.h - the Loopix Sphinx packet core: packet format v1 and the
 * KEM suite (one key encapsulation per hop), chosen by the geometry.
 *
 * Creates and processes fixed-size Sphinx packets, single-use reply blocks
 * and cover packets, and keeps a bounded replay filter. Every buffer is owned
 * by the caller; nothing on the packet path allocates (see docs/c-api.md for
 * the one exception of the libcrypto backend). Every exported symbol starts
 * with `lsx_` / `LSX_`. Errors are 0 or a negative `lsx_error`.
 *
 * What a function writes comes first in its parameters, each buffer with its
 * length right after it; what it only reads follows. A buffer of fixed size
 * says so in the signature (`uint8_t tag[LSX_TAG_BYTES]`).
 *
 * Call lsx_init() once before anything else; it is safe to call it again.
 */
#ifndef LOOPIX_SPHINX_H
#define LOOPIX_SPHINX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LSX_MUST_USE __attribute__((warn_unused_result))
#define LSX_EXPORT __attribute__((visibility("default")))
#else
#define LSX_MUST_USE
#define LSX_EXPORT
#endif

/* ---- Version ----------------------------------------------------------- */

/* The library's version, written only here: the Makefile reads it, and the
 * shared library's soname carries its major, which changes with the API/ABI. */
#define LSX_VERSION_STRING "3.0.0"

/* ---- Sizes (each also available as a function, for bindings) ----------
 * Every wire size is built from the field sizes below, so that a change to
 * one field cannot leave another size behind (spec sections 2, 3 and 8).
 * The sizes without a suite in their name are version 1's; those of the KEM
 * suite, and the ones that take a suite, follow under "Packet suites". */

#define LSX_FORMAT_VERSION 0x01             /* version 1's version byte */
#define LSX_FORMAT_VERSION_BYTES 1          /* the version byte that opens a header */
#define LSX_KEY_BYTES 32                    /* X25519 public and secret keys */
#define LSX_SECRET_BYTES LSX_KEY_BYTES      /* ephemeral secret of a packet: an X25519 scalar */
#define LSX_ALPHA_BYTES LSX_KEY_BYTES       /* group element in the header: an X25519 public key */
#define LSX_GAMMA_BYTES 16                  /* header MAC */
#define LSX_ADDRESS_BYTES 32                /* node id, mailbox id or message id */
#define LSX_TAG_BYTES 32                    /* replay tag */

/* A routing command: flag || delay_us (big-endian) || address || reserved zeros. */
#define LSX_COMMAND_FLAG_BYTES 1
#define LSX_COMMAND_DELAY_BYTES 4
#define LSX_COMMAND_RESERVED_BYTES 11
#define LSX_COMMAND_BYTES                                                                          \
    (LSX_COMMAND_FLAG_BYTES + LSX_COMMAND_DELAY_BYTES + LSX_ADDRESS_BYTES + LSX_COMMAND_RESERVED_BYTES)
/* One hop of routing information in version 1 (S): the hop's command and the next hop's MAC. */
#define LSX_SLOT_BYTES (LSX_COMMAND_BYTES + LSX_GAMMA_BYTES)

/* A payload's plaintext: zeros (the integrity check) || length (big-endian) || message || zeros. */
#define LSX_PAYLOAD_ZERO_BYTES 16
#define LSX_PAYLOAD_LENGTH_BYTES 2
#define LSX_PAYLOAD_OVERHEAD (LSX_PAYLOAD_ZERO_BYTES + LSX_PAYLOAD_LENGTH_BYTES)

/* kt of a reply block: four LIONESS keys. Each hop's payload keys, which the
 * maker of a block keeps, have the same form and size. */
#define LSX_REPLY_KEY_BYTES 128
/* The route length that opens a reply block's secret. */
#define LSX_ROUTE_LENGTH_BYTES 1

#define LSX_MIN_HOPS 1
#define LSX_MAX_HOPS 16
#define LSX_MIN_PAYLOAD 64
#define LSX_MAX_PAYLOAD 65536
#define LSX_DEFAULT_HOPS 6
#define LSX_DEFAULT_PAYLOAD 2048

/* Version 1's sizes (LSX_SUITE_HEADER_BYTES and its kin below give any suite's). */
#define LSX_HEADER_BYTES(hops) \
    (LSX_FORMAT_VERSION_BYTES + LSX_ALPHA_BYTES + (hops) * LSX_SLOT_BYTES + LSX_GAMMA_BYTES)
#define LSX_PACKET_BYTES(hops, payload) (LSX_HEADER_BYTES(hops) + (payload))
/* first_hop_id || header || kt */
#define LSX_SURB_BYTES(hops) (LSX_ADDRESS_BYTES + LSX_HEADER_BYTES(hops) + LSX_REPLY_KEY_BYTES)
/* Every suite's. */
#define LSX_MAX_MESSAGE_BYTES(payload) ((payload) - LSX_PAYLOAD_OVERHEAD)
/* What the maker of a reply block keeps: route length, kt, and the four
 * LIONESS keys of each hop. */
#define LSX_SURB_SECRET_BYTES(hops) (LSX_ROUTE_LENGTH_BYTES + LSX_REPLY_KEY_BYTES + (hops) * LSX_REPLY_KEY_BYTES)

/* ---- Packet suites ----------------------------------------------------
 * A network runs one suite; its geometry names it (lsx_geometry.suite), and
 * every size, the version byte and the work of a hop follow from it. A
 * suite's value is the version byte its packets open with. */

typedef enum lsx_suite {
    LSX_SUITE_V1 = 0x01,        /* docs/packet-format.md: a blinded X25519 alpha, two X25519 per hop */
    LSX_SUITE_KEM_X25519 = 0x02 /* docs/packet-format-kem.md: one X25519 KEM encapsulation per hop */
} lsx_suite;

/* The KEM suite with the X25519 KEM: the first hop's encapsulation where
 * version 1 has alpha, every later one in the slot of the hop before. */
#define LSX_KEM_X25519_FORMAT_VERSION 0x02
#define LSX_KEM_X25519_CIPHERTEXT_BYTES 32 /* an encapsulation: X25519_BASE(seed) */
#define LSX_KEM_X25519_SEED_BYTES 32       /* the fresh randomness of one encapsulation */
/* One hop of routing information: the command, the next hop's MAC and its encapsulation. */
#define LSX_KEM_X25519_SLOT_BYTES (LSX_COMMAND_BYTES + LSX_GAMMA_BYTES + LSX_KEM_X25519_CIPHERTEXT_BYTES)
/* A KEM's shared secret, from which a hop's keys come (every KEM's). */
#define LSX_KEM_SHARED_SECRET_BYTES 32

/* Any suite's sizes, for a valid suite (an unknown one gets version 1's). */
#define LSX_SUITE_FORMAT_VERSION(suite) \
    ((suite) == LSX_SUITE_KEM_X25519 ? LSX_KEM_X25519_FORMAT_VERSION : LSX_FORMAT_VERSION)
/* What follows the version byte: alpha, or the first hop's encapsulation. */
#define LSX_SUITE_ELEMENT_BYTES(suite) \
    ((size_t)((suite) == LSX_SUITE_KEM_X25519 ? LSX_KEM_X25519_CIPHERTEXT_BYTES : LSX_ALPHA_BYTES))
#define LSX_SUITE_SLOT_BYTES(suite) \
    ((size_t)((suite) == LSX_SUITE_KEM_X25519 ? LSX_KEM_X25519_SLOT_BYTES : LSX_SLOT_BYTES))
/* version || element || hops slots (beta) || gamma */
#define LSX_SUITE_HEADER_BYTES(suite, hops) \
    (LSX_FORMAT_VERSION_BYTES + LSX_SUITE_ELEMENT_BYTES(suite) + (size_t)(hops) * LSX_SUITE_SLOT_BYTES(suite) + \
     LSX_GAMMA_BYTES)
#define LSX_SUITE_PACKET_BYTES(suite, hops, payload) (LSX_SUITE_HEADER_BYTES(suite, hops) + (size_t)(payload))
#define LSX_SUITE_SURB_BYTES(suite, hops) \
    (LSX_ADDRESS_BYTES + LSX_SUITE_HEADER_BYTES(suite, hops) + LSX_REPLY_KEY_BYTES)
/* The fresh randomness that creating a packet or reply block over `hops`
 * hops consumes: version 1's one ephemeral secret, or one seed per hop. */
#define LSX_SUITE_EPHEMERAL_BYTES(suite, hops) \
    ((size_t)((suite) == LSX_SUITE_KEM_X25519 ? (size_t)(hops) * LSX_KEM_X25519_SEED_BYTES : LSX_SECRET_BYTES))

/* ---- Errors ------------------------------------------------------------ */

typedef enum lsx_error {
    LSX_OK = 0,
    LSX_ERR_ARGUMENT = -1,          /* NULL pointer or out-of-range argument */
    LSX_ERR_GEOMETRY = -2,          /* unknown suite, or hops or payload outside the allowed ranges */
    LSX_ERR_LENGTH = -3,            /* a buffer does not have the required length */
    LSX_ERR_VERSION = -4,           /* version byte is not the suite's (LSX_SUITE_FORMAT_VERSION) */
    LSX_ERR_NONCANONICAL_ALPHA = -5,/* alpha has its top bit set; an encapsulation is not canonical */
    LSX_ERR_LOW_ORDER = -6,         /* X25519 gave the all-zero point */
    LSX_ERR_REPLAY = -7,            /* the replay filter already holds the tag */
    LSX_ERR_MAC = -8,               /* header MAC mismatch */
    LSX_ERR_FLAG = -9,              /* unknown routing flag */
    LSX_ERR_RESERVED = -10,         /* non-zero reserved bytes in a command */
    LSX_ERR_PAYLOAD = -11,          /* payload failed the integrity check at its destination */
    LSX_ERR_MESSAGE_TOO_LONG = -12, /* message longer than LSX_MAX_MESSAGE_BYTES(payload) */
    LSX_ERR_ROUTE = -13,            /* route length outside 1..hops */
    LSX_ERR_REPLAY_FULL = -14,      /* replay filter saturated: refusing (fail closed) */
    LSX_ERR_BACKEND = -15,          /* the crypto backend failed or is unavailable */
    LSX_ERR_NOT_INITIALIZED = -16,  /* lsx_init() was not called or failed */
    LSX_ERR_NO_MEMORY = -17,        /* allocation failed (set-up functions only) */
    LSX_ERR_SIGNATURE = -18,        /* an Ed25519 signature does not verify */
    LSX_ERR_NOISE_PROTOCOL = -19,   /* a Noise protocol name this library does not implement */
    LSX_ERR_NOISE_KEYS = -20,       /* the keys given are not those the Noise pattern needs */
    LSX_ERR_NOISE_STATE = -21,      /* not now: not this side's turn, not complete, or failed earlier */
    LSX_ERR_NONCE_EXHAUSTED = -22,  /* a Noise cipher has used its last nonce: a new handshake is needed */
    LSX_ERR_REPLAY_LAYOUT = -23,    /* memory given to lsx_replay_filter_attach does not hold a valid filter */
    LSX_ERR_REPLAY_LOST = -24       /* a filter left open in another boot: it may have lost tags; never use its key again */
} lsx_error;

/* The stable lower-case name of an error code ("bad_mac", ...); never NULL. */
LSX_EXPORT const char *lsx_error_name(int code);

/* ---- Library set-up and backends --------------------------------------- */

typedef enum lsx_backend {
    LSX_BACKEND_AUTO = 0,      /* measure at lsx_init and choose the faster (the default) */
    LSX_BACKEND_SODIUM = 1,    /* libsodium for everything (what AUTO keeps unless libcrypto is clearly faster) */
    LSX_BACKEND_LIBCRYPTO = 2  /* libcrypto (OpenSSL EVP) for X25519 */
} lsx_backend;

/* Initialises libsodium and chooses the X25519 backend: the environment
 * variable LOOPIX_SPHINX_BACKEND ("sodium", "libcrypto" or "auto") if set,
 * else AUTO (a short measurement of both). Idempotent and thread-safe. */
LSX_EXPORT LSX_MUST_USE int lsx_init(void);
/* Chooses the backend used for packets created from now on and for nodes
 * created from now on (an existing node keeps the backend it was built with). */
LSX_EXPORT LSX_MUST_USE int lsx_set_backend(lsx_backend backend);
LSX_EXPORT lsx_backend lsx_get_backend(void);
LSX_EXPORT const char *lsx_backend_name(lsx_backend backend);
/* The library's own version string, LSX_VERSION_STRING when built. */
LSX_EXPORT const char *lsx_version(void);

/* ---- Geometry ---------------------------------------------------------- */

typedef struct lsx_geometry {
    uint32_t hops;     /* H: maximum route length, LSX_MIN_HOPS..LSX_MAX_HOPS */
    uint32_t payload;  /* P: payload bytes, LSX_MIN_PAYLOAD..LSX_MAX_PAYLOAD */
    lsx_suite suite;   /* the packet suite: format, sizes and a hop's work */
} lsx_geometry;

/* Fills *geometry after checking the suite and the ranges; LSX_ERR_GEOMETRY
 * otherwise. */
LSX_EXPORT LSX_MUST_USE int lsx_geometry_init(lsx_geometry *geometry, lsx_suite suite, uint32_t hops,
                                              uint32_t payload);
/* 0 if valid, LSX_ERR_GEOMETRY (or LSX_ERR_ARGUMENT for NULL) otherwise. */
LSX_EXPORT LSX_MUST_USE int lsx_geometry_check(const lsx_geometry *geometry);
/* Sizes of a valid geometry, for its suite (0 for an invalid one). */
LSX_EXPORT size_t lsx_header_bytes(const lsx_geometry *geometry);
LSX_EXPORT size_t lsx_packet_bytes(const lsx_geometry *geometry);
LSX_EXPORT size_t lsx_max_message_bytes(const lsx_geometry *geometry);
LSX_EXPORT size_t lsx_surb_bytes(const lsx_geometry *geometry);
LSX_EXPORT size_t lsx_surb_secret_bytes(const lsx_geometry *geometry);
/* LSX_SUITE_EPHEMERAL_BYTES: what creating over `hops` hops consumes (0 for
 * an invalid geometry or a route length outside 1..geometry->hops). */
LSX_EXPORT size_t lsx_ephemeral_bytes(const lsx_geometry *geometry, size_t hops);

/* A suite's stable name ("sphinx-v1", "kem-x25519", as in the test vector
 * files), "unknown" for any other value; never NULL. */
LSX_EXPORT const char *lsx_suite_name(lsx_suite suite);
/* The suite-dependent fixed sizes, as functions (0 for an unknown suite). */
LSX_EXPORT uint8_t lsx_suite_format_version(lsx_suite suite);
LSX_EXPORT size_t lsx_suite_element_bytes(lsx_suite suite);
LSX_EXPORT size_t lsx_suite_slot_bytes(lsx_suite suite);
LSX_EXPORT size_t lsx_kem_x25519_ciphertext_bytes(void);
LSX_EXPORT size_t lsx_kem_x25519_seed_bytes(void);
LSX_EXPORT size_t lsx_kem_x25519_slot_bytes(void);
LSX_EXPORT size_t lsx_kem_shared_secret_bytes(void);

/* The fixed sizes and limits, as functions: one per macro above. */
LSX_EXPORT size_t lsx_format_version_bytes(void);
LSX_EXPORT size_t lsx_key_bytes(void);
LSX_EXPORT size_t lsx_secret_bytes(void);
LSX_EXPORT size_t lsx_alpha_bytes(void);
LSX_EXPORT size_t lsx_gamma_bytes(void);
LSX_EXPORT size_t lsx_address_bytes(void);
LSX_EXPORT size_t lsx_tag_bytes(void);
LSX_EXPORT size_t lsx_command_flag_bytes(void);
LSX_EXPORT size_t lsx_command_delay_bytes(void);
LSX_EXPORT size_t lsx_command_reserved_bytes(void);
LSX_EXPORT size_t lsx_command_bytes(void);
LSX_EXPORT size_t lsx_slot_bytes(void);
LSX_EXPORT size_t lsx_payload_zero_bytes(void);
LSX_EXPORT size_t lsx_payload_length_bytes(void);
LSX_EXPORT size_t lsx_payload_overhead(void);
LSX_EXPORT size_t lsx_reply_key_bytes(void);
LSX_EXPORT size_t lsx_route_length_bytes(void);
LSX_EXPORT uint32_t lsx_min_hops(void);
LSX_EXPORT uint32_t lsx_max_hops(void);
LSX_EXPORT uint32_t lsx_min_payload(void);
LSX_EXPORT uint32_t lsx_max_payload(void);
LSX_EXPORT uint32_t lsx_default_hops(void);
LSX_EXPORT uint32_t lsx_default_payload(void);

/* ---- Keys -------------------------------------------------------------- */

/* A fresh node key pair from the CSPRNG. */
LSX_EXPORT LSX_MUST_USE int lsx_keypair(uint8_t public_key[LSX_KEY_BYTES], uint8_t secret_key[LSX_KEY_BYTES]);
/* The public key of a secret key. */
LSX_EXPORT LSX_MUST_USE int lsx_public_key(uint8_t public_key[LSX_KEY_BYTES], const uint8_t secret_key[LSX_KEY_BYTES]);
/* Overwrites n bytes with zeros in a way the compiler cannot remove. */
LSX_EXPORT void lsx_wipe(void *buffer, size_t n);
/* Fills a buffer from the CSPRNG. */
LSX_EXPORT void lsx_random(void *buffer, size_t n);

/* ---- Routing commands -------------------------------------------------- */

#define LSX_FLAG_RELAY 0x01    /* address = next node id; forward after delay */
#define LSX_FLAG_DELIVER 0x02  /* address = mailbox id; store after delay */
#define LSX_FLAG_DROP 0x03     /* address unused (zero); discard: cover traffic */
#define LSX_FLAG_FINAL 0x04    /* address = message id; this node is the destination */

/* Encodes flag || delay_us (big-endian) || address || reserved zeros.
 * address may be NULL for all zeros. LSX_ERR_FLAG for an unknown flag. */
LSX_EXPORT LSX_MUST_USE int lsx_command_encode(uint8_t command[LSX_COMMAND_BYTES], uint8_t flag, uint32_t delay_us,
                                               const uint8_t address[LSX_ADDRESS_BYTES]);
/* Decodes and checks a command (LSX_ERR_FLAG, LSX_ERR_RESERVED). Each output
 * may be NULL when the caller only wants the check. */
LSX_EXPORT LSX_MUST_USE int lsx_command_decode(uint8_t *flag, uint32_t *delay_us, uint8_t address[LSX_ADDRESS_BYTES],
                                               const uint8_t command[LSX_COMMAND_BYTES]);

/* ---- Creating packets -------------------------------------------------- */

/* Builds a forward packet of the geometry's suite into `packet` (packet_len
 * must equal lsx_packet_bytes(geometry)) over a route of `hops` nodes
 * (1..geometry->hops): public_keys and commands are `hops` consecutive
 * LSX_KEY_BYTES and LSX_COMMAND_BYTES entries. The message is checked first
 * (LSX_ERR_MESSAGE_TOO_LONG), then the route (LSX_ERR_ROUTE), then each
 * command in turn. `ephemeral` is NULL with ephemeral_len 0: the fresh
 * randomness is drawn from the CSPRNG. Only to reproduce test vectors, pass
 * exactly lsx_ephemeral_bytes(geometry, hops) bytes: version 1's ephemeral
 * secret, or the KEM suite's seeds, one per hop (a seed must never be used
 * twice). */
LSX_EXPORT LSX_MUST_USE int lsx_create_packet(uint8_t *packet, size_t packet_len, const lsx_geometry *geometry,
                                              size_t hops, const uint8_t *public_keys, const uint8_t *commands,
                                              const uint8_t *message, size_t message_len, const uint8_t *ephemeral,
                                              size_t ephemeral_len);

/* A cover packet indistinguishable from a real one of the geometry's suite
 * (spec section 9, KEM spec section 12): version || X25519_BASE(random) ||
 * random bytes. */
LSX_EXPORT LSX_MUST_USE int lsx_create_dummy(uint8_t *packet, size_t packet_len, const lsx_geometry *geometry);

/* ---- Processing packets ------------------------------------------------ */

typedef struct lsx_node lsx_node;
typedef struct lsx_replay_filter lsx_replay_filter;

/* A node's processing context: geometry (and so the suite), secret key,
 * public key and, for the libcrypto backend, the key object built once. Immutable once made, so one node may
 * be used by many threads at once. Allocates; not for the packet path. */
LSX_EXPORT LSX_MUST_USE int lsx_node_create(lsx_node **node, const lsx_geometry *geometry,
                                            const uint8_t secret_key[LSX_KEY_BYTES]);
/* Wipes the secret and frees. NULL is allowed. */
LSX_EXPORT void lsx_node_destroy(lsx_node *node);
LSX_EXPORT LSX_MUST_USE int lsx_node_public_key(uint8_t public_key[LSX_KEY_BYTES], const lsx_node *node);
LSX_EXPORT lsx_backend lsx_node_backend(const lsx_node *node);

typedef struct lsx_processed {
    uint8_t flag;                           /* LSX_FLAG_* */
    uint32_t delay_us;                      /* requested delay at this hop */
    uint8_t address[LSX_ADDRESS_BYTES];     /* next node, mailbox or message id */
    uint8_t tag[LSX_TAG_BYTES];             /* the replay tag of this hop */
    /* FINAL only: LSX_OK when the payload passed the check of spec 6.9, and
     * then the message is packet_out[message_offset .. +message_len).
     * LSX_ERR_PAYLOAD otherwise: a forward packet was tampered with, or it
     * is a reply (lsx_surb_open reads it). Zero for other flags. */
    int final_status;
    uint32_t message_offset;
    uint32_t message_len;
} lsx_processed;

/* Unwraps one layer of `packet` into `packet_out` (which may be the same
 * buffer: in place) and says what the hop learned in `result`: checks,
 * derives the shared secret (version 1: X25519 with alpha; KEM suite: one
 * decapsulation) and the replay tag and consults `filter` before any further
 * work, verifies the MAC in constant time, decodes the command, records the
 * tag, passes on the next element (version 1: blinds alpha; KEM suite: the
 * next encapsulation, copied from the slot) and decrypts the payload. filter
 * may be NULL (no replay protection; the tag is still returned). Both
 * lengths must equal lsx_packet_bytes of the node's geometry; no allocation.
 * Thread-safe for a shared node and filter. On error, packet_out holds no
 * plaintext. */
LSX_EXPORT LSX_MUST_USE int lsx_process(uint8_t *packet_out, size_t packet_out_len, lsx_processed *result,
                                        const lsx_node *node, lsx_replay_filter *filter,
                                        const uint8_t *packet, size_t packet_len);

/* ---- A suite's KEM on its own --------------------------------------------
 * Packets never need these; they let a binding check the "kem" entries of
 * a suite's test vectors (KEM spec section 16). LSX_ERR_ARGUMENT for a
 * suite without a KEM (version 1). */

/* ENCAP(public_key, seed) of the suite's KEM: the ciphertext
 * (ciphertext_len = lsx_suite_element_bytes(suite)) and the shared secret.
 * seed is NULL with seed_len 0 (from the CSPRNG) or, for test vectors, the
 * KEM's seed size (LSX_KEM_X25519_SEED_BYTES). LSX_ERR_LOW_ORDER for a public
 * key the KEM refuses; nothing readable is written then. */
LSX_EXPORT LSX_MUST_USE int lsx_kem_encapsulate(uint8_t *ciphertext, size_t ciphertext_len,
                                                uint8_t shared_secret[LSX_KEM_SHARED_SECRET_BYTES], lsx_suite suite,
                                                const uint8_t public_key[LSX_KEY_BYTES], const uint8_t *seed,
                                                size_t seed_len);
/* DECAP with a node's key pair (the node's geometry names the suite): the
 * KEM's CHECK first (LSX_ERR_NONCANONICAL_ALPHA), then LSX_ERR_LOW_ORDER. */
LSX_EXPORT LSX_MUST_USE int lsx_kem_decapsulate(uint8_t shared_secret[LSX_KEM_SHARED_SECRET_BYTES], const lsx_node *node,
                                                const uint8_t *ciphertext, size_t ciphertext_len);

/* ---- Single-use reply blocks ------------------------------------------- */

/* Writes a reply block (surb_len = lsx_surb_bytes) and the secret its maker
 * keeps (surb_secret_len = lsx_surb_secret_bytes) over a route (as
 * lsx_create_packet) whose last command must be FINAL (its address is the
 * reply id the maker will recognise). first_hop_id is where the replier
 * sends the reply. `ephemeral` as for lsx_create_packet (NULL and 0: from
 * the CSPRNG); reply_key may be NULL (from the CSPRNG). */
LSX_EXPORT LSX_MUST_USE int lsx_surb_create(uint8_t *surb, size_t surb_len, uint8_t *surb_secret,
                                            size_t surb_secret_len, const lsx_geometry *geometry, size_t hops,
                                            const uint8_t *public_keys, const uint8_t *commands,
                                            const uint8_t first_hop_id[LSX_ADDRESS_BYTES],
                                            const uint8_t *ephemeral, size_t ephemeral_len,
                                            const uint8_t reply_key[LSX_REPLY_KEY_BYTES]);

/* Builds the reply packet from a block and a message, and writes where to
 * send it (first_hop_id). */
LSX_EXPORT LSX_MUST_USE int lsx_surb_use(uint8_t *packet, size_t packet_len, uint8_t first_hop_id[LSX_ADDRESS_BYTES],
                                         const lsx_geometry *geometry, const uint8_t *surb, size_t surb_len,
                                         const uint8_t *message, size_t message_len);

/* Reads where the reply made from a block goes first (its first_hop_id),
 * without using the block. */
LSX_EXPORT LSX_MUST_USE int lsx_surb_first_hop(uint8_t first_hop_id[LSX_ADDRESS_BYTES], const lsx_geometry *geometry,
                                               const uint8_t *surb, size_t surb_len);

/* Opens a reply in place: `payload` is the payload part (geometry->payload
 * bytes) of the maker's own FINAL output. On success the message is
 * payload[*message_offset .. +*message_len). LSX_ERR_PAYLOAD if it does not
 * open under this secret; the payload is then wiped. */
LSX_EXPORT LSX_MUST_USE int lsx_surb_open(uint8_t *payload, size_t payload_len, size_t *message_offset,
                                          size_t *message_len, const lsx_geometry *geometry,
                                          const uint8_t *surb_secret, size_t surb_secret_len);

/* ---- Replay filter ----------------------------------------------------- */

/* A bounded, thread-safe replay filter (a blocked Bloom filter keyed with a
 * random secret) for one key epoch. capacity: the tags it must hold
 * (expected rate x epoch length, see lsx_replay_filter_capacity_for);
 * false_positive_rate: the target, in (0, 0.5]. Memory is fixed at creation.
 * Once `capacity` tags are recorded it refuses new ones (LSX_ERR_REPLAY_FULL):
 * it never silently degrades. Inserts are exact under concurrency (striped
 * locks chosen by block); lookups take no lock. */
LSX_EXPORT LSX_MUST_USE int lsx_replay_filter_create(lsx_replay_filter **filter, uint64_t capacity,
                                                     double false_positive_rate, uint64_t epoch);
LSX_EXPORT void lsx_replay_filter_destroy(lsx_replay_filter *filter);
/* Capacity for an expected packet rate over a key epoch, with 25 % headroom. */
LSX_EXPORT uint64_t lsx_replay_filter_capacity_for(double packets_per_second, double epoch_seconds);
/* LSX_OK if the tag was not there (and is now), LSX_ERR_REPLAY if it was,
 * LSX_ERR_REPLAY_FULL when saturated. Atomic with respect to other calls. */
LSX_EXPORT LSX_MUST_USE int lsx_replay_filter_insert(lsx_replay_filter *filter, const uint8_t tag[LSX_TAG_BYTES]);
/* 1 if the tag is (probably) there, 0 if not. */
LSX_EXPORT int lsx_replay_filter_contains(lsx_replay_filter *filter, const uint8_t tag[LSX_TAG_BYTES]);
/* Starts a new key epoch: if `epoch` differs from the current one, forgets
 * every tag and draws a new hashing key (a header marked clean is marked open
 * again). */
LSX_EXPORT void lsx_replay_filter_rotate(lsx_replay_filter *filter, uint64_t epoch);
LSX_EXPORT uint64_t lsx_replay_filter_epoch(const lsx_replay_filter *filter);
LSX_EXPORT uint64_t lsx_replay_filter_count(const lsx_replay_filter *filter);
LSX_EXPORT uint64_t lsx_replay_filter_capacity(const lsx_replay_filter *filter);
LSX_EXPORT size_t lsx_replay_filter_memory_bytes(const lsx_replay_filter *filter);
/* The false-positive rate the filter has when full (computed for its size). */
LSX_EXPORT double lsx_replay_filter_false_positive_rate(const lsx_replay_filter *filter);

/* A filter over memory its caller provides (a MAP_SHARED file mapping, whose
 * page cache outlives the process): a header, then the blocks. The memory
 * starts on an LSX_REPLAY_FILTER_ALIGNMENT boundary and is exactly
 * lsx_replay_filter_layout_bytes long (LSX_ERR_LENGTH otherwise). The filter
 * object keeps its locks in process memory, never in the caller's. See
 * docs/c-api.md for the layout and for what a power loss can lose. */
#define LSX_REPLAY_FILTER_HEADER_BYTES 256 /* the header before the blocks */
#define LSX_REPLAY_FILTER_BLOCK_BYTES 64   /* one block: a cache line */
#define LSX_REPLAY_FILTER_ALIGNMENT 64     /* where the memory must start */
#define LSX_REPLAY_BOOT_ID_BYTES 16        /* a boot id: /proc/sys/kernel/random/boot_id as 16 bytes */
#define LSX_REPLAY_FILTER_LAYOUT_BYTES(blocks) \
    (LSX_REPLAY_FILTER_HEADER_BYTES + (blocks) * LSX_REPLAY_FILTER_BLOCK_BYTES)
LSX_EXPORT size_t lsx_replay_filter_header_bytes(void);
LSX_EXPORT size_t lsx_replay_filter_block_bytes(void);
LSX_EXPORT size_t lsx_replay_filter_alignment(void);
LSX_EXPORT size_t lsx_replay_boot_id_bytes(void);
/* The bytes a filter of this capacity and rate takes: LSX_REPLAY_FILTER_LAYOUT_BYTES
 * of the blocks sizing chooses (as lsx_replay_filter_create does); 0 for
 * arguments create would refuse. */
LSX_EXPORT size_t lsx_replay_filter_layout_bytes(uint64_t capacity, double false_positive_rate);
/* Writes a new, empty filter into `memory` (a new header with a fresh hash
 * key, marked open in boot `boot_id`, which must not be all zeros) and
 * returns an object using it. Destroying the object leaves the memory alone. */
LSX_EXPORT LSX_MUST_USE int lsx_replay_filter_format(lsx_replay_filter **filter, void *memory, size_t memory_len,
                                                     uint64_t capacity, double false_positive_rate, uint64_t epoch,
                                                     const uint8_t boot_id[LSX_REPLAY_BOOT_ID_BYTES]);
/* Uses the filter of `epoch` that `memory` already holds, with every tag it
 * recorded, and marks it open in boot `boot_id`. LSX_ERR_REPLAY_LAYOUT for
 * anything that is not a whole, consistent filter of exactly memory_len bytes
 * for that epoch (the memory is then left as it was); LSX_ERR_REPLAY_LOST for
 * a filter left open (not closed cleanly) in another boot. Before recording a
 * tag, the caller makes the header durable. */
LSX_EXPORT LSX_MUST_USE int lsx_replay_filter_attach(lsx_replay_filter **filter, void *memory, size_t memory_len,
                                                     uint64_t epoch, const uint8_t boot_id[LSX_REPLAY_BOOT_ID_BYTES]);
/* Stops recording: every insert from now on is refused (LSX_ERR_REPLAY_FULL),
 * and every insert already under way has finished when this returns. */
LSX_EXPORT void lsx_replay_filter_seal(lsx_replay_filter *filter);
/* Marks a sealed filter's header clean (LSX_ERR_ARGUMENT if not sealed): call
 * it only once every block is durable (msync MS_SYNC), then make the header
 * durable. A clean filter can be attached in any later boot. */
LSX_EXPORT LSX_MUST_USE int lsx_replay_filter_mark_clean(lsx_replay_filter *filter);

/* ---- Signatures (Ed25519) ----------------------------------------------
 * For what the network signs: the topology document (by its authority) and
 * a client's pull requests (by the client). */

#define LSX_SIGN_PUBLIC_KEY_BYTES 32
#define LSX_SIGN_SEED_BYTES 32
/* seed || public key, as libsodium keeps it */
#define LSX_SIGN_SECRET_KEY_BYTES (LSX_SIGN_SEED_BYTES + LSX_SIGN_PUBLIC_KEY_BYTES)
#define LSX_SIGNATURE_BYTES 64

LSX_EXPORT size_t lsx_sign_public_key_bytes(void);
LSX_EXPORT size_t lsx_sign_seed_bytes(void);
LSX_EXPORT size_t lsx_sign_secret_key_bytes(void);
LSX_EXPORT size_t lsx_signature_bytes(void);

/* A signing key pair; from `seed` if not NULL (deterministic), else random. */
LSX_EXPORT LSX_MUST_USE int lsx_sign_keypair(uint8_t public_key[LSX_SIGN_PUBLIC_KEY_BYTES],
                                             uint8_t secret_key[LSX_SIGN_SECRET_KEY_BYTES],
                                             const uint8_t seed[LSX_SIGN_SEED_BYTES]);
/* The seed a signing secret key was made from (what a key file keeps). */
LSX_EXPORT LSX_MUST_USE int lsx_sign_seed(uint8_t seed[LSX_SIGN_SEED_BYTES],
                                          const uint8_t secret_key[LSX_SIGN_SECRET_KEY_BYTES]);
LSX_EXPORT LSX_MUST_USE int lsx_sign(uint8_t signature[LSX_SIGNATURE_BYTES], const uint8_t *message, size_t message_len,
                                     const uint8_t secret_key[LSX_SIGN_SECRET_KEY_BYTES]);
/* LSX_OK, or LSX_ERR_SIGNATURE when the signature does not verify. */
LSX_EXPORT LSX_MUST_USE int lsx_verify(const uint8_t signature[LSX_SIGNATURE_BYTES], const uint8_t *message,
                                       size_t message_len, const uint8_t public_key[LSX_SIGN_PUBLIC_KEY_BYTES]);

#ifdef __cplusplus
}
#endif
#endif /* LOOPIX_SPHINX_H */
