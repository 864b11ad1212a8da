"""Self-tests of the Sphinx reference implementation and of the published vectors.

Run with:  python3 -m pytest tools/ -q
"""

import hashlib
import json
import random
import struct

import pytest

import gen_vectors as gv
import sphinx_ref as sx

SMALL = sx.Geometry(2, 64)
DEFAULT = sx.DEFAULT_GEOMETRY
KEM_SMALL = sx.Geometry(2, 64, sx.SUITE_KEM_X25519)
KEM_DEFAULT = sx.Geometry(6, 2048, sx.SUITE_KEM_X25519)
# Behaviour both suites share is tested on both, with the same test code.
GEOMETRIES = [DEFAULT, SMALL, KEM_DEFAULT, KEM_SMALL]
GEOMETRY_IDS = ["default", "small", "kem-default", "kem-small"]
SMALL_GEOMETRIES = [SMALL, KEM_SMALL]
SUITE_IDS = [s.name for s in sx.SUITES]


def det(label, n=32):
    out = b""
    while len(out) < n:
        out += hashlib.blake2b(b"test/%s/%d" % (label.encode(), len(out)), digest_size=64).digest()
    return out[:n]


def make_route(geometry, n, last_flag=sx.FLAG_FINAL, label="route"):
    sks = [det("%s/sk%d" % (label, i)) for i in range(n)]
    pks = [sx.x25519_base(k) for k in sks]
    cmds = [sx.encode_command(sx.FLAG_RELAY, 1000 * i, det("%s/id%d" % (label, i + 1)))
            for i in range(n - 1)]
    last_addr = bytes(32) if last_flag == sx.FLAG_DROP else det("%s/last-address" % label)
    cmds.append(sx.encode_command(last_flag, 77, last_addr))
    return sks, pks, cmds


def ephemeral(geometry, n, label):
    """What the geometry's suite draws fresh for a packet over n hops."""
    if geometry.suite is sx.SUITE_V1:
        return det(label)
    return [det("%s/hop%d" % (label, i)) for i in range(n)]


def walk(geometry, sks, packet, caches=None):
    results = []
    for i, sk in enumerate(sks):
        r = sx.process(geometry, sk, packet, None if caches is None else caches[i])
        results.append(r)
        packet = r.packet_out
    return results


def error_of(fn, *args, **kwargs):
    with pytest.raises(sx.SphinxError) as info:
        fn(*args, **kwargs)
    return info.value.name


# ---------------------------------------------------------------------------
# Primitives against published known answers
# ---------------------------------------------------------------------------

def test_kdf_matches_libsodium_known_answers():
    # libsodium test/default/kdf.exp: master key 00..1f, context "KDF test".
    mk = bytes(range(32))
    assert sx.kdf_with_context(mk, 0, 64, b"KDF test").hex() == (
        "a0c724404728c8bb95e5433eb6a9716171144d61efb23e74b873fcbeda51d807"
        "1b5d70aae12066dfc94ce943f145aa176c055040c3dd73b0a15e36254d450614")
    assert sx.kdf_with_context(mk, 16, 16, b"KDF test").hex() == "a529216624ef9161e4cf117272aafff2"
    assert sx.kdf_with_context(mk, 32, 32, b"KDF test").hex() == (
        "154b291f11196737f8b7f491e4ca11764e0227d34f94295408a869f007aa8618")


def test_kdf_uses_project_context():
    s = det("kdf")
    assert sx.kdf(s, 3, 32) == sx.kdf_with_context(s, 3, 32, b"LOOPIXv1")
    assert sx.kdf(s, 3, 32) != sx.kdf(s, 4, 32)


def _chacha20_original(key, nblocks):
    """Pure-Python ChaCha20 in the original layout: 64-bit counter (words 12-13),
    64-bit nonce (words 14-15), here nonce 0 and counter from 0."""
    def rotl(v, c):
        return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))

    def qr(x, a, b, c, d):
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF; x[d] = rotl(x[d] ^ x[a], 16)
        x[c] = (x[c] + x[d]) & 0xFFFFFFFF; x[b] = rotl(x[b] ^ x[c], 12)
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF; x[d] = rotl(x[d] ^ x[a], 8)
        x[c] = (x[c] + x[d]) & 0xFFFFFFFF; x[b] = rotl(x[b] ^ x[c], 7)

    out = b""
    const = struct.unpack("<4I", b"expand 32-byte k")
    kw = struct.unpack("<8I", key)
    for counter in range(nblocks):
        state = list(const) + list(kw) + [counter & 0xFFFFFFFF, counter >> 32, 0, 0]
        x = state[:]
        for _ in range(10):
            qr(x, 0, 4, 8, 12); qr(x, 1, 5, 9, 13); qr(x, 2, 6, 10, 14); qr(x, 3, 7, 11, 15)
            qr(x, 0, 5, 10, 15); qr(x, 1, 6, 11, 12); qr(x, 2, 7, 8, 13); qr(x, 3, 4, 9, 14)
        out += struct.pack("<16I", *((x[i] + state[i]) & 0xFFFFFFFF for i in range(16)))
    return out


def test_stream_is_original_chacha20():
    # Known answer: all-zero key and nonce, first block.
    assert sx.stream(bytes(32), 64).hex() == (
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
        "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586")
    for i in range(4):
        key = det("chacha%d" % i)
        assert sx.stream(key, 5 * 64 + 13) == _chacha20_original(key, 6)[:5 * 64 + 13]
    assert sx.stream(det("x"), 0) == b""


def test_x25519_rfc7748():
    a, a_pub = gv.RFC7748_ALICE, gv.RFC7748_ALICE_PUBLIC
    b, b_pub = gv.RFC7748_BOB, gv.RFC7748_BOB_PUBLIC
    shared = gv.RFC7748_SHARED
    assert sx.x25519_base(a) == a_pub and sx.x25519_base(b) == b_pub
    assert sx.x25519(a, b_pub) == shared == sx.x25519(b, a_pub)


def test_x25519_small_order_is_failure():
    for _, point in gv.SMALL_ORDER_POINTS:
        assert error_of(sx.x25519, det("k"), point) == "low_order_point"


def test_mac_is_16_byte_blake2b_not_truncated():
    k, m = det("mk"), b"message"
    assert sx.mac(k, m) == hashlib.blake2b(m, digest_size=16, key=k).digest()
    assert sx.mac(k, m) != sx.h32(k, m)[:16]
    assert len(sx.h32(k, m)) == 32


# ---------------------------------------------------------------------------
# Geometry and commands
# ---------------------------------------------------------------------------

def test_geometry_sizes():
    assert (DEFAULT.header_len, DEFAULT.packet_len, DEFAULT.max_message, DEFAULT.surb_len) == \
        (433, 2481, 2030, 593)
    assert (SMALL.header_len, SMALL.packet_len, SMALL.max_message, SMALL.surb_len) == \
        (177, 241, 46, 337)
    sx.Geometry(1, 64)
    sx.Geometry(16, 65536)


@pytest.mark.parametrize("h,p", [(0, 2048), (17, 2048), (6, 63), (6, 65537), (-1, 64),
                                 (6.0, 2048), (True, 64), ("6", 2048)])
def test_geometry_rejects(h, p):
    assert error_of(sx.Geometry, h, p) == "invalid_geometry"


def test_command_encoding():
    addr = det("addr")
    c = sx.encode_command(sx.FLAG_RELAY, 0x01020304, addr)
    assert c == b"\x01\x01\x02\x03\x04" + addr + bytes(11)
    assert sx.decode_command(c) == sx.Command(1, 0x01020304, addr)
    for flag in (0, 5, 0xFF):
        assert error_of(sx.encode_command, flag) == "unknown_flag"
        raw = sx.encode_command(flag, strict=False)
        assert error_of(sx.decode_command, raw) == "unknown_flag"
    raw = sx.encode_command(sx.FLAG_DROP, reserved=b"\x00" * 10 + b"\x01", strict=False)
    assert error_of(sx.decode_command, raw) == "reserved_nonzero"
    assert error_of(sx.decode_command, bytes(47)) == "wrong_length"


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("geometry", GEOMETRIES, ids=GEOMETRY_IDS)
@pytest.mark.parametrize("last_flag", [sx.FLAG_FINAL, sx.FLAG_DELIVER, sx.FLAG_DROP])
def test_round_trip_every_hop_count(geometry, last_flag):
    for n in range(1, geometry.hops + 1):
        sks, pks, cmds = make_route(geometry, n, last_flag, label="rt%d" % n)
        longest = (det("msg", 64) * (geometry.max_message // 64 + 1))[:geometry.max_message]
        for message in (b"", b"hello", longest):
            packet = sx.create_forward(geometry, pks, cmds, message,
                                       ephemeral(geometry, n, "x%d" % n))
            assert len(packet) == geometry.packet_len
            results = walk(geometry, sks, packet)
            for i, r in enumerate(results):
                cmd = sx.decode_command(cmds[i])
                assert (r.flag, r.delay_us, r.address) == (cmd.flag, cmd.delay_us, cmd.address)
                assert len(r.packet_out) == geometry.packet_len
                assert r.packet_out[0] == geometry.suite.version
                assert r.packet_out[32] & 0x80 == 0
            last = results[-1]
            if last_flag == sx.FLAG_FINAL:
                assert last.payload_ok and last.message == message
            else:
                assert last.payload_ok is None
                assert sx.decode_payload(geometry, last.packet_out[geometry.header_len:]) == \
                    (True, message)
            # The last hop's gamma' is zero: nothing follows.
            assert last.packet_out[geometry.header_len - 16:geometry.header_len] == bytes(16)


@pytest.mark.parametrize("suite", sx.SUITES, ids=SUITE_IDS)
def test_max_geometry_round_trip(suite):
    g = sx.Geometry(16, 65536, suite)
    sks, pks, cmds = make_route(g, 16, label="max")
    msg = det("big", 64) * 1000
    results = walk(g, sks, sx.create_forward(g, pks, cmds, msg, ephemeral(g, 16, "xmax")))
    assert results[-1].message == msg


@pytest.mark.parametrize("geometry", SMALL_GEOMETRIES, ids=SUITE_IDS)
def test_create_errors(geometry):
    sks, pks, cmds = make_route(geometry, 2)
    x = ephemeral(geometry, 2, "x")
    assert error_of(sx.create_forward, geometry, pks, cmds, bytes(47), x) == "message_too_long"
    sx.create_forward(geometry, pks, cmds, bytes(46), x)
    assert error_of(sx.create_forward, geometry, [], [], b"", x) == "invalid_route"
    assert error_of(sx.create_forward, geometry, pks * 2, cmds * 2, b"", x) == "invalid_route"
    assert error_of(sx.create_forward, geometry, pks, cmds[:1], b"", x) == "invalid_route"
    assert error_of(sx.create_forward, geometry, [pks[0][:31], pks[1]], cmds, b"", x) == "invalid_route"
    assert error_of(sx.create_forward, geometry, pks, [cmds[0][:47], cmds[1]], b"", x) == "invalid_route"
    bad = sx.encode_command(9, strict=False)
    assert error_of(sx.create_forward, geometry, pks, [bad, cmds[1]], b"", x) == "unknown_flag"
    assert error_of(sx.create_forward, geometry, [bytes(32), pks[1]], cmds, b"", x) == "low_order_point"


@pytest.mark.parametrize("geometry", [DEFAULT, KEM_DEFAULT], ids=SUITE_IDS)
def test_bit_flips_change_only_what_they_should(geometry):
    """A payload bit flipped at a RELAY hop is not caught there (LIONESS has no
    MAC) but turns the payload at the destination into noise."""
    sks, pks, cmds = make_route(geometry, 3)
    packet = bytearray(sx.create_forward(geometry, pks, cmds, b"hello", ephemeral(geometry, 3, "x")))
    packet[geometry.header_len + 100] ^= 1
    results = walk(geometry, sks, bytes(packet))
    assert results[-1].payload_ok is False and results[-1].message is None
    with pytest.raises(sx.SphinxError) as info:
        sx.process(geometry, sks[2], results[1].packet_out, raise_on_bad_payload=True)
    assert info.value.name == "payload_integrity"


# ---------------------------------------------------------------------------
# LIONESS
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", [64, 65, 100, 2048, 65536])
def test_lioness_inverse(size):
    keys = det("lioness", 128)
    block = (det("block", 64) * (size // 64 + 1))[:size]
    enc = sx.lioness_enc(keys, block)
    assert enc != block and len(enc) == size
    assert sx.lioness_dec(keys, enc) == block
    assert sx.lioness_enc(keys, sx.lioness_dec(keys, block)) == block
    # The four-key form is the same as the 128-byte form.
    assert sx.lioness_enc([keys[i:i + 32] for i in range(0, 128, 32)], block) == enc


def test_lioness_diffuses():
    keys = det("lioness", 128)
    block = bytes(2048)
    flipped = bytes([1]) + bytes(2047)
    a, b = sx.lioness_dec(keys, block), sx.lioness_dec(keys, flipped)
    assert sum(x != y for x, y in zip(a, b)) > 1900


# ---------------------------------------------------------------------------
# SURBs
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("geometry", GEOMETRIES, ids=GEOMETRY_IDS)
def test_surb_round_trip(geometry):
    for n in range(1, geometry.hops + 1):
        sks, pks, cmds = make_route(geometry, n, label="surb%d" % n)
        first = det("first-hop")
        surb, secret = sx.create_surb(geometry, first, pks, cmds, ephemeral(geometry, n, "sx%d" % n),
                                      det("kt", 128))
        assert len(surb) == geometry.surb_len
        assert surb[:32] == first and surb[-128:] == det("kt", 128)
        assert secret.reply_id == sx.decode_command(cmds[-1]).address
        reply = det("reply", geometry.max_message)
        hop, packet = sx.use_surb(geometry, surb, reply)
        assert hop == first
        caches = [set() for _ in sks]
        results = walk(geometry, sks, packet, caches)
        last = results[-1]
        assert last.flag == sx.FLAG_FINAL and last.address == secret.reply_id
        # The ordinary FINAL check cannot read a reply: kt is still on it.
        assert last.payload_ok is False
        payload = last.packet_out[geometry.header_len:]
        assert sx.open_surb_reply(geometry, secret, payload) == reply
        tampered = bytes([payload[0] ^ 1]) + payload[1:]
        assert error_of(sx.open_surb_reply, geometry, secret, tampered) == "payload_integrity"
        # A second use of the block is a replay at the first hop.
        _, again = sx.use_surb(geometry, surb, b"again")
        assert error_of(sx.process, geometry, sks[0], again, caches[0]) == "replay"


@pytest.mark.parametrize("geometry", SMALL_GEOMETRIES, ids=SUITE_IDS)
def test_surb_errors(geometry):
    x = ephemeral(geometry, 2, "x")
    sks, pks, cmds = make_route(geometry, 2, last_flag=sx.FLAG_DELIVER)
    assert error_of(sx.create_surb, geometry, det("f"), pks, cmds, x, det("kt", 128)) \
        == "invalid_route"
    sks, pks, cmds = make_route(geometry, 2)
    surb, _ = sx.create_surb(geometry, det("f"), pks, cmds, x, det("kt", 128))
    assert error_of(sx.use_surb, geometry, surb[:-1], b"") == "wrong_length"
    assert error_of(sx.use_surb, sx.Geometry(6, 2048, geometry.suite), surb, b"") == "wrong_length"
    assert error_of(sx.use_surb, geometry, surb, bytes(47)) == "message_too_long"


# ---------------------------------------------------------------------------
# Replay cache
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("geometry", [DEFAULT, KEM_DEFAULT], ids=SUITE_IDS)
def test_replay_detection_and_no_poisoning(geometry):
    sks, pks, cmds = make_route(geometry, 3)
    packet = sx.create_forward(geometry, pks, cmds, b"once", ephemeral(geometry, 3, "x"))
    cache = set()
    # A forged copy (bad MAC) must not put the tag in the cache.
    forged = bytearray(packet)
    forged[40] ^= 0x10
    assert error_of(sx.process, geometry, sks[0], bytes(forged), cache) == "bad_mac"
    assert cache == set()
    # Nor may a copy with a bad version (here the other suite's version byte).
    other_version = bytes([geometry.suite.version ^ 0x03])
    assert error_of(sx.process, geometry, sks[0], other_version + packet[1:], cache) == "bad_version"
    r = sx.process(geometry, sks[0], packet, cache)
    assert cache == {r.tag}
    assert error_of(sx.process, geometry, sks[0], packet, cache) == "replay"
    # The replay check comes before the MAC check: a copy with a broken MAC but
    # the same alpha is reported as a replay.
    assert error_of(sx.process, geometry, sks[0], bytes(forged), cache) == "replay"
    # Another node's cache is independent.
    r2 = sx.process(geometry, sks[1], r.packet_out, cache)
    assert r2.tag != r.tag and len(cache) == 2


@pytest.mark.parametrize("geometry", SMALL_GEOMETRIES, ids=SUITE_IDS)
def test_unknown_flag_does_not_enter_cache(geometry):
    sks, pks, cmds = make_route(geometry, 2)
    bad = sx.encode_command(7, strict=False)
    packet = sx.create_forward(geometry, pks, [bad, cmds[1]], b"", ephemeral(geometry, 2, "x"),
                               check_commands=False)
    cache = set()
    assert error_of(sx.process, geometry, sks[0], packet, cache) == "unknown_flag"
    assert cache == set()


# ---------------------------------------------------------------------------
# Dummies
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("geometry", GEOMETRIES, ids=GEOMETRY_IDS)
def test_dummy_packet(geometry):
    d = sx.dummy_packet(geometry)
    assert len(d) == geometry.packet_len and d[0] == geometry.suite.version and d[32] & 0x80 == 0
    assert error_of(sx.process, geometry, det("node"), d) == "bad_mac"
    fixed = sx.dummy_packet(geometry, det("s"), bytes(geometry.packet_len - 33))
    assert fixed[1:33] == sx.x25519_base(det("s"))


# ---------------------------------------------------------------------------
# Hostile input
# ---------------------------------------------------------------------------

def _process_or_error(geometry, sk, data):
    try:
        sx.process(geometry, sk, data, set(), raise_on_bad_payload=True)
        return None
    except sx.SphinxError as e:
        assert e.name in sx.ERROR_NAMES
        return e.name


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=GEOMETRY_IDS)
def test_fuzz_random_bytes(geometry):
    rnd = random.Random(1234)
    sk = det("fuzz-node")
    seen = set()
    for _ in range(300):
        n = rnd.choice([0, 1, 32, geometry.packet_len - 1, geometry.packet_len,
                        geometry.packet_len + 1, rnd.randrange(0, 3 * geometry.packet_len)])
        data = bytes(rnd.getrandbits(8) for _ in range(n))
        if n == geometry.packet_len and rnd.random() < 0.7:
            data = bytes([geometry.suite.version]) + data[1:]
            if rnd.random() < 0.7:
                data = data[:32] + bytes([data[32] & 0x7F]) + data[33:]
        err = _process_or_error(geometry, sk, data)
        assert err is not None
        seen.add(err)
    assert {"wrong_length", "bad_version", "noncanonical_alpha", "bad_mac"} <= seen


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=GEOMETRY_IDS)
def test_fuzz_mutated_packets(geometry):
    rnd = random.Random(99)
    sks, pks, cmds = make_route(geometry, geometry.hops)
    packet = sx.create_forward(geometry, pks, cmds, b"fuzz", ephemeral(geometry, geometry.hops, "x"))
    header_errors = 0
    for _ in range(300):
        b = bytearray(packet)
        for _ in range(rnd.randint(1, 3)):
            b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        err = _process_or_error(geometry, sks[0], bytes(b))
        if bytes(b[:geometry.header_len]) != packet[:geometry.header_len]:
            assert err is not None
            header_errors += 1
        else:
            assert err is None   # payload-only damage passes a RELAY hop
    assert header_errors > 0


def test_process_type_errors_are_not_sphinx_errors():
    with pytest.raises(TypeError):
        sx.process(SMALL, det("k"), "not bytes")
    with pytest.raises(ValueError):
        sx.process(SMALL, b"short key", bytes(SMALL.packet_len))


# ---------------------------------------------------------------------------
# Published vectors
# ---------------------------------------------------------------------------

def _load(path):
    with open(path) as f:
        return json.load(f)


def test_committed_vectors_are_current():
    assert gv.check() == []


def test_generation_is_deterministic():
    assert gv.render() == gv.render()


def _suite_of(doc, vs):
    """A file names its suite; version 1's files predate the field."""
    assert doc["version"] == 1
    if vs.is_v1:
        assert "suite" not in doc
    else:
        assert doc["suite"] == vs.suite.name
    return vs.suite


def _ephemeral_of(record):
    if "ephemeral_secret" in record:
        assert "ephemeral_secrets" not in record
        return bytes.fromhex(record["ephemeral_secret"])
    return [bytes.fromhex(e) for e in record["ephemeral_secrets"]]


@pytest.mark.parametrize("vs", gv.VECTOR_SUITES, ids=SUITE_IDS)
def test_valid_vectors_reproduce_independently(vs):
    doc = _load(vs.valid_path)
    suite = _suite_of(doc, vs)
    flags, geometries, lengths, surbs = set(), set(), set(), 0
    for case in doc["cases"]:
        g = sx.Geometry(case["geometry"]["hops"], case["geometry"]["payload"], suite)
        geometries.add((g.hops, g.payload, len(case["route"])))
        sks = [bytes.fromhex(r["private_key"]) for r in case["route"]]
        pks = [bytes.fromhex(r["public_key"]) for r in case["route"]]
        cmds = [bytes.fromhex(r["command"]) for r in case["route"]]
        assert [sx.x25519_base(k) for k in sks] == pks
        message = bytes.fromhex(case["message"])
        lengths.add(len(message) - g.max_message if len(message) else "empty")
        secret = _ephemeral_of(case)
        if not vs.is_v1:
            assert len(secret) == len(case["route"])
        packet = sx.create_forward(g, pks, cmds, message, secret)
        assert packet.hex() == case["packet"]
        assert len(case["hops"]) == len(case["route"])
        for sk, hop in zip(sks, case["hops"]):
            r = sx.process(g, sk, packet)
            assert r.tag.hex() == hop["tag"]
            assert (r.flag, r.delay_us, r.address.hex()) == \
                (hop["flag"], hop["delay_us"], hop["address"])
            assert r.packet_out.hex() == hop["packet_out"]
            flags.add(r.flag)
            packet = r.packet_out
        if case["hops"][-1]["flag"] == sx.FLAG_FINAL:
            assert r.message == message
            s = case["surb"]
            surbs += 1
            surb, secret = sx.create_surb(g, bytes.fromhex(s["first_hop_id"]), pks, cmds,
                                          _ephemeral_of(s), bytes.fromhex(s["reply_key"]))
            assert surb.hex() == s["surb"]
            reply = bytes.fromhex(s["reply_message"])
            _, packet = sx.use_surb(g, surb, reply)
            assert packet.hex() == s["reply_packet"]
            for sk, hop in zip(sks, s["hops"]):
                r = sx.process(g, sk, packet)
                assert (r.tag.hex(), r.packet_out.hex()) == (hop["tag"], hop["packet_out"])
                packet = r.packet_out
            assert sx.open_surb_reply(g, secret, packet[g.header_len:]) == reply
        else:
            assert "surb" not in case
    # Coverage promised by the format description.
    assert flags == {1, 2, 3, 4}
    assert {(6, 2048, 1), (6, 2048, 3), (6, 2048, 6), (2, 64, 1), (2, 64, 2)} <= geometries
    assert "empty" in lengths and 0 in lengths
    assert surbs >= 2


@pytest.mark.parametrize("vs", gv.VECTOR_SUITES, ids=SUITE_IDS)
def test_invalid_vectors_give_their_error(vs):
    doc = _load(vs.invalid_path)
    suite = _suite_of(doc, vs)
    errors = set()
    for case in doc["cases"]:
        g = sx.Geometry(case["geometry"]["hops"], case["geometry"]["payload"], suite)
        err = _process_or_error(g, bytes.fromhex(case["private_key"]), bytes.fromhex(case["packet"]))
        assert err == case["error"], case["description"]
        errors.add(err)
    assert errors == {"wrong_length", "bad_version", "noncanonical_alpha", "low_order_point",
                      "bad_mac", "unknown_flag", "reserved_nonzero", "payload_integrity"}
