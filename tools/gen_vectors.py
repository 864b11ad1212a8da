#!/usr/bin/env python3
"""Generate the Sphinx test vectors from the Python reference implementation.

    python3 tools/gen_vectors.py           write, under Tests/Vectors/,
                                           sphinx-v1.json, sphinx-v1-invalid.json
                                           (version 1) and sphinx-kem-v1.json,
                                           sphinx-kem-v1-invalid.json (the KEM suite)
    python3 tools/gen_vectors.py --check   regenerate in memory; exit 1 if a
                                           committed file differs

Nothing here is random: every private key, ephemeral secret, reply key, id
and message is derived from a fixed label with BLAKE2b (see `det`), so the
output is byte-for-byte reproducible. Before a vector is written, the
generator replays it through the reference implementation and checks the
outcome, so a file it writes is always self-consistent.

Both suites' files come from the same cases and the same code; a
`VectorSuite` says what differs (the suite, the file names, a prefix on every
label, and how the ephemeral secrets are written).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sphinx_ref as sx  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
VECTOR_DIR = REPO_ROOT / "Tests" / "Vectors"
VALID_PATH = VECTOR_DIR / "sphinx-v1.json"
INVALID_PATH = VECTOR_DIR / "sphinx-v1-invalid.json"
KEM_VALID_PATH = VECTOR_DIR / "sphinx-kem-v1.json"
KEM_INVALID_PATH = VECTOR_DIR / "sphinx-kem-v1-invalid.json"

LABEL_PREFIX = b"loopix-sphinx-v1/test-vectors/"


def det(label: str, n: int = 32) -> bytes:
    """n deterministic bytes for `label`.

    The concatenation of BLAKE2b-512(LABEL_PREFIX || label || "#" || i) for
    i = 0, 1, 2, ... (i in decimal ASCII), truncated to n bytes.
    """
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.blake2b(
            LABEL_PREFIX + label.encode() + b"#" + str(i).encode(), digest_size=64
        ).digest()
        i += 1
    return out[:n]


def hx(b: bytes) -> str:
    return b.hex()


@dataclass(frozen=True)
class VectorSuite:
    """One suite's vector files."""

    suite: sx.Suite
    valid_path: Path
    invalid_path: Path
    label_prefix: str           # before every label ("" for version 1, whose labels predate suites)

    @property
    def is_v1(self) -> bool:
        return self.suite is sx.SUITE_V1

    def det(self, label: str, n: int = 32) -> bytes:
        return det(self.label_prefix + label, n)

    def geometry(self, hops: int, payload: int) -> sx.Geometry:
        return sx.Geometry(hops, payload, self.suite)

    def ephemeral(self, label: str, hops: int):
        """What the sender draws for one packet: version 1 one secret, the KEM
        suite one per hop (label/0, label/1, ...)."""
        if self.is_v1:
            return self.det(label)
        return [self.det("%s/%d" % (label, i)) for i in range(hops)]

    def ephemeral_field(self, secret) -> Dict:
        if self.is_v1:
            return {"ephemeral_secret": hx(secret)}
        return {"ephemeral_secrets": [hx(e) for e in secret]}

    def document(self, cases: List[Dict], **extra) -> Dict:
        doc = {"version": 1, "cases": cases, **extra}
        if not self.is_v1:
            doc["suite"] = self.suite.name
        return doc


V1 = VectorSuite(sx.SUITE_V1, VALID_PATH, INVALID_PATH, "")
KEM = VectorSuite(sx.SUITE_KEM_X25519, KEM_VALID_PATH, KEM_INVALID_PATH, "kem-x25519/")
VECTOR_SUITES = (V1, KEM)


def dump(doc) -> str:
    """The one canonical serialisation: sorted keys, 1-space indent, final newline."""
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


# ---------------------------------------------------------------------------
# Valid cases
# ---------------------------------------------------------------------------

# Each hop is (flag name, delay_us). Addresses are derived:
#   RELAY   -> the next node's id
#   DELIVER -> a mailbox id
#   DROP    -> zero
#   FINAL   -> a message id (it doubles as the reply id of the case's SURB)
# message: bytes, or an int n meaning n derived bytes, or "max" for P - 18.
VALID_CASES = [
    dict(
        name="default-1hop-final",
        description="default geometry, 1 hop, FINAL, short ASCII message, with a SURB",
        hops=6, payload=2048,
        route=[("FINAL", 0)],
        message=b"Loopix loop message over one hop",
        reply=b"reply through a one-hop block",
    ),
    dict(
        name="default-3hop-deliver",
        description="default geometry, 3 hops, RELAY RELAY DELIVER with non-zero delays, 200-byte message",
        hops=6, payload=2048,
        route=[("RELAY", 0x01020304), ("RELAY", 0), ("DELIVER", 250000)],
        message=200,
    ),
    dict(
        name="default-3hop-drop-empty",
        description="default geometry, 3 hops, RELAY RELAY DROP, maximum delay on hop 1, empty message (drop cover)",
        hops=6, payload=2048,
        route=[("RELAY", 1000), ("RELAY", 0xFFFFFFFF), ("DROP", 0)],
        message=b"",
    ),
    dict(
        name="default-4hop-final",
        description="default geometry, 4 hops (shorter than H), RELAY x3 FINAL, 1-byte message, with a SURB",
        hops=6, payload=2048,
        route=[("RELAY", 7), ("RELAY", 70000), ("RELAY", 0), ("FINAL", 0)],
        message=b"\x00",
        reply=b"",
    ),
    dict(
        name="default-6hop-loopix-path",
        description="default geometry, 6 hops (the Loopix path: provider, 3 mixes, provider, client), "
                    "RELAY x4 DELIVER FINAL, message of exactly P-18 bytes, with a SURB carrying P-18 bytes",
        hops=6, payload=2048,
        route=[("RELAY", 0), ("RELAY", 12345), ("RELAY", 678901), ("RELAY", 100000),
               ("DELIVER", 5000), ("FINAL", 0)],
        message="max",
        reply="max",
    ),
    dict(
        name="small-1hop-final-empty",
        description="small geometry (H=2, P=64), 1 hop, FINAL, empty message, with a SURB",
        hops=2, payload=64,
        route=[("FINAL", 0)],
        message=b"",
        reply=b"hi",
    ),
    dict(
        name="small-2hop-final-max",
        description="small geometry (H=2, P=64), 2 hops, RELAY FINAL, message of exactly P-18 = 46 bytes, "
                    "with a SURB carrying 46 bytes",
        hops=2, payload=64,
        route=[("RELAY", 500), ("FINAL", 0)],
        message="max",
        reply="max",
    ),
    dict(
        name="small-2hop-deliver",
        description="small geometry (H=2, P=64), 2 hops, RELAY DELIVER",
        hops=2, payload=64,
        route=[("RELAY", 0), ("DELIVER", 3000000)],
        message=b"small deliver",
    ),
    dict(
        name="small-2hop-drop",
        description="small geometry (H=2, P=64), 2 hops, RELAY DROP",
        hops=2, payload=64,
        route=[("RELAY", 1), ("DROP", 2)],
        message=10,
    ),
    dict(
        name="min-geometry-1hop-final",
        description="minimum geometry (H=1, P=64), 1 hop, FINAL, with a SURB",
        hops=1, payload=64,
        route=[("FINAL", 0)],
        message=b"tiny",
        reply=b"tiny reply",
    ),
    dict(
        name="max-hops-16hop-deliver",
        description="maximum hops (H=16, P=100, a payload that is not a multiple of the ChaCha20 block), "
                    "16 hops, RELAY x15 DELIVER",
        hops=16, payload=100,
        route=[("RELAY", i * 1000) for i in range(15)] + [("DELIVER", 42)],
        message=60,
    ),
]

FLAG_BY_NAME = {v: k for k, v in sx.FLAG_NAMES.items()}

# RFC 7748 section 6.1: two key pairs and their shared secret.
RFC7748_ALICE = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
RFC7748_ALICE_PUBLIC = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
RFC7748_BOB = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
RFC7748_BOB_PUBLIC = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
RFC7748_SHARED = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")


def _message(vs: VectorSuite, spec, geometry: sx.Geometry, label: str) -> bytes:
    if isinstance(spec, bytes):
        return spec
    if spec == "max":
        return vs.det(label, geometry.max_message)
    return vs.det(label, spec)


def node_keys(vs: VectorSuite, case: str, i: int):
    sk = vs.det("%s/node%d/private-key" % (case, i))
    return sk, sx.x25519_base(sk)


def node_id(vs: VectorSuite, case: str, i: int) -> bytes:
    return vs.det("%s/node%d/id" % (case, i))


def _commands(vs: VectorSuite, case: str, route) -> List[bytes]:
    cmds = []
    for i, (flag_name, delay) in enumerate(route):
        flag = FLAG_BY_NAME[flag_name]
        if flag == sx.FLAG_RELAY:
            address = node_id(vs, case, i + 1)
        elif flag == sx.FLAG_DELIVER:
            address = vs.det("%s/mailbox" % case)
        elif flag == sx.FLAG_DROP:
            address = bytes(32)
        else:
            address = vs.det("%s/message-id" % case)
        cmds.append(sx.encode_command(flag, delay, address))
    return cmds


def _walk(geometry, sks, packet, expect_cmds, expect_message):
    """Process `packet` along the route; check every hop; return the hop records."""
    hops = []
    replay_caches = [set() for _ in sks]
    for i, sk in enumerate(sks):
        r = sx.process(geometry, sk, packet, replay_caches[i])
        cmd = sx.decode_command(expect_cmds[i])
        assert (r.flag, r.delay_us, r.address) == (cmd.flag, cmd.delay_us, cmd.address)
        # The same packet again must now be refused as a replay.
        try:
            sx.process(geometry, sk, packet, replay_caches[i])
            raise AssertionError("replay not detected")
        except sx.SphinxError as e:
            assert e.name == "replay"
        hops.append(r)
        packet = r.packet_out
    last = hops[-1]
    if last.flag == sx.FLAG_FINAL and expect_message is not None:
        assert last.payload_ok and last.message == expect_message
    else:
        ok, msg = sx.decode_payload(geometry, last.packet_out[geometry.header_len:])
        if expect_message is not None:
            assert ok and msg == expect_message
    return hops


def build_valid_case(vs: VectorSuite, spec) -> Dict:
    name = spec["name"]
    geometry = vs.geometry(spec["hops"], spec["payload"])
    n = len(spec["route"])
    keys = [node_keys(vs, name, i) for i in range(n)]
    sks = [k[0] for k in keys]
    pks = [k[1] for k in keys]
    cmds = _commands(vs, name, spec["route"])
    message = _message(vs, spec["message"], geometry, "%s/message" % name)
    x = vs.ephemeral("%s/ephemeral-secret" % name, n)
    packet = sx.create_forward(geometry, pks, cmds, message, x)
    assert len(packet) == geometry.packet_len

    hops = _walk(geometry, sks, packet, cmds, message)
    case = {
        "description": spec["description"],
        "geometry": {"hops": geometry.hops, "payload": geometry.payload},
        "route": [
            {"private_key": hx(sk), "public_key": hx(pk), "command": hx(c)}
            for sk, pk, c in zip(sks, pks, cmds)
        ],
        **vs.ephemeral_field(x),
        "message": hx(message),
        "packet": hx(packet),
        "hops": [
            {
                "tag": hx(r.tag),
                "flag": r.flag,
                "delay_us": r.delay_us,
                "address": hx(r.address),
                "packet_out": hx(r.packet_out),
            }
            for r in hops
        ],
    }

    if sx.decode_command(cmds[-1]).flag == sx.FLAG_FINAL:
        assert "reply" in spec, "every case ending in FINAL carries a SURB"
        case["surb"] = build_surb(vs, spec, geometry, sks, pks, cmds, hops)
    else:
        assert "reply" not in spec
    return case


def build_surb(vs: VectorSuite, spec, geometry, sks, pks, cmds, forward_hops) -> Dict:
    name = spec["name"]
    first_hop_id = node_id(vs, name, 0)
    x = vs.ephemeral("%s/surb/ephemeral-secret" % name, len(pks))
    kt = vs.det("%s/surb/reply-key" % name, sx.SURB_KEY_LEN)
    reply_message = _message(vs, spec["reply"], geometry, "%s/surb/reply-message" % name)

    surb, secret = sx.create_surb(geometry, first_hop_id, pks, cmds, x, kt)
    assert len(surb) == geometry.surb_len
    assert secret.reply_id == sx.decode_command(cmds[-1]).address
    hop_id, reply_packet = sx.use_surb(geometry, surb, reply_message)
    assert hop_id == first_hop_id

    hops = _walk(geometry, sks, reply_packet, cmds, None)
    # The reply's tags are its own: a SURB does not collide with the forward packet.
    assert not {r.tag for r in hops} & {r.tag for r in forward_hops}
    last = hops[-1]
    assert last.flag == sx.FLAG_FINAL and last.address == secret.reply_id
    opened = sx.open_surb_reply(geometry, secret, last.packet_out[geometry.header_len:])
    assert opened == reply_message
    return {
        "first_hop_id": hx(first_hop_id),
        **vs.ephemeral_field(x),
        "reply_key": hx(kt),
        "surb": hx(surb),
        "reply_message": hx(reply_message),
        "reply_packet": hx(reply_packet),
        "hops": [{"tag": hx(r.tag), "packet_out": hx(r.packet_out)} for r in hops],
    }


def kem_known_answers(vs: VectorSuite) -> List[Dict]:
    """The KEM alone: encapsulation from a given seed, and decapsulation."""
    kem = vs.suite.kem
    entries = [("RFC 7748 section 6.1: Bob's key pair, Alice's private key as the seed",
                RFC7748_BOB, RFC7748_ALICE)]
    for i in range(3):
        entries.append(("derived key pair and seed %d" % i,
                        vs.det("kem/%d/private-key" % i), vs.det("kem/%d/seed" % i)))
    out = []
    for description, sk, seed in entries:
        pk = kem.public_key(sk)
        ct, ss = kem.encap(pk, seed)
        assert kem.decap(sk, pk, ct) == ss
        out.append({"description": description, "private_key": hx(sk), "public_key": hx(pk),
                    "ephemeral_secret": hx(seed), "ciphertext": hx(ct), "shared_secret": hx(ss)})
    return out


def build_valid(vs: VectorSuite = V1) -> Dict:
    cases = [build_valid_case(vs, spec) for spec in VALID_CASES]
    if vs.is_v1:
        return vs.document(cases)
    return vs.document(cases, kem=kem_known_answers(vs))


# ---------------------------------------------------------------------------
# Invalid cases
# ---------------------------------------------------------------------------

P25519 = sx.P25519
A25519 = 486662

# libsodium's list of small-order X25519 encodings (the inputs its
# crypto_scalarmult refuses). All seven have the top bit clear, so they get
# past the canonical-alpha check and must be refused by X25519 itself.
SMALL_ORDER_POINTS = [
    ("u = 0", bytes(32)),
    ("u = 1", b"\x01" + bytes(31)),
    ("the encoding e0eb7a7c...5f49b800",
     bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")),
    ("the encoding 5f9c95bc...d09f1157",
     bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157")),
    ("u = p - 1", b"\xec" + b"\xff" * 30 + b"\x7f"),
    ("u = p, a non-canonical encoding of 0", b"\xed" + b"\xff" * 30 + b"\x7f"),
    ("u = p + 1, a non-canonical encoding of 1", b"\xee" + b"\xff" * 30 + b"\x7f"),
]


def point_order(u_bytes: bytes) -> int:
    """Order (1, 2, 4 or 8) of the curve or twist point with this u, by x-only doubling."""
    u = int.from_bytes(u_bytes, "little") & ((1 << 255) - 1)
    X, Z = u % P25519, 1
    for k in range(0, 4):
        if Z % P25519 == 0:
            return 1 << k
        X, Z = (
            pow(X * X - Z * Z, 2, P25519),
            4 * X * Z * (X * X + A25519 * X * Z + Z * Z) % P25519,
        )
    raise AssertionError("not a small-order point")


def _flip(data: bytes, byte_index: int, bit: int = 0) -> bytes:
    b = bytearray(data)
    b[byte_index] ^= 1 << bit
    return bytes(b)


def _replace(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new):]


def build_invalid(vs: VectorSuite = V1) -> Dict:
    cases = []
    v1 = vs.is_v1

    def add(description, geometry, sk, packet, expected: Optional[str], allowed=None):
        try:
            sx.process(geometry, sk, packet, set(), raise_on_bad_payload=True)
            raise AssertionError("accepted: " + description)
        except sx.SphinxError as e:
            got = e.name
        if expected is not None:
            assert got == expected, (description, got, expected)
        else:
            assert got in allowed, (description, got)
            description += " (this implementation reports %s)" % got
        cases.append({
            "description": description,
            "geometry": {"hops": geometry.hops, "payload": geometry.payload},
            "private_key": hx(sk),
            "packet": hx(packet),
            "error": got,
        })

    small = vs.geometry(2, 64)
    default = vs.geometry(sx.DEFAULT_HOPS, sx.DEFAULT_PAYLOAD)

    def base(geometry, tag, route_cmds, message=b"invalid-vector base", check=True):
        n = len(route_cmds)
        keys = [node_keys(vs, "invalid/%s" % tag, i) for i in range(n)]
        pkt = sx.create_forward(geometry, [k[1] for k in keys], route_cmds, message,
                                vs.ephemeral("invalid/%s/ephemeral-secret" % tag, n),
                                check_commands=check)
        return keys[0][0], pkt

    relay_final = [
        sx.encode_command(sx.FLAG_RELAY, 0, vs.det("invalid/next-hop-id")),
        sx.encode_command(sx.FLAG_FINAL, 0, vs.det("invalid/message-id")),
    ]
    sk, good = base(small, "small-base", relay_final)
    # Sanity: the base packet itself is accepted by its first node.
    assert sx.process(small, sk, good).flag == sx.FLAG_RELAY
    sk_d, good_d = base(default, "default-base", relay_final)
    assert sx.process(default, sk_d, good_d).flag == sx.FLAG_RELAY

    ELEMENT = 1
    BETA = 1 + 32
    GAMMA_S = small.header_len - 16
    # What the 32 bytes after the version are called in descriptions.
    elem = "alpha" if v1 else "the encapsulation"
    elems = "alpha" if v1 else "the encapsulation's"
    other_version = bytes([sx.KEM_VERSION if v1 else sx.VERSION])

    # Length.
    add("empty packet", small, sk, b"", "wrong_length")
    add("small geometry: valid packet short by 1 byte (last byte removed)", small, sk, good[:-1],
        "wrong_length")
    add("small geometry: valid packet long by 1 byte (zero byte appended)", small, sk, good + b"\x00",
        "wrong_length")
    add("default geometry: valid packet short by 1 byte", default, sk_d, good_d[:-1], "wrong_length")
    add("default geometry: valid packet long by 1 byte", default, sk_d, good_d + b"\x00",
        "wrong_length")
    add("a small-geometry packet presented to a default-geometry node", default, sk, good,
        "wrong_length")
    if not v1:
        # Version 1 packets: with the same H and P they are 32 bytes per slot
        # shorter; with lengths that happen to agree, the version byte differs.
        v1_small = sx.Geometry(2, 64)
        keys = [node_keys(vs, "invalid/v1-same-geometry", i) for i in range(2)]
        pkt = sx.create_forward(v1_small, [k[1] for k in keys], relay_final, b"version 1",
                                vs.det("invalid/v1-same-geometry/ephemeral-secret"))
        add("a version-1 packet of the same geometry (H=2, P=64): 64 bytes shorter", small,
            keys[0][0], pkt, "wrong_length")
        v1_geometry, kem_geometry = sx.Geometry(3, 96), vs.geometry(2, 96)
        assert v1_geometry.packet_len == kem_geometry.packet_len
        keys = [node_keys(vs, "invalid/v1-same-length", i) for i in range(2)]
        pkt = sx.create_forward(v1_geometry, [k[1] for k in keys], relay_final, b"version 1",
                                vs.det("invalid/v1-same-length/ephemeral-secret"))
        add("a version-1 packet (H=3, P=96) of exactly this geometry's length (H=2, P=96): "
            "refused by its version byte", kem_geometry, keys[0][0], pkt, "bad_version")

    # Version.
    if v1:
        add("version byte 0x02", small, sk, _replace(good, 0, b"\x02"), "bad_version")
        add("version byte 0x00", small, sk, _replace(good, 0, b"\x00"), "bad_version")
        add("default geometry: version byte 0x02", default, sk_d, _replace(good_d, 0, b"\x02"),
            "bad_version")
    else:
        add("version byte 0x01 (version 1's)", small, sk, _replace(good, 0, b"\x01"), "bad_version")
        add("version byte 0x00", small, sk, _replace(good, 0, b"\x00"), "bad_version")
        add("version byte 0x03", small, sk, _replace(good, 0, b"\x03"), "bad_version")
        add("default geometry: version byte 0x01", default, sk_d, _replace(good_d, 0, b"\x01"),
            "bad_version")

    # Canonical element.
    if v1:
        add("alpha with its top bit set (otherwise the valid packet: X25519 would ignore the bit "
            "and the MAC would verify)", small, sk, _flip(good, ELEMENT + 31, 7),
            "noncanonical_alpha")
    else:
        add("the encapsulation with its top bit set (otherwise the valid packet)", small, sk,
            _flip(good, ELEMENT + 31, 7), "noncanonical_alpha")
        add("the encapsulation is p + 9 with p = 2^255 - 19: the base point written unreduced, "
            "top bit clear", small, sk, _replace(good, ELEMENT, (P25519 + 9).to_bytes(32, "little")),
            "noncanonical_alpha")
        add("the encapsulation is 2^255 - 1, the largest value with the top bit clear", small, sk,
            _replace(good, ELEMENT, b"\xff" * 31 + b"\x7f"), "noncanonical_alpha")

    # Small-order elements.
    for label, point in SMALL_ORDER_POINTS:
        assert point[31] & 0x80 == 0
        if v1 or int.from_bytes(point, "little") < P25519:
            add("%s is a small-order point: %s (order %d)" % (elem, label, point_order(point)),
                small, sk, _replace(good, ELEMENT, point), "low_order_point")
        else:
            add("the encapsulation is a small-order point written unreduced: %s (order %d); "
                "the canonical check comes before X25519" % (label, point_order(point)),
                small, sk, _replace(good, ELEMENT, point), "noncanonical_alpha")

    # Check order within step 1 and between steps 1 and 2.
    add("wrong length and bad version: the length is checked first", small, sk,
        _replace(good, 0, other_version)[:-1], "wrong_length")
    add("bad version and %s top bit set: the version is checked first" % elems, small, sk,
        _flip(_replace(good, 0, other_version), ELEMENT + 31, 7), "bad_version")
    add("%s = 0 with its top bit set: the canonical check comes before X25519"
        % ("alpha" if v1 else "the encapsulation u"), small, sk,
        _replace(good, ELEMENT, bytes(31) + b"\x80"), "noncanonical_alpha")

    # MAC.
    add("one bit flipped in beta (first byte)", small, sk, _flip(good, BETA), "bad_mac")
    add("one bit flipped in beta (last byte)", small, sk, _flip(good, GAMMA_S - 1, 7), "bad_mac")
    add("one bit flipped in gamma", small, sk, _flip(good, GAMMA_S + 5, 3), "bad_mac")
    add("one bit flipped in %s (lowest bit of byte 0)" % elem, small, sk, _flip(good, ELEMENT),
        None, allowed=("bad_mac", "low_order_point"))
    if not v1:
        u = int.from_bytes(good[ELEMENT:ELEMENT + 32], "little")
        twin = pow(u, P25519 - 2, P25519).to_bytes(32, "little")
        assert sx.x25519(sk, twin) == sx.x25519(sk, good[ELEMENT:ELEMENT + 32])
        add("the encapsulation u replaced by its twin 1/u (the same point plus the point of "
            "order 2): X25519 gives the same value, but the shared secret hashes the "
            "ciphertext", small, sk, _replace(good, ELEMENT, twin), "bad_mac")
    add("default geometry: one bit flipped in beta", default, sk_d,
        _flip(good_d, BETA + 100, 2), "bad_mac")
    other_sk = vs.det("invalid/some-other-node/private-key")
    add("a valid packet presented to a node it was not built for", small, other_sk, good, "bad_mac")
    dummy_text = ("a dummy packet (section 9): 0x01 || X25519_BASE(r) || random bytes" if v1 else
                  "a dummy packet: 0x02 || X25519_BASE(r) || random bytes")
    add(dummy_text, small, sk,
        sx.dummy_packet(small, vs.det("invalid/dummy/secret"),
                        vs.det("invalid/dummy/filler", small.beta_len + 16 + small.payload)),
        "bad_mac")

    # Commands (the MAC is valid: the creator authenticated the bad command).
    next_id = vs.det("invalid/next-hop-id")
    for flag in (0x05, 0x00, 0xFF):
        bad = [sx.encode_command(flag, 0, next_id, strict=False)] + relay_final[1:]
        k, pkt = base(small, "flag-%02x" % flag, bad, check=False)
        add("unknown flag 0x%02x in the node's command (header MAC valid)" % flag, small, k, pkt,
            "unknown_flag")
    for pos in (0, 10):
        reserved = bytearray(11)
        reserved[pos] = 0x01
        bad = [sx.encode_command(sx.FLAG_RELAY, 0, next_id, reserved=bytes(reserved), strict=False)] \
            + relay_final[1:]
        k, pkt = base(small, "reserved-%d" % pos, bad, check=False)
        add("RELAY command with reserved byte %d (command byte %d) set to 0x01 (header MAC valid)"
            % (pos, 37 + pos), small, k, pkt, "reserved_nonzero")

    # Payload integrity at FINAL.
    final_only = [sx.encode_command(sx.FLAG_FINAL, 0, vs.det("invalid/message-id"))]
    k, pkt = base(small, "final-tampered", final_only, b"a message to tamper with")
    final = sx.process(small, k, pkt)
    assert final.payload_ok
    add("FINAL packet with one payload bit flipped: the header is valid, the payload check "
        "after step 8 fails", small, k, _flip(pkt, small.header_len + 40, 0), "payload_integrity")
    k_d, pkt = base(default, "final-tampered-default", final_only, b"a message to tamper with")
    add("default geometry: FINAL packet with the last payload byte flipped", default, k_d,
        _flip(pkt, default.packet_len - 1, 7), "payload_integrity")

    # A FINAL payload whose 16 zero bytes are intact but whose length field is too large.
    keys = [node_keys(vs, "invalid/final-long-len", 0)]
    header, hop_keys = sx.build_header(small, [keys[0][1]], final_only,
                                       vs.ephemeral("invalid/final-long-len/ephemeral-secret", 1))
    pt = bytes(16) + (small.max_message + 1).to_bytes(2, "big") + bytes(small.max_message)
    pkt = header + sx.wrap_payload([h.payload for h in hop_keys], pt)
    add("FINAL payload with 16 zero bytes but length field P-17 (> P-18)", small, keys[0][0], pkt,
        "payload_integrity")

    if not v1:
        # What a last hop sends on carries no next encapsulation (zero), so it
        # is not a packet for anybody.
        add("the packet a FINAL hop produces, given back to that hop: its encapsulation is zero",
            small, k, final.packet_out, "low_order_point")

    return vs.document(cases)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------

def render() -> Dict[Path, str]:
    out = {}
    for vs in VECTOR_SUITES:
        out[vs.valid_path] = dump(build_valid(vs))
        out[vs.invalid_path] = dump(build_invalid(vs))
    return out


def check() -> List[str]:
    """Paths (relative to the repository) whose committed content differs."""
    stale = []
    for path, text in render().items():
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            current = None
        if current != text.encode("ascii"):
            stale.append(str(path.relative_to(REPO_ROOT)))
    return stale


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed files instead of writing them")
    args = ap.parse_args(argv)
    if args.check:
        stale = check()
        if stale:
            for p in stale:
                print("out of date: %s (run python3 tools/gen_vectors.py)" % p, file=sys.stderr)
            return 1
        print("test vectors are up to date")
        return 0
    VECTOR_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in render().items():
        path.write_bytes(text.encode("ascii"))
        print("wrote %s (%d bytes)" % (path.relative_to(REPO_ROOT), len(text)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
