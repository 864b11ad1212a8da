/*
 * loopix_noise.h - Noise handshakes and transport encryption for the links
 * between Loopix nodes (Noise Protocol Framework, revision 34).
 *
 * One suite: Curve25519 (X25519), ChaCha20-Poly1305 (IETF) and BLAKE2b, so
 * every protocol name reads Noise_<pattern>_25519_ChaChaPoly_BLAKE2b. The
 * network runs XK on every link; the other interactive patterns of the
 * specification (fundamental and deferred), the one-way patterns and the psk
 * modifiers are there for tests and for whatever needs them later.
 *
 * Conventions are those of loopix_sphinx.h: every symbol starts with
 * `lsx_noise_` / `LSX_NOISE_`; output parameters come first; errors are 0
 * or a negative `lsx_error`; every size is a macro and a function. Creating
 * a handshake and splitting it allocate; writing and reading handshake
 * messages and transport encryption do not. A handshake or a cipher is used
 * by one thread at a time; the two ciphers of a split may live on two
 * threads. These functions initialise libsodium themselves.
 */
#ifndef LOOPIX_NOISE_H
#define LOOPIX_NOISE_H

#include "loopix_sphinx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Sizes (each also available as a function, for bindings) ---------- */

#define LSX_NOISE_DH_BYTES 32                          /* DHLEN: an X25519 public key or shared secret */
#define LSX_NOISE_PUBLIC_KEY_BYTES LSX_NOISE_DH_BYTES  /* a static or ephemeral public key */
#define LSX_NOISE_SECRET_KEY_BYTES 32                  /* an X25519 secret key */
#define LSX_NOISE_KEY_BYTES 32                         /* a cipher key k */
#define LSX_NOISE_PSK_BYTES 32                         /* a pre-shared key */
#define LSX_NOISE_HASH_BYTES 64                        /* HASHLEN of BLAKE2b: h, ck, the handshake hash */
#define LSX_NOISE_HASH_BLOCK_BYTES 128                 /* BLOCKLEN of BLAKE2b, for HMAC */
#define LSX_NOISE_TAG_BYTES 16                         /* the Poly1305 tag after every encrypted field */
/* The IETF ChaCha20-Poly1305 nonce: 4 zero bytes || the 64-bit counter, little-endian. */
#define LSX_NOISE_NONCE_PREFIX_BYTES 4
#define LSX_NOISE_NONCE_BYTES (LSX_NOISE_NONCE_PREFIX_BYTES + 8)
/* Every Noise message, handshake or transport, is at most this long. */
#define LSX_NOISE_MAX_MESSAGE_BYTES 65535
#define LSX_NOISE_MAX_PLAINTEXT_BYTES (LSX_NOISE_MAX_MESSAGE_BYTES - LSX_NOISE_TAG_BYTES)
/* The nonce that REKEY uses; a cipher that reaches it refuses to encrypt or decrypt again. */
#define LSX_NOISE_RESERVED_NONCE UINT64_MAX

/* A transport message: the plaintext and its tag. */
#define LSX_NOISE_TRANSPORT_BYTES(plaintext) ((plaintext) + LSX_NOISE_TAG_BYTES)

/* XK, the network's pattern:
 *   <- s
 *   ...
 *   -> e, es        message 1: e, then the payload encrypted (the responder's key is known)
 *   <- e, ee        message 2: e, then the payload encrypted
 *   -> s, se        message 3: s encrypted (with its tag), then the payload encrypted */
#define LSX_NOISE_PROTOCOL_XK "Noise_XK_25519_ChaChaPoly_BLAKE2b"
#define LSX_NOISE_XK_MESSAGES 3
#define LSX_NOISE_XK_MESSAGE1_BYTES(payload) (LSX_NOISE_PUBLIC_KEY_BYTES + LSX_NOISE_TAG_BYTES + (payload))
#define LSX_NOISE_XK_MESSAGE2_BYTES(payload) (LSX_NOISE_PUBLIC_KEY_BYTES + LSX_NOISE_TAG_BYTES + (payload))
#define LSX_NOISE_XK_MESSAGE3_BYTES(payload) \
    (LSX_NOISE_PUBLIC_KEY_BYTES + LSX_NOISE_TAG_BYTES + LSX_NOISE_TAG_BYTES + (payload))

LSX_EXPORT size_t lsx_noise_public_key_bytes(void);
LSX_EXPORT size_t lsx_noise_secret_key_bytes(void);
LSX_EXPORT size_t lsx_noise_key_bytes(void);
LSX_EXPORT size_t lsx_noise_psk_bytes(void);
LSX_EXPORT size_t lsx_noise_hash_bytes(void);
LSX_EXPORT size_t lsx_noise_tag_bytes(void);
LSX_EXPORT size_t lsx_noise_max_message_bytes(void);
LSX_EXPORT size_t lsx_noise_max_plaintext_bytes(void);
/* The size of XK message 1, 2 or 3 carrying `payload_len` payload bytes;
 * 0 for another message number or when it would exceed the maximum. */
LSX_EXPORT size_t lsx_noise_xk_message_bytes(unsigned message_number, size_t payload_len);

/* ---- Keys -------------------------------------------------------------- */

/* A fresh X25519 key pair from the CSPRNG, for a node's static Noise key. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_keypair(uint8_t public_key[LSX_NOISE_PUBLIC_KEY_BYTES],
                                              uint8_t secret_key[LSX_NOISE_SECRET_KEY_BYTES]);
/* The public key of a secret key. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_public_key(uint8_t public_key[LSX_NOISE_PUBLIC_KEY_BYTES],
                                                 const uint8_t secret_key[LSX_NOISE_SECRET_KEY_BYTES]);

/* The static key of a node or client whose long-term identity is an Ed25519
 * key (loopix_sphinx.h's signing keys): the X25519 form of that key, so that
 * the key the directory lists, or a provider registers, is also the key a
 * link authenticates. The secret is the clamped scalar Ed25519 signs with
 * (SHA-512 of the seed, first half), and the public key is the Montgomery
 * u-coordinate of the Edwards point; see docs/noise.md for what using one
 * key pair for signatures and Diffie-Hellman means. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_secret_key_from_signing_seed(uint8_t secret_key[LSX_NOISE_SECRET_KEY_BYTES],
                                                                   const uint8_t seed[LSX_SIGN_SEED_BYTES]);
/* The X25519 public key of an Ed25519 public key. LSX_ERR_LOW_ORDER for a
 * key of small order, a point not on the curve or outside its prime-order
 * subgroup (no honest key is either). Two Ed25519 keys, P and -P, share one
 * X25519 key; only the holder of the secret scalar (up to its sign) can use
 * it. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_public_key_from_signing_key(uint8_t public_key[LSX_NOISE_PUBLIC_KEY_BYTES],
                                                                  const uint8_t signing_public_key[LSX_SIGN_PUBLIC_KEY_BYTES]);

/* ---- Handshakes -------------------------------------------------------- */

typedef struct lsx_noise_handshake lsx_noise_handshake;
typedef struct lsx_noise_cipher lsx_noise_cipher;

typedef enum lsx_noise_role {
    LSX_NOISE_INITIATOR = 1, /* sends the first message */
    LSX_NOISE_RESPONDER = 2
} lsx_noise_role;

/* What a handshake expects next. */
typedef enum lsx_noise_step {
    LSX_NOISE_STEP_WRITE = 1,  /* this side writes the next message */
    LSX_NOISE_STEP_READ = 2,   /* this side reads the peer's next message */
    LSX_NOISE_STEP_SPLIT = 3,  /* complete: the hash is final, split it into ciphers */
    LSX_NOISE_STEP_DONE = 4,   /* split: only the hash and the remote static key remain */
    LSX_NOISE_STEP_FAILED = 5  /* a message failed (or a NULL handshake): nothing more works */
} lsx_noise_step;

/* LSX_OK if this library implements the protocol named (a full Noise name
 * such as LSX_NOISE_PROTOCOL_XK), else LSX_ERR_NOISE_PROTOCOL. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_protocol_check(const char *protocol_name);

/* Sets up one side of a handshake. protocol_name is a full Noise name such
 * as LSX_NOISE_PROTOCOL_XK (LSX_ERR_NOISE_PROTOCOL for anything else than
 * the suite above, an unknown pattern or a modifier other than pskN). The
 * keys must be exactly those the pattern needs, NULL otherwise
 * (LSX_ERR_NOISE_KEYS): local_static_secret when this side has a static
 * key, remote_static_public when the pattern makes the peer's static key
 * known beforehand (XK initiator: the responder's key from the directory),
 * and one pre-shared key per psk token, psk_count consecutive keys in token
 * order. A key that the pattern learns or never uses is refused rather than
 * ignored, so that a caller cannot believe it pinned a key that is never
 * checked. The prologue (which may be empty) must be the same on both
 * sides. Allocates; ephemeral keys come from the CSPRNG. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_handshake_create(lsx_noise_handshake **handshake, const char *protocol_name,
                                                       lsx_noise_role role, const uint8_t *prologue,
                                                       size_t prologue_len,
                                                       const uint8_t local_static_secret[LSX_NOISE_SECRET_KEY_BYTES],
                                                       const uint8_t remote_static_public[LSX_NOISE_PUBLIC_KEY_BYTES],
                                                       const uint8_t *psks, size_t psk_count);
/* Wipes every key, hash and message count, then frees. NULL is allowed. */
LSX_EXPORT void lsx_noise_handshake_destroy(lsx_noise_handshake *handshake);

LSX_EXPORT lsx_noise_step lsx_noise_handshake_next_step(const lsx_noise_handshake *handshake);
/* The size of the next message (to write or to read) with `payload_len`
 * payload bytes; 0 when no message is expected or it would exceed
 * LSX_NOISE_MAX_MESSAGE_BYTES. */
LSX_EXPORT size_t lsx_noise_handshake_message_bytes(const lsx_noise_handshake *handshake, size_t payload_len);

/* Writes this side's next message, payload included, into message
 * (message_capacity bytes; *message_len receives its length, see
 * lsx_noise_handshake_message_bytes). The buffers must not overlap.
 * LSX_ERR_NOISE_STATE when it is not this side's turn; LSX_ERR_LENGTH when
 * the buffer is too small or the message would exceed the maximum, and
 * then nothing changed. A failure past those checks (a low-order key)
 * fails the handshake. No allocation. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_handshake_write_message(uint8_t *message, size_t message_capacity,
                                                              size_t *message_len, lsx_noise_handshake *handshake,
                                                              const uint8_t *payload, size_t payload_len);
/* Reads the peer's next message and writes its payload into payload
 * (payload_capacity bytes; *payload_len receives its length). The buffers
 * must not overlap. Any failure past the NULL and turn checks (too short,
 * too long, a payload buffer too small, a low-order key, a bad tag) fails
 * the handshake for good: its secrets are wiped, payload holds no
 * plaintext, and every later call answers LSX_ERR_NOISE_STATE. A handshake
 * is never left half-advanced. No allocation. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_handshake_read_message(uint8_t *payload, size_t payload_capacity,
                                                             size_t *payload_len, lsx_noise_handshake *handshake,
                                                             const uint8_t *message, size_t message_len);

/* The handshake hash h, once the handshake is complete (LSX_NOISE_STEP_SPLIT
 * or DONE): both sides hold the same value, unique to this session, for
 * channel binding. LSX_ERR_NOISE_STATE before. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_handshake_hash(uint8_t hash[LSX_NOISE_HASH_BYTES],
                                                     const lsx_noise_handshake *handshake);
/* The peer's static public key, once known: given at creation, or learned
 * from a message that authenticated (the XK responder learns the
 * initiator's key from message 3 and should then look it up in its
 * allow-list). LSX_ERR_NOISE_STATE when not (yet) known or failed. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_handshake_remote_static(uint8_t public_key[LSX_NOISE_PUBLIC_KEY_BYTES],
                                                              const lsx_noise_handshake *handshake);

/* Splits a complete handshake into this side's two transport ciphers: one
 * that encrypts what this side sends, one that decrypts what it receives
 * (for a one-way pattern, the initiator's receiving cipher and the
 * responder's sending cipher refuse every call). Wipes the handshake's
 * chaining key (its private keys went when the last message was done); its
 * hash and the remote static key stay readable. Allocates; once only. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_handshake_split(lsx_noise_cipher **send, lsx_noise_cipher **receive,
                                                      lsx_noise_handshake *handshake);

/* ---- Transport --------------------------------------------------------- */

/* Encrypts frame[0 .. plaintext_len) in place and appends the tag: the
 * message is frame[0 .. *frame_len), plaintext_len + LSX_NOISE_TAG_BYTES
 * bytes, so frame_capacity must leave room for the tag (LSX_ERR_LENGTH, and
 * nothing changes, otherwise or beyond LSX_NOISE_MAX_PLAINTEXT_BYTES). Each
 * call uses the next nonce; LSX_ERR_NONCE_EXHAUSTED once the nonces are
 * used up (a new handshake is needed; rekeying does not reset them).
 * LSX_ERR_NOISE_STATE on a receiving cipher. No allocation. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_cipher_encrypt(uint8_t *frame, size_t frame_capacity, size_t *frame_len,
                                                     lsx_noise_cipher *cipher, size_t plaintext_len);
/* Decrypts a message of frame_len bytes in place: the plaintext is
 * frame[0 .. *plaintext_len). Messages must arrive in order (as on a TCP
 * link). A message that does not authenticate gives LSX_ERR_MAC and ends
 * the cipher (LSX_ERR_NOISE_STATE from then on, key wiped): on an ordered
 * stream nothing after a forged or damaged message can be trusted, and
 * refusing more gives a forger no second try. The frame then holds no
 * plaintext. LSX_ERR_LENGTH (and the cipher ends) for a message shorter
 * than the tag or longer than the maximum. No allocation. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_cipher_decrypt(uint8_t *frame, size_t *plaintext_len, lsx_noise_cipher *cipher,
                                                     size_t frame_len);
/* REKEY(k): the key becomes the first 32 bytes of ENCRYPT(k, 2^64-1, empty,
 * 32 zero bytes); the nonce count goes on. Both ends must rekey at the same
 * message. */
LSX_EXPORT LSX_MUST_USE int lsx_noise_cipher_rekey(lsx_noise_cipher *cipher);
/* The nonce the next message will use (the number of messages so far);
 * LSX_NOISE_RESERVED_NONCE when exhausted, for an ended cipher or NULL. */
LSX_EXPORT uint64_t lsx_noise_cipher_nonce(const lsx_noise_cipher *cipher);
/* Wipes the key and frees. NULL is allowed. */
LSX_EXPORT void lsx_noise_cipher_destroy(lsx_noise_cipher *cipher);

#ifdef __cplusplus
}
#endif
#endif /* LOOPIX_NOISE_H */
