"""A small ctypes binding to libloopix_sphinx.so, the Loopix Sphinx packet core.

It calls only the exported ``lsx_*`` functions and asks the library for every
size (``lsx_packet_bytes``, ``lsx_key_bytes``, ...) instead of repeating the
numbers. Both packet suites are here: a ``Geometry`` names its suite
(``SUITE_V1`` unless told otherwise, or ``SUITE_KEM_X25519``) and every size
and function follows it. The library is loaded from ``$LOOPIX_SPHINX_LIB`` (the .so itself or
the directory holding it), else from ``CSources/out/`` of this repository
(``make -C CSources`` builds it there).
"""

from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, byref, c_char_p, c_double, c_int, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SphinxError", "Geometry", "Node", "ReplayFilter", "Processed",
    "FLAG_RELAY", "FLAG_DELIVER", "FLAG_DROP", "FLAG_FINAL", "SUITE_V1", "SUITE_KEM_X25519",
    "error_name", "set_backend", "get_backend", "version", "keypair", "public_key", "suite_name",
    "command_encode", "command_decode", "create_packet", "create_dummy",
    "surb_create", "surb_use", "surb_open", "kem_encapsulate", "random_bytes",
]

# Routing flags are part of the wire format (spec section 4), not sizes; so is
# a suite's value, which is its packets' version byte (checked below).
FLAG_RELAY, FLAG_DELIVER, FLAG_DROP, FLAG_FINAL = 1, 2, 3, 4
SUITE_V1, SUITE_KEM_X25519 = 1, 2
_BACKENDS = {"auto": 0, "sodium": 1, "libcrypto": 2}


def _library_path() -> Path:
    given = os.environ.get("LOOPIX_SPHINX_LIB")
    if given:
        path = Path(given)
        return path / "libloopix_sphinx.so" if path.is_dir() else path
    return Path(__file__).resolve().parents[2] / "CSources" / "out" / "libloopix_sphinx.so"


_path = _library_path()
if not _path.exists():
    raise ImportError(f"{_path} not found: run `make -C CSources` first, or set LOOPIX_SPHINX_LIB")
_lib = ctypes.CDLL(str(_path))
# The argument orders below are those of the 3.x API (output parameters first,
# a suite in every geometry, the ephemeral randomness with its length).
_API_MAJOR = 3
_lib.lsx_version.restype = c_char_p
if int(_lib.lsx_version().decode().split(".")[0]) != _API_MAJOR:
    raise ImportError(f"{_path} is libloopix_sphinx {_lib.lsx_version().decode()}; this binding needs {_API_MAJOR}.x")

_u8p = POINTER(c_uint8)


class _Geometry(ctypes.Structure):
    # Mirrors lsx_geometry; lsx_suite is a C enum, an int.
    _fields_ = [("hops", c_uint32), ("payload", c_uint32), ("suite", c_int)]


class _Processed(ctypes.Structure):
    # Mirrors lsx_processed in loopix_sphinx.h; the two array sizes come from the library below.
    _fields_ = [
        ("flag", c_uint8),
        ("delay_us", c_uint32),
        ("address", c_uint8 * _lib.lsx_address_bytes()),
        ("tag", c_uint8 * _lib.lsx_tag_bytes()),
        ("final_status", c_int),
        ("message_offset", c_uint32),
        ("message_len", c_uint32),
    ]


def _declare(name: str, restype, *argtypes) -> None:
    fn = getattr(_lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


_gp = POINTER(_Geometry)
for _name in ("lsx_key_bytes", "lsx_secret_bytes", "lsx_command_bytes", "lsx_address_bytes", "lsx_tag_bytes",
              "lsx_reply_key_bytes", "lsx_payload_overhead", "lsx_kem_shared_secret_bytes"):
    _declare(_name, c_size_t)
for _name in ("lsx_header_bytes", "lsx_packet_bytes", "lsx_max_message_bytes", "lsx_surb_bytes",
              "lsx_surb_secret_bytes"):
    _declare(_name, c_size_t, _gp)
_declare("lsx_ephemeral_bytes", c_size_t, _gp, c_size_t)
_declare("lsx_suite_name", c_char_p, c_int)
_declare("lsx_suite_format_version", c_uint8, c_int)
_declare("lsx_suite_element_bytes", c_size_t, c_int)
_declare("lsx_error_name", c_char_p, c_int)
_declare("lsx_init", c_int)
_declare("lsx_set_backend", c_int, c_int)
_declare("lsx_get_backend", c_int)
_declare("lsx_backend_name", c_char_p, c_int)
_declare("lsx_version", c_char_p)
_declare("lsx_geometry_init", c_int, _gp, c_int, c_uint32, c_uint32)
_declare("lsx_keypair", c_int, _u8p, _u8p)
_declare("lsx_public_key", c_int, _u8p, _u8p)
_declare("lsx_wipe", None, c_void_p, c_size_t)
_declare("lsx_random", None, c_void_p, c_size_t)
_declare("lsx_command_encode", c_int, _u8p, c_uint8, c_uint32, _u8p)
# Output parameters come first, as in the C header.
_declare("lsx_command_decode", c_int, POINTER(c_uint8), POINTER(c_uint32), _u8p, _u8p)
_declare("lsx_create_packet", c_int, _u8p, c_size_t, _gp, c_size_t, _u8p, _u8p, _u8p, c_size_t, _u8p, c_size_t)
_declare("lsx_create_dummy", c_int, _u8p, c_size_t, _gp)
_declare("lsx_node_create", c_int, POINTER(c_void_p), _gp, _u8p)
_declare("lsx_node_destroy", None, c_void_p)
_declare("lsx_node_backend", c_int, c_void_p)
_declare("lsx_process", c_int, _u8p, c_size_t, POINTER(_Processed), c_void_p, c_void_p, _u8p, c_size_t)
_declare("lsx_surb_create", c_int, _u8p, c_size_t, _u8p, c_size_t, _gp, c_size_t, _u8p, _u8p, _u8p, _u8p, c_size_t,
         _u8p)
_declare("lsx_kem_encapsulate", c_int, _u8p, c_size_t, _u8p, c_int, _u8p, _u8p, c_size_t)
_declare("lsx_kem_decapsulate", c_int, _u8p, c_void_p, _u8p, c_size_t)
_declare("lsx_surb_use", c_int, _u8p, c_size_t, _u8p, _gp, _u8p, c_size_t, _u8p, c_size_t)
_declare("lsx_surb_open", c_int, _u8p, c_size_t, POINTER(c_size_t), POINTER(c_size_t), _gp, _u8p, c_size_t)
_declare("lsx_replay_filter_create", c_int, POINTER(c_void_p), c_uint64, c_double, c_uint64)
_declare("lsx_replay_filter_destroy", None, c_void_p)
_declare("lsx_replay_filter_rotate", None, c_void_p, c_uint64)
_declare("lsx_replay_filter_count", c_uint64, c_void_p)

KEY_BYTES = _lib.lsx_key_bytes()
SECRET_BYTES = _lib.lsx_secret_bytes()
COMMAND_BYTES = _lib.lsx_command_bytes()
ADDRESS_BYTES = _lib.lsx_address_bytes()
TAG_BYTES = _lib.lsx_tag_bytes()
REPLY_KEY_BYTES = _lib.lsx_reply_key_bytes()
PAYLOAD_OVERHEAD = _lib.lsx_payload_overhead()
KEM_SHARED_SECRET_BYTES = _lib.lsx_kem_shared_secret_bytes()


def error_name(code: int) -> str:
    """The library's stable name for a return code ("bad_mac", ...)."""
    return _lib.lsx_error_name(code).decode()


class SphinxError(Exception):
    """A negative return code of the library, with its name."""

    def __init__(self, code: int):
        self.code = code
        self.name = error_name(code)
        super().__init__(f"{self.name} ({code})")


def _check(rc: int) -> None:
    if rc != 0:
        raise SphinxError(rc)


_check(_lib.lsx_init())
for _suite in (SUITE_V1, SUITE_KEM_X25519):
    if _lib.lsx_suite_format_version(_suite) != _suite:
        raise ImportError(f"{_path} does not know packet suite {_suite}")


def suite_name(suite: int) -> str:
    """The library's name of a suite ("sphinx-v1", "kem-x25519"), as the vector files spell it."""
    return _lib.lsx_suite_name(suite).decode()


def _buf(data: bytes | None, size: int | None = None):
    """A C byte array holding `data` (or `size` zero bytes); never NULL, even when empty."""
    if data is None:
        return (c_uint8 * max(size or 0, 1))()
    return (c_uint8 * max(len(data), 1)).from_buffer_copy(bytes(data) or b"\0")


def _opt(data: bytes | None, size: int):
    """`data` as a C array after checking its size, or NULL for None."""
    if data is None:
        return None
    if len(data) != size:
        raise ValueError(f"expected {size} bytes, got {len(data)}")
    return _buf(data)


def version() -> str:
    return _lib.lsx_version().decode()


def set_backend(name: str) -> None:
    """X25519 backend for packets and nodes made from now on: "sodium", "libcrypto" or "auto"."""
    _check(_lib.lsx_set_backend(_BACKENDS[name]))


def get_backend() -> str:
    return _lib.lsx_backend_name(_lib.lsx_get_backend()).decode()


def random_bytes(n: int) -> bytes:
    out = _buf(None, n)
    _lib.lsx_random(out, n)
    return bytes(out)[:n]


class Geometry:
    """A network's packet geometry (suite, maximum hops, payload bytes) and the sizes that follow."""

    def __init__(self, hops: int, payload: int, suite: int = SUITE_V1):
        self._c = _Geometry()
        _check(_lib.lsx_geometry_init(byref(self._c), suite, hops, payload))
        self.hops, self.payload, self.suite = hops, payload, suite
        self.header_bytes = _lib.lsx_header_bytes(byref(self._c))
        self.packet_bytes = _lib.lsx_packet_bytes(byref(self._c))
        self.max_message_bytes = _lib.lsx_max_message_bytes(byref(self._c))
        self.surb_bytes = _lib.lsx_surb_bytes(byref(self._c))
        self.surb_secret_bytes = _lib.lsx_surb_secret_bytes(byref(self._c))

    def ephemeral_bytes(self, hops: int) -> int:
        """The fresh randomness creating over `hops` hops takes: v1's one secret, or one KEM seed per hop."""
        return _lib.lsx_ephemeral_bytes(byref(self._c), hops)

    def __repr__(self) -> str:
        return f"Geometry(hops={self.hops}, payload={self.payload}, suite={suite_name(self.suite)!r})"


def keypair() -> tuple[bytes, bytes]:
    """A fresh (public, secret) node key pair."""
    pk, sk = _buf(None, KEY_BYTES), _buf(None, KEY_BYTES)
    _check(_lib.lsx_keypair(pk, sk))
    return bytes(pk), bytes(sk)


def public_key(secret_key: bytes) -> bytes:
    pk = _buf(None, KEY_BYTES)
    _check(_lib.lsx_public_key(pk, _opt(secret_key, KEY_BYTES)))
    return bytes(pk)


def command_encode(flag: int, delay_us: int = 0, address: bytes | None = None) -> bytes:
    out = _buf(None, COMMAND_BYTES)
    _check(_lib.lsx_command_encode(out, flag, delay_us, _opt(address, ADDRESS_BYTES)))
    return bytes(out)


def command_decode(command: bytes) -> tuple[int, int, bytes]:
    """(flag, delay_us, address) of a 48-byte command."""
    flag, delay, address = c_uint8(), c_uint32(), _buf(None, ADDRESS_BYTES)
    _check(_lib.lsx_command_decode(byref(flag), byref(delay), address, _opt(command, COMMAND_BYTES)))
    return flag.value, delay.value, bytes(address)


def _route(public_keys: list[bytes], commands: list[bytes]):
    if len(public_keys) != len(commands):
        raise ValueError("one command per public key")
    if any(len(k) != KEY_BYTES for k in public_keys) or any(len(c) != COMMAND_BYTES for c in commands):
        raise ValueError("keys and commands have fixed sizes")
    return _buf(b"".join(public_keys)), _buf(b"".join(commands))


def _ephemeral(ephemeral: bytes | list[bytes] | None):
    """(pointer, length) of given randomness, joined if a list of seeds; (NULL, 0) for None."""
    if ephemeral is None:
        return None, 0
    data = b"".join(ephemeral) if isinstance(ephemeral, (list, tuple)) else bytes(ephemeral)
    return _buf(data), len(data)


def create_packet(geometry: Geometry, public_keys: list[bytes], commands: list[bytes], message: bytes,
                  ephemeral: bytes | list[bytes] | None = None) -> bytes:
    """A forward packet over the route. `ephemeral` only for test vectors: v1's secret, or the KEM suite's
    seeds (one per hop, a list or joined), geometry.ephemeral_bytes(len(route)) in all."""
    keys, cmds = _route(public_keys, commands)
    out = _buf(None, geometry.packet_bytes)
    _check(_lib.lsx_create_packet(out, geometry.packet_bytes, byref(geometry._c), len(public_keys), keys, cmds,
                                  _buf(message), len(message), *_ephemeral(ephemeral)))
    return bytes(out)


def create_dummy(geometry: Geometry) -> bytes:
    out = _buf(None, geometry.packet_bytes)
    _check(_lib.lsx_create_dummy(out, geometry.packet_bytes, byref(geometry._c)))
    return bytes(out)


@dataclass
class Processed:
    """What one hop learned: its command, replay tag and, at FINAL, the payload check and message."""
    flag: int
    delay_us: int
    address: bytes
    tag: bytes
    final_status: int
    message: bytes | None


class ReplayFilter:
    """A bounded replay filter for one key epoch."""

    def __init__(self, capacity: int = 1 << 16, false_positive_rate: float = 1e-6, epoch: int = 0):
        self._p = c_void_p()
        _check(_lib.lsx_replay_filter_create(byref(self._p), capacity, false_positive_rate, epoch))

    def rotate(self, epoch: int) -> None:
        _lib.lsx_replay_filter_rotate(self._p, epoch)

    @property
    def count(self) -> int:
        return _lib.lsx_replay_filter_count(self._p)

    def __del__(self):
        if getattr(self, "_p", None):
            _lib.lsx_replay_filter_destroy(self._p)
            self._p = None


class Node:
    """A node's processing context (its secret key, prepared for the current backend)."""

    def __init__(self, geometry: Geometry, secret_key: bytes):
        self.geometry = geometry
        self._p = c_void_p()
        secret = _opt(secret_key, KEY_BYTES)
        try:
            _check(_lib.lsx_node_create(byref(self._p), byref(geometry._c), secret))
        finally:
            _lib.lsx_wipe(secret, KEY_BYTES)

    @property
    def backend(self) -> str:
        return _lib.lsx_backend_name(_lib.lsx_node_backend(self._p)).decode()

    def kem_decapsulate(self, ciphertext: bytes) -> bytes:
        """The shared secret of an encapsulation to this node (a KEM suite's node only)."""
        shared = _buf(None, KEM_SHARED_SECRET_BYTES)
        _check(_lib.lsx_kem_decapsulate(shared, self._p, _buf(ciphertext), len(ciphertext)))
        return bytes(shared)

    def process(self, packet: bytes, replay_filter: ReplayFilter | None = None,
                in_place: bool = False) -> tuple[bytes, Processed]:
        """Unwraps one layer; returns the new packet and what the hop learned. Any input length is passed on."""
        total = self.geometry.packet_bytes
        result = _Processed()
        filt = replay_filter._p if replay_filter is not None else None
        if in_place:
            buf = _buf(packet)
            rc = _lib.lsx_process(buf, len(packet), byref(result), self._p, filt, buf, len(packet))
            out = buf
        else:
            out = _buf(None, total)
            rc = _lib.lsx_process(out, total, byref(result), self._p, filt, _buf(packet), len(packet))
        _check(rc)
        new_packet = bytes(out)[:total]
        message = None
        if result.flag == FLAG_FINAL and result.final_status == 0:
            message = new_packet[result.message_offset:result.message_offset + result.message_len]
        return new_packet, Processed(result.flag, result.delay_us, bytes(result.address), bytes(result.tag),
                                     result.final_status, message)

    def __del__(self):
        if getattr(self, "_p", None):
            _lib.lsx_node_destroy(self._p)
            self._p = None


def surb_create(geometry: Geometry, public_keys: list[bytes], commands: list[bytes], first_hop_id: bytes,
                ephemeral: bytes | list[bytes] | None = None, reply_key: bytes | None = None) -> tuple[bytes, bytes]:
    """A reply block and the secret its maker keeps; the last command must be FINAL. `ephemeral` as for
    create_packet."""
    keys, cmds = _route(public_keys, commands)
    surb, secret = _buf(None, geometry.surb_bytes), _buf(None, geometry.surb_secret_bytes)
    _check(_lib.lsx_surb_create(surb, geometry.surb_bytes, secret, geometry.surb_secret_bytes, byref(geometry._c),
                                len(public_keys), keys, cmds, _opt(first_hop_id, ADDRESS_BYTES),
                                *_ephemeral(ephemeral), _opt(reply_key, REPLY_KEY_BYTES)))
    return bytes(surb), bytes(secret)


def kem_encapsulate(suite: int, public_key: bytes, seed: bytes | None = None) -> tuple[bytes, bytes]:
    """(ciphertext, shared secret) of the suite's KEM for a node's public key; `seed` only for test vectors."""
    ciphertext = _buf(None, _lib.lsx_suite_element_bytes(suite))
    shared = _buf(None, KEM_SHARED_SECRET_BYTES)
    seed_ptr, seed_len = _ephemeral(seed)
    _check(_lib.lsx_kem_encapsulate(ciphertext, _lib.lsx_suite_element_bytes(suite), shared, suite,
                                    _opt(public_key, KEY_BYTES), seed_ptr, seed_len))
    return bytes(ciphertext)[:_lib.lsx_suite_element_bytes(suite)], bytes(shared)


def surb_use(geometry: Geometry, surb: bytes, message: bytes) -> tuple[bytes, bytes]:
    """(first_hop_id, reply packet) for a message sent back through a reply block."""
    first_hop, packet = _buf(None, ADDRESS_BYTES), _buf(None, geometry.packet_bytes)
    _check(_lib.lsx_surb_use(packet, geometry.packet_bytes, first_hop, byref(geometry._c), _buf(surb), len(surb),
                             _buf(message), len(message)))
    return bytes(first_hop), bytes(packet)


def surb_open(geometry: Geometry, surb_secret: bytes, final_packet: bytes) -> bytes:
    """The reply message in the maker's own FINAL output packet."""
    payload_bytes = final_packet[geometry.header_bytes:]
    payload = _buf(payload_bytes)
    offset, length = c_size_t(), c_size_t()
    _check(_lib.lsx_surb_open(payload, len(payload_bytes), byref(offset), byref(length), byref(geometry._c),
                              _buf(surb_secret), len(surb_secret)))
    return bytes(payload)[offset.value:offset.value + length.value]
