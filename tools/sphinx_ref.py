"""Reference implementation of the Loopix Sphinx packet suites.

This module is the project's second, independent implementation of the packet
formats described in docs/packet-format.md (version 1: one group element,
blinded at every hop) and docs/packet-format-kem.md (the KEM suite: one key
encapsulation per hop, carried in the routing information of the hop
before). The C core is checked against it through the published test vectors
(Tests/Vectors/*.json, written by tools/gen_vectors.py). It deliberately
avoids libsodium: X25519 and ChaCha20 come from the `cryptography` package,
BLAKE2b from `hashlib`.

Suites share one copy of everything but the few steps where they differ
(a `Suite` object says how): commands, per-hop keys, the filler, the routing
block, LIONESS, the payload framing, reply blocks and dummies. A packet's
suite is part of its `Geometry`, which fixes every size.

It is written for clarity and literal agreement with the format, not speed,
and it is not meant to carry real traffic (nothing here is constant time
except the MAC comparison).

Every function that reads bytes from the network reports a malformed input by
raising SphinxError whose `.name` is one of ERROR_NAMES (the same strings as
the C core's lsx_error_name). Caller mistakes that no network input can cause
(a private key of the wrong size, a non-bytes argument) raise TypeError or
ValueError instead.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

VERSION = 0x01           # version 1's version byte (SUITE_V1.version)
COMMAND_LEN = 48         # flag(1) || delay_us(4) || address(32) || reserved(11)
ADDRESS_LEN = 32
RESERVED_LEN = 11
MAC_LEN = 16             # gamma
KEY_LEN = 32
ALPHA_LEN = 32
PAYLOAD_PREFIX_LEN = 16  # leading zero bytes of the plaintext payload
PAYLOAD_OVERHEAD = PAYLOAD_PREFIX_LEN + 2   # zeros + 2-byte length
SURB_KEY_LEN = 4 * KEY_LEN                  # kt: four LIONESS keys

MIN_HOPS, MAX_HOPS = 1, 16
MIN_PAYLOAD, MAX_PAYLOAD = 64, 65536
DEFAULT_HOPS, DEFAULT_PAYLOAD = 6, 2048

FLAG_RELAY = 0x01
FLAG_DELIVER = 0x02
FLAG_DROP = 0x03
FLAG_FINAL = 0x04
FLAG_NAMES = {
    FLAG_RELAY: "RELAY",
    FLAG_DELIVER: "DELIVER",
    FLAG_DROP: "DROP",
    FLAG_FINAL: "FINAL",
}

KDF_CONTEXT = b"LOOPIXv1"   # version 1's KDF personalisation
KEM_VERSION = 0x02          # the KEM suite with the X25519 KEM
KEM_KDF_CONTEXT = b"LOOPIXk2"
X25519_KEM_PERSONAL = b"LOOPIX-X25519KEM"   # BLAKE2b personalisation of its shared secret
P25519 = 2 ** 255 - 19

# KDF subkey ids (per-hop keys).
KDF_ID_HEADER_STREAM = 1
KDF_ID_HEADER_MAC = 2
KDF_ID_PAYLOAD = (3, 4, 5, 6)
KDF_ID_BLINDING = 7
KDF_ID_TAG = 8

ERROR_NAMES = (
    "wrong_length",
    "bad_version",
    "noncanonical_alpha",
    "low_order_point",
    "replay",
    "bad_mac",
    "unknown_flag",
    "reserved_nonzero",
    "payload_integrity",
    "message_too_long",
    "invalid_route",
    "invalid_geometry",
)


class SphinxError(Exception):
    """A packet, route or geometry was rejected. `.name` is a stable error name."""

    def __init__(self, name: str, detail: str = ""):
        if name not in ERROR_NAMES:
            raise AssertionError("unknown error name %r" % (name,))
        self.name = name
        self.detail = detail
        super().__init__(name + (": " + detail if detail else ""))


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def _as_bytes(value, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError("%s must be bytes, not %s" % (what, type(value).__name__))


def _fixed(value, length: int, what: str) -> bytes:
    """A caller-supplied secret or key of a fixed size (not network input)."""
    value = _as_bytes(value, what)
    if len(value) != length:
        raise ValueError("%s must be %d bytes, got %d" % (what, length, len(value)))
    return value


def xor(a: bytes, b: bytes) -> bytes:
    """Bytewise XOR of two equal-length byte strings."""
    if len(a) != len(b):
        raise ValueError("xor of unequal lengths %d and %d" % (len(a), len(b)))
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(
        len(a), "little"
    )


# ---------------------------------------------------------------------------
# Primitives
# ---------------------------------------------------------------------------

def x25519(k: bytes, u: bytes) -> bytes:
    """RFC 7748 X25519(k, u), scalar clamped. An all-zero result is a failure.

    `cryptography` (OpenSSL) itself refuses to return an all-zero shared
    secret and raises ValueError; both that and an all-zero output (should a
    backend ever return one) are reported as low_order_point. All-zero happens
    exactly when u is a point of small order (clamping makes the scalar a
    multiple of the cofactor 8), so this matches libsodium, which refuses the
    same inputs.
    """
    k = _fixed(k, KEY_LEN, "X25519 scalar")
    u = _fixed(u, ALPHA_LEN, "X25519 point")
    try:
        out = X25519PrivateKey.from_private_bytes(k).exchange(
            X25519PublicKey.from_public_bytes(u)
        )
    except ValueError:
        raise SphinxError("low_order_point", "X25519 produced the all-zero value")
    if out == bytes(KEY_LEN):
        raise SphinxError("low_order_point", "X25519 produced the all-zero value")
    return out


def x25519_base(k: bytes) -> bytes:
    """X25519(k, 9): the public key of scalar k (clamped)."""
    k = _fixed(k, KEY_LEN, "X25519 scalar")
    return X25519PrivateKey.from_private_bytes(k).public_key().public_bytes_raw()


def kdf(s: bytes, subkey_id: int, n: int) -> bytes:
    """KDF(s, id, n): keyed BLAKE2b as libsodium's crypto_kdf_derive_from_key.

    key = s (32 bytes), output n bytes, empty message,
    salt = id (8 bytes little-endian) || 8 zero bytes,
    personalisation = "LOOPIXv1" || 8 zero bytes.
    """
    return kdf_with_context(s, subkey_id, n, KDF_CONTEXT)


def kdf_with_context(s: bytes, subkey_id: int, n: int, context: bytes) -> bytes:
    """KDF with an arbitrary 8-byte context (for known-answer tests)."""
    s = _fixed(s, KEY_LEN, "KDF key")
    context = _fixed(context, 8, "KDF context")
    if not 16 <= n <= 64:
        raise ValueError("KDF output length must be 16..64 bytes")
    if not 0 <= subkey_id < 2 ** 64:
        raise ValueError("KDF subkey id out of range")
    salt = subkey_id.to_bytes(8, "little") + bytes(8)
    person = context + bytes(8)
    return hashlib.blake2b(b"", digest_size=n, key=s, salt=salt, person=person).digest()


# cryptography's ChaCha20 takes a 16-byte "nonce" that is really the whole
# last row of the ChaCha20 state (words 12..15): a 32-bit little-endian block
# counter in word 12 followed by a 96-bit nonce (the RFC 8439 layout). The
# original ChaCha20 that libsodium's crypto_stream_chacha20 implements uses
# the same state with a 64-bit block counter in words 12..13 and a 64-bit
# nonce in words 14..15. Our nonce is 8 zero bytes and the counter starts at
# 0, so in both layouts words 12..15 all start at zero and the initial states
# are identical. Block i then differs from block 0 only by the value i in word
# 12, which is the same in both layouts for every i < 2^32; only at block 2^32
# (256 GiB) could they differ, in how the counter carries into word 13. The
# longest stream used here is P - 32 < 65536 bytes, i.e. at most 1024 blocks.
_CHACHA_ZERO_STATE_ROW = bytes(16)


def stream(k: bytes, n: int) -> bytes:
    """STREAM(k, n): first n bytes of ChaCha20 (64-bit zero nonce, counter 0)."""
    k = _fixed(k, KEY_LEN, "stream key")
    if n < 0:
        raise ValueError("negative stream length")
    enc = Cipher(algorithms.ChaCha20(k, _CHACHA_ZERO_STATE_ROW), mode=None).encryptor()
    return enc.update(bytes(n)) + enc.finalize()


def mac(k: bytes, m: bytes) -> bytes:
    """MAC(k, m): keyed BLAKE2b with a 16-byte digest (not a truncated 32)."""
    k = _fixed(k, KEY_LEN, "MAC key")
    return hashlib.blake2b(m, digest_size=MAC_LEN, key=k).digest()


def h32(k: bytes, m: bytes) -> bytes:
    """H32(k, m): keyed BLAKE2b with a 32-byte digest."""
    k = _fixed(k, KEY_LEN, "hash key")
    return hashlib.blake2b(m, digest_size=32, key=k).digest()


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    flag: int
    delay_us: int
    address: bytes


def encode_command(
    flag: int,
    delay_us: int = 0,
    address: bytes = bytes(ADDRESS_LEN),
    reserved: bytes = bytes(RESERVED_LEN),
    strict: bool = True,
) -> bytes:
    """flag(1) || delay_us(4, big-endian) || address(32) || reserved(11).

    With strict=False any flag byte and any reserved bytes are accepted, so
    that test vectors can carry commands a node must reject.
    """
    address = _fixed(address, ADDRESS_LEN, "command address")
    reserved = _fixed(reserved, RESERVED_LEN, "command reserved bytes")
    if not 0 <= flag <= 0xFF:
        raise ValueError("flag must fit in one byte")
    if not 0 <= delay_us <= 0xFFFFFFFF:
        raise ValueError("delay_us must fit in 32 bits")
    if strict:
        if flag not in FLAG_NAMES:
            raise SphinxError("unknown_flag", "flag 0x%02x" % flag)
        if reserved != bytes(RESERVED_LEN):
            raise SphinxError("reserved_nonzero")
    return bytes([flag]) + delay_us.to_bytes(4, "big") + address + reserved


def decode_command(command: bytes) -> Command:
    """Parse and check a 48-byte command (unknown_flag, reserved_nonzero)."""
    command = _as_bytes(command, "command")
    if len(command) != COMMAND_LEN:
        raise SphinxError("wrong_length", "a command is 48 bytes")
    flag = command[0]
    if flag not in FLAG_NAMES:
        raise SphinxError("unknown_flag", "flag 0x%02x" % flag)
    if command[37:48] != bytes(RESERVED_LEN):
        raise SphinxError("reserved_nonzero")
    return Command(flag, int.from_bytes(command[1:5], "big"), command[5:37])


# ---------------------------------------------------------------------------
# Per-hop keys
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class HopKeys:
    shared_secret: bytes
    kh: bytes                       # header stream key
    km: bytes                       # header MAC key
    payload: Tuple[bytes, bytes, bytes, bytes]   # LIONESS K1..K4
    blinding: Optional[bytes]       # b (version 1 only: other suites do not blind)
    tag: bytes                      # replay tag


def derive_hop_keys(s: bytes, suite: "Suite") -> HopKeys:
    """Every key of one hop, from its shared secret, under the suite's KDF context."""
    return HopKeys(
        shared_secret=s,
        kh=suite.kdf(s, KDF_ID_HEADER_STREAM),
        km=suite.kdf(s, KDF_ID_HEADER_MAC),
        payload=tuple(suite.kdf(s, i) for i in KDF_ID_PAYLOAD),
        blinding=suite.kdf(s, KDF_ID_BLINDING) if suite.blinds else None,
        tag=suite.kdf(s, KDF_ID_TAG),
    )


# ---------------------------------------------------------------------------
# Suites
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Suite:
    """What one packet suite does differently; the rest of this module serves all.

    A packet is version || element || beta || gamma || payload, where beta is
    one slot per hop and a slot is command || next gamma || extra. The suite
    fixes the version byte, the KDF personalisation, the element (v1: the
    blinded group element alpha) and the slot's extra bytes, and it provides
    the hop secrets, the check on an element, and the element a hop passes on.
    """

    name: str
    version: int
    kdf_context: bytes
    blinds = False              # does a hop derive a blinding scalar (KDF id 7)?

    @property
    def public_key_len(self) -> int:
        return KEY_LEN

    @property
    def private_key_len(self) -> int:
        return KEY_LEN

    @property
    def element_len(self) -> int:
        raise NotImplementedError

    @property
    def slot_extra_len(self) -> int:
        raise NotImplementedError

    @property
    def slot_len(self) -> int:
        return COMMAND_LEN + MAC_LEN + self.slot_extra_len

    def kdf(self, s: bytes, subkey_id: int) -> bytes:
        return kdf_with_context(s, subkey_id, KEY_LEN, self.kdf_context)

    def route_keys(self, public_keys: Sequence[bytes], ephemeral):
        """(the header's element, each hop's keys, the extra bytes of hops 0..n-2's slots)."""
        raise NotImplementedError

    def check_element(self, element: bytes) -> None:
        """Raise if the packet's element is not in its one canonical encoding."""
        raise NotImplementedError

    def hop_secret(self, private_key: bytes, element: bytes) -> bytes:
        """The node's side: the shared secret of the hop the packet has reached."""
        raise NotImplementedError

    def next_element(self, keys: HopKeys, element: bytes, slot: bytes) -> bytes:
        """The element of the packet this hop sends on."""
        raise NotImplementedError

    def dummy_element(self, secret: bytes) -> bytes:
        """An element distributed as a real packet's, for cover packets."""
        raise NotImplementedError


@dataclass(frozen=True)
class BlindingSuite(Suite):
    """Version 1: alpha is blinded at every hop (two X25519 per hop)."""

    blinds = True

    @property
    def element_len(self) -> int:
        return ALPHA_LEN

    @property
    def slot_extra_len(self) -> int:
        return 0

    def route_keys(self, public_keys, ephemeral):
        # s_i is pk_i multiplied by x, then by b_0 .. b_{i-1}; only alpha_0
        # goes into the header, so the later alphas are never computed.
        x = _fixed(ephemeral, KEY_LEN, "ephemeral secret")
        keys: List[HopKeys] = []
        for i, pk in enumerate(public_keys):
            t = x25519(x, pk)
            for j in range(i):
                t = x25519(keys[j].blinding, t)
            keys.append(derive_hop_keys(t, self))
        return x25519_base(x), keys, [b""] * (len(public_keys) - 1)

    def check_element(self, element):
        if element[31] & 0x80:
            raise SphinxError("noncanonical_alpha", "top bit of alpha is set")

    def hop_secret(self, private_key, element):
        return x25519(private_key, element)

    def next_element(self, keys, element, slot):
        return x25519(keys.blinding, element)

    def dummy_element(self, secret):
        return x25519_base(secret)


SUITE_V1 = BlindingSuite("sphinx-v1", VERSION, KDF_CONTEXT)


@dataclass(frozen=True)
class X25519Kem:
    """The X25519 KEM of docs/packet-format-kem.md section 3.

    encap(pk, e): ct = X25519_BASE(e), dh = X25519(e, pk);
    decap(sk, pk, ct): dh = X25519(sk, ct); in both the shared secret is
    keyed BLAKE2b-256 of ct || pk under dh, personalised "LOOPIX-X25519KEM",
    so that every ciphertext that X25519 maps to the same dh (1/u, the other
    small-order twins) gives an unrelated secret. A ciphertext is canonical
    when its little-endian value is below 2^255 - 19, as X25519 writes it.
    """

    name = "x25519"
    public_key_len = 32
    private_key_len = 32
    ciphertext_len = 32
    seed_len = 32               # the encapsulation's randomness: the ephemeral scalar
    shared_secret_len = 32

    def public_key(self, private_key: bytes) -> bytes:
        return x25519_base(private_key)

    def encap(self, public_key: bytes, seed: bytes) -> Tuple[bytes, bytes]:
        """(ciphertext, shared secret) for `public_key`, from `seed` (fresh random
        for every encapsulation; given here so that vectors reproduce)."""
        ct = x25519_base(seed)
        return ct, self._shared_secret(x25519(seed, public_key), ct, public_key)

    def check_ciphertext(self, ct: bytes) -> None:
        if int.from_bytes(ct, "little") >= P25519:
            raise SphinxError("noncanonical_alpha", "encapsulation is not below 2^255 - 19")

    def decap(self, private_key: bytes, public_key: bytes, ct: bytes) -> bytes:
        """The shared secret; `public_key` is the node's own (kept beside its
        private key, not recomputed per packet by a real node)."""
        return self._shared_secret(x25519(private_key, ct), ct, public_key)

    def dummy_ciphertext(self, seed: bytes) -> bytes:
        return x25519_base(seed)

    @staticmethod
    def _shared_secret(dh: bytes, ct: bytes, public_key: bytes) -> bytes:
        return hashlib.blake2b(ct + public_key, digest_size=32, key=dh,
                               person=X25519_KEM_PERSONAL).digest()


@dataclass(frozen=True)
class KemSuite(Suite):
    """One key encapsulation per hop: the first in the header where version 1
    has alpha, each later one in the slot of the hop before (one X25519 per hop)."""

    kem: X25519Kem = X25519Kem()

    @property
    def public_key_len(self) -> int:
        return self.kem.public_key_len

    @property
    def private_key_len(self) -> int:
        return self.kem.private_key_len

    @property
    def element_len(self) -> int:
        return self.kem.ciphertext_len

    @property
    def slot_extra_len(self) -> int:
        return self.kem.ciphertext_len

    def route_keys(self, public_keys, ephemeral):
        # One fresh seed per hop; a seed used twice would put the same
        # ciphertext in two packets (or twice in one) and link them.
        if not isinstance(ephemeral, (list, tuple)):
            raise TypeError("the KEM suite takes a sequence of ephemeral secrets, one per hop")
        if len(ephemeral) != len(public_keys):
            raise ValueError("%d hops but %d ephemeral secrets" % (len(public_keys), len(ephemeral)))
        cts, keys = [], []
        for pk, seed in zip(public_keys, ephemeral):
            ct, ss = self.kem.encap(pk, _fixed(seed, self.kem.seed_len, "ephemeral secret"))
            cts.append(ct)
            keys.append(derive_hop_keys(ss, self))
        return cts[0], keys, cts[1:]

    def check_element(self, element):
        self.kem.check_ciphertext(element)

    def hop_secret(self, private_key, element):
        return self.kem.decap(private_key, self.kem.public_key(private_key), element)

    def next_element(self, keys, element, slot):
        return slot[COMMAND_LEN + MAC_LEN:]

    def dummy_element(self, secret):
        return self.kem.dummy_ciphertext(secret)


SUITE_KEM_X25519 = KemSuite("kem-x25519", KEM_VERSION, KEM_KDF_CONTEXT)
SUITES = (SUITE_V1, SUITE_KEM_X25519)


# ---------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Geometry:
    """What fixes every size of a network's packets: H (max hops), P (payload
    bytes) and the packet suite (version 1 unless another is named)."""

    hops: int = DEFAULT_HOPS
    payload: int = DEFAULT_PAYLOAD
    suite: Suite = SUITE_V1

    def __post_init__(self):
        if not isinstance(self.suite, Suite):
            raise TypeError("suite must be a Suite")
        for name in ("hops", "payload"):
            if type(getattr(self, name)) is not int:
                raise SphinxError("invalid_geometry", "%s must be an int" % name)
        if not MIN_HOPS <= self.hops <= MAX_HOPS:
            raise SphinxError("invalid_geometry", "H must be in 1..16")
        if not MIN_PAYLOAD <= self.payload <= MAX_PAYLOAD:
            raise SphinxError("invalid_geometry", "P must be in 64..65536")

    @property
    def slot(self) -> int:
        return self.suite.slot_len

    @property
    def beta_len(self) -> int:
        return self.hops * self.slot

    @property
    def header_len(self) -> int:
        return 1 + self.suite.element_len + self.beta_len + MAC_LEN

    @property
    def packet_len(self) -> int:
        return self.header_len + self.payload

    @property
    def max_message(self) -> int:
        return self.payload - PAYLOAD_OVERHEAD

    @property
    def surb_len(self) -> int:
        return ADDRESS_LEN + self.header_len + SURB_KEY_LEN


DEFAULT_GEOMETRY = Geometry(DEFAULT_HOPS, DEFAULT_PAYLOAD)


# ---------------------------------------------------------------------------
# LIONESS
# ---------------------------------------------------------------------------

def split_lioness_keys(keys) -> Tuple[bytes, bytes, bytes, bytes]:
    """Accept either 128 bytes (kt) or a sequence of four 32-byte keys."""
    if isinstance(keys, (bytes, bytearray, memoryview)):
        keys = _fixed(keys, SURB_KEY_LEN, "LIONESS key")
        return tuple(keys[i * KEY_LEN:(i + 1) * KEY_LEN] for i in range(4))
    keys = tuple(keys)
    if len(keys) != 4:
        raise ValueError("LIONESS needs four keys")
    return tuple(_fixed(k, KEY_LEN, "LIONESS subkey") for k in keys)


def _lioness_split(block: bytes) -> Tuple[bytes, bytes]:
    block = _as_bytes(block, "LIONESS block")
    if len(block) < KEY_LEN + 1:
        raise ValueError("LIONESS block too short")
    return block[:KEY_LEN], block[KEY_LEN:]


def lioness_enc(keys, block: bytes) -> bytes:
    k1, k2, k3, k4 = split_lioness_keys(keys)
    left, right = _lioness_split(block)
    right = xor(right, stream(xor(left, k1), len(right)))
    left = xor(left, h32(k2, right))
    right = xor(right, stream(xor(left, k3), len(right)))
    left = xor(left, h32(k4, right))
    return left + right


def lioness_dec(keys, block: bytes) -> bytes:
    k1, k2, k3, k4 = split_lioness_keys(keys)
    left, right = _lioness_split(block)
    left = xor(left, h32(k4, right))
    right = xor(right, stream(xor(left, k3), len(right)))
    left = xor(left, h32(k2, right))
    right = xor(right, stream(xor(left, k1), len(right)))
    return left + right


# ---------------------------------------------------------------------------
# Payload plaintext
# ---------------------------------------------------------------------------

def encode_payload(geometry: Geometry, message: bytes) -> bytes:
    """0^16 || len (2 bytes, big-endian) || message || zero padding, P bytes."""
    message = _as_bytes(message, "message")
    if len(message) > geometry.max_message:
        raise SphinxError(
            "message_too_long",
            "%d bytes, at most %d" % (len(message), geometry.max_message),
        )
    pad = geometry.max_message - len(message)
    return bytes(PAYLOAD_PREFIX_LEN) + len(message).to_bytes(2, "big") + message + bytes(pad)


def decode_payload(geometry: Geometry, plaintext: bytes) -> Tuple[bool, Optional[bytes]]:
    """The destination's check: (True, message) or (False, None).

    The plaintext must start with 16 zero bytes and its length field must be
    at most P - 18. The padding after the message is not examined.
    """
    plaintext = _as_bytes(plaintext, "payload")
    if len(plaintext) != geometry.payload:
        return False, None
    if plaintext[:PAYLOAD_PREFIX_LEN] != bytes(PAYLOAD_PREFIX_LEN):
        return False, None
    length = int.from_bytes(plaintext[PAYLOAD_PREFIX_LEN:PAYLOAD_OVERHEAD], "big")
    if length > geometry.max_message:
        return False, None
    return True, plaintext[PAYLOAD_OVERHEAD:PAYLOAD_OVERHEAD + length]


def wrap_payload(payload_keys: Sequence, plaintext: bytes) -> bytes:
    """Onion-encrypt a P-byte plaintext: LIONESS_ENC(K_i) for i = n-1 down to 0."""
    block = _as_bytes(plaintext, "payload")
    for keys in reversed(list(payload_keys)):
        block = lioness_enc(keys, block)
    return block


# ---------------------------------------------------------------------------
# Header creation
# ---------------------------------------------------------------------------

def _check_route(geometry: Geometry, public_keys, commands, check_commands: bool):
    if not isinstance(geometry, Geometry):
        raise TypeError("geometry must be a Geometry")
    public_keys = list(public_keys)
    commands = list(commands)
    n = len(public_keys)
    if not 1 <= n <= geometry.hops:
        raise SphinxError("invalid_route", "route of %d hops, geometry allows 1..%d"
                          % (n, geometry.hops))
    if len(commands) != n:
        raise SphinxError("invalid_route", "%d public keys but %d commands"
                          % (n, len(commands)))
    out_pks, out_cmds = [], []
    pk_len = geometry.suite.public_key_len
    for pk in public_keys:
        pk = _as_bytes(pk, "public key")
        if len(pk) != pk_len:
            raise SphinxError("invalid_route", "a public key is %d bytes" % pk_len)
        out_pks.append(pk)
    for c in commands:
        c = _as_bytes(c, "command")
        if len(c) != COMMAND_LEN:
            raise SphinxError("invalid_route", "a command is 48 bytes")
        if check_commands:
            decode_command(c)
        out_cmds.append(c)
    return out_pks, out_cmds


def build_header(
    geometry: Geometry,
    public_keys: Sequence[bytes],
    commands: Sequence[bytes],
    ephemeral_secret,
    check_commands: bool = True,
) -> Tuple[bytes, List[HopKeys]]:
    """Steps 1-5 of packet creation. Returns (header, per-hop keys).

    `ephemeral_secret` is what the geometry's suite draws fresh for every
    packet: one 32-byte secret for version 1, a sequence of one 32-byte
    secret per hop for the KEM suite. With check_commands=False the
    commands are taken as raw 48-byte strings without checking the flag or
    the reserved bytes (used only to build packets that nodes must reject).
    """
    pks, cmds = _check_route(geometry, public_keys, commands, check_commands)
    suite = geometry.suite
    H, S = geometry.hops, suite.slot_len
    n = len(pks)
    version = bytes([suite.version])

    # Step 1: the header's element, each hop's keys, and the header streams.
    element, keys, slot_extras = suite.route_keys(pks, ephemeral_secret)
    streams = [stream(k.kh, (H + 1) * S) for k in keys]

    # Step 2: filler. phi_i has i*S bytes.
    phi = b""
    for i in range(1, n):
        phi = xor(phi + bytes(S), streams[i - 1][(H - i + 1) * S:(H + 1) * S])
    assert len(phi) == (n - 1) * S

    # Step 3: the last hop's beta and gamma. Nothing follows it, so its
    # slot's next gamma (and whatever else a slot carries) is zero.
    last = n - 1
    plain = cmds[last] + bytes(S - COMMAND_LEN) + bytes((H - n) * S)
    beta = xor(plain, streams[last][:(H - n + 1) * S]) + phi
    assert len(beta) == H * S
    gamma = mac(keys[last].km, version + beta)

    # Step 4: wrap outwards, from hop n-2 down to hop 0.
    for i in range(n - 2, -1, -1):
        plain = cmds[i] + gamma + slot_extras[i] + beta[:(H - 1) * S]
        beta = xor(plain, streams[i][:H * S])
        gamma = mac(keys[i].km, version + beta)

    # Step 5.
    header = version + element + beta + gamma
    assert len(header) == geometry.header_len
    return header, keys


def create_forward(
    geometry: Geometry,
    public_keys: Sequence[bytes],
    commands: Sequence[bytes],
    message: bytes,
    ephemeral_secret: bytes,
    check_commands: bool = True,
) -> bytes:
    """Build a forward packet (header || onion-encrypted payload)."""
    plaintext = encode_payload(geometry, message)   # message_too_long first
    header, keys = build_header(geometry, public_keys, commands, ephemeral_secret,
                                check_commands)
    return header + wrap_payload([k.payload for k in keys], plaintext)


# ---------------------------------------------------------------------------
# Processing
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ProcessResult:
    tag: bytes
    flag: int
    delay_us: int
    address: bytes
    packet_out: bytes               # version || element' || beta' || gamma' || payload'
    payload_ok: Optional[bool] = None   # FINAL only: did the 6.9 check pass
    message: Optional[bytes] = None     # FINAL only, when payload_ok

    @property
    def command(self) -> Command:
        return Command(self.flag, self.delay_us, self.address)


def process(
    geometry: Geometry,
    private_key: bytes,
    packet,
    replay=None,
    raise_on_bad_payload: bool = False,
) -> ProcessResult:
    """Process one packet as a node holding `private_key` (steps 6.1-6.9).

    `replay` is an optional replay cache: any object with `in` and `.add()`
    (a set will do). It is consulted before the MAC check and the new tag is
    added only once the header has been authenticated and its command
    accepted.

    At FINAL the payload check of step 9 is reported in the result
    (payload_ok, message); with raise_on_bad_payload=True a failed check
    raises payload_integrity instead (the tag is already in the cache then).
    """
    if not isinstance(geometry, Geometry):
        raise TypeError("geometry must be a Geometry")
    suite = geometry.suite
    sk = _fixed(private_key, suite.private_key_len, "private key")
    packet = _as_bytes(packet, "packet")
    H, S, E = geometry.hops, suite.slot_len, suite.element_len
    version = bytes([suite.version])

    # Step 1: length, version, canonical element.
    if len(packet) != geometry.packet_len:
        raise SphinxError("wrong_length", "%d bytes, expected %d"
                          % (len(packet), geometry.packet_len))
    if packet[0] != suite.version:
        raise SphinxError("bad_version", "version 0x%02x" % packet[0])
    element = packet[1:1 + E]
    suite.check_element(element)
    beta_end = 1 + E + H * S
    beta = packet[1 + E:beta_end]
    gamma = packet[beta_end:beta_end + MAC_LEN]
    payload = packet[geometry.header_len:]

    # Step 2: shared secret.
    keys = derive_hop_keys(suite.hop_secret(sk, element), suite)

    # Step 3: replay check, before the more expensive work below.
    if replay is not None and keys.tag in replay:
        raise SphinxError("replay")

    # Step 4: header MAC, compared in constant time.
    if not hmac.compare_digest(gamma, mac(keys.km, version + beta)):
        raise SphinxError("bad_mac")

    # Step 5: decrypt beta and read this hop's slot.
    B = xor(beta + bytes(S), stream(keys.kh, (H + 1) * S))
    slot, beta_next = B[:S], B[S:]
    gamma_next = slot[COMMAND_LEN:COMMAND_LEN + MAC_LEN]
    command = decode_command(slot[:COMMAND_LEN])

    # Step 6: remember the tag (only for authenticated, well-formed headers).
    if replay is not None:
        replay.add(keys.tag)

    # Step 7: the element of the next packet.
    element_next = suite.next_element(keys, element, slot)

    # Step 8: peel one LIONESS layer off the payload.
    payload_next = lioness_dec(keys.payload, payload)

    # Step 9.
    packet_out = version + element_next + beta_next + gamma_next + payload_next
    payload_ok = message = None
    if command.flag == FLAG_FINAL:
        payload_ok, message = decode_payload(geometry, payload_next)
        if not payload_ok and raise_on_bad_payload:
            raise SphinxError("payload_integrity")
    return ProcessResult(
        tag=keys.tag,
        flag=command.flag,
        delay_us=command.delay_us,
        address=command.address,
        packet_out=packet_out,
        payload_ok=payload_ok,
        message=message,
    )


# ---------------------------------------------------------------------------
# Single-use reply blocks
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SurbSecret:
    """What the creator of a reply block keeps, indexed by reply id."""

    reply_id: bytes
    reply_key: bytes                                  # kt, 128 bytes
    payload_keys: Tuple[Tuple[bytes, bytes, bytes, bytes], ...]   # K_0..K_{n-1}


def create_surb(
    geometry: Geometry,
    first_hop_id: bytes,
    public_keys: Sequence[bytes],
    commands: Sequence[bytes],
    ephemeral_secret: bytes,
    reply_key: bytes,
) -> Tuple[bytes, SurbSecret]:
    """Build a reply block. The last command must be FINAL; its address is the
    reply id. Returns (surb, secret) with surb = first_hop_id || header || kt.
    """
    first_hop_id = _fixed(first_hop_id, ADDRESS_LEN, "first hop id")
    kt = _fixed(reply_key, SURB_KEY_LEN, "reply key")
    commands = list(commands)
    header, keys = build_header(geometry, public_keys, commands, ephemeral_secret)
    last = decode_command(commands[-1])
    if last.flag != FLAG_FINAL:
        raise SphinxError("invalid_route", "a reply block must end with FINAL")
    secret = SurbSecret(
        reply_id=last.address,
        reply_key=kt,
        payload_keys=tuple(k.payload for k in keys),
    )
    return first_hop_id + header + kt, secret


def parse_surb(geometry: Geometry, surb) -> Tuple[bytes, bytes, bytes]:
    """Split a reply block into (first_hop_id, header, kt)."""
    surb = _as_bytes(surb, "reply block")
    if len(surb) != geometry.surb_len:
        raise SphinxError("wrong_length", "%d bytes, expected %d"
                          % (len(surb), geometry.surb_len))
    h_end = ADDRESS_LEN + geometry.header_len
    return surb[:ADDRESS_LEN], surb[ADDRESS_LEN:h_end], surb[h_end:]


def use_surb(geometry: Geometry, surb, message: bytes) -> Tuple[bytes, bytes]:
    """The replier: returns (first_hop_id, packet to send to that hop)."""
    first_hop_id, header, kt = parse_surb(geometry, surb)
    return first_hop_id, header + lioness_enc(kt, encode_payload(geometry, message))


def open_surb_reply(geometry: Geometry, secret: SurbSecret, payload: bytes) -> bytes:
    """The creator, given the payload after its own step 8 at the FINAL hop.

    Re-applies LIONESS_ENC(K_i) for i = n-1 down to 0, removes kt with
    LIONESS_DEC and checks the plaintext; raises payload_integrity on failure.
    """
    payload = _as_bytes(payload, "payload")
    if len(payload) != geometry.payload:
        raise SphinxError("wrong_length", "payload of %d bytes" % len(payload))
    y = wrap_payload(secret.payload_keys, payload)
    ok, message = decode_payload(geometry, lioness_dec(secret.reply_key, y))
    if not ok:
        raise SphinxError("payload_integrity")
    return message


# ---------------------------------------------------------------------------
# Dummy (cover) packets
# ---------------------------------------------------------------------------

def dummy_packet(
    geometry: Geometry,
    secret: Optional[bytes] = None,
    filler: Optional[bytes] = None,
    rng: Optional[Callable[[int], bytes]] = None,
) -> bytes:
    """version || element || random(H*S + 16 + P), the element drawn as a real
    packet's is.

    In both suites the element is X25519_BASE(random): a real public key (v1's
    alpha, with its top bit clear like any packet's) or a real encapsulation
    (the KEM suite, below 2^255 - 19 like any packet's). `secret` and `filler` may be given for reproducible output; otherwise
    they come from `rng` (default os.urandom).
    """
    if rng is None:
        import os
        rng = os.urandom
    body_len = geometry.beta_len + MAC_LEN + geometry.payload
    secret = _fixed(secret if secret is not None else rng(KEY_LEN), KEY_LEN, "dummy secret")
    filler = _fixed(filler if filler is not None else rng(body_len), body_len, "dummy filler")
    return bytes([geometry.suite.version]) + geometry.suite.dummy_element(secret) + filler


