"""Self-tests of the KEM suite (docs/packet-format-kem.md) in the reference.

What both suites do alike (round trips at every hop count, reply blocks,
replay caches, dummies, fuzzing) is tested on both in test_sphinx_ref.py; this
file pins down what only the KEM suite does.

Run with:  python3 -m pytest tools/ -q
"""

import hashlib
import json

import pytest

import gen_vectors as gv
import sphinx_ref as sx
from test_sphinx_ref import det, error_of, ephemeral, make_route, walk

KEM = sx.SUITE_KEM_X25519
X25519_KEM = KEM.kem
KEM_SMALL = sx.Geometry(2, 64, KEM)
KEM_DEFAULT = sx.Geometry(6, 2048, KEM)
P = sx.P25519


def inverse_u(u_bytes):
    """The u of P + T, T the point of order 2 (0, 0): X25519 with any clamped
    scalar gives the same result for u and 1/u."""
    u = int.from_bytes(u_bytes, "little")
    return pow(u, P - 2, P).to_bytes(32, "little")


def with_element(packet, element):
    return packet[:1] + element + packet[33:]


# ---------------------------------------------------------------------------
# The X25519 KEM
# ---------------------------------------------------------------------------

def test_x25519_kem_known_answer():
    # RFC 7748 section 6.1: Alice's secret as the encapsulation's seed, Bob's key.
    alice, alice_pub = gv.RFC7748_ALICE, gv.RFC7748_ALICE_PUBLIC
    bob, bob_pub, dh = gv.RFC7748_BOB, gv.RFC7748_BOB_PUBLIC, gv.RFC7748_SHARED
    ct, ss = X25519_KEM.encap(bob_pub, alice)
    assert ct == alice_pub
    # Keyed BLAKE2b-256 of ct || pk under dh, personalised: written out here
    # with hashlib so that the formula, not just the code, is what is pinned.
    expected = hashlib.blake2b(alice_pub + bob_pub, digest_size=32, key=dh,
                               salt=bytes(16), person=b"LOOPIX-X25519KEM").digest()
    assert ss == expected
    assert X25519_KEM.decap(bob, bob_pub, ct) == ss
    # The raw Diffie-Hellman value is not the shared secret.
    assert ss != dh


def test_x25519_kem_shared_secret_binds_ciphertext_and_public_key():
    sk, seed = det("kem/sk"), det("kem/seed")
    pk = sx.x25519_base(sk)
    ct, ss = X25519_KEM.encap(pk, seed)
    twin = inverse_u(ct)
    assert twin != ct and sx.x25519(sk, twin) == sx.x25519(sk, ct)
    assert X25519_KEM.decap(sk, pk, twin) != ss
    # The same private key under another claimed public key gives another secret.
    assert X25519_KEM.decap(sk, sx.x25519_base(det("kem/other")), ct) != ss


def test_x25519_kem_canonical_ciphertexts():
    X25519_KEM.check_ciphertext((P - 1).to_bytes(32, "little"))
    X25519_KEM.check_ciphertext(bytes(32))
    for value in (P, P + 1, P + 9, 2 ** 255 - 1, 2 ** 255, 2 ** 256 - 1):
        ct = value.to_bytes(32, "little")
        assert error_of(X25519_KEM.check_ciphertext, ct) == "noncanonical_alpha"


def test_x25519_kem_low_order():
    for _, point in gv.SMALL_ORDER_POINTS:
        assert error_of(X25519_KEM.encap, point, det("seed")) == "low_order_point"
        if int.from_bytes(point, "little") < P:
            assert error_of(X25519_KEM.decap, det("sk"), sx.x25519_base(det("sk")), point) \
                == "low_order_point"


# ---------------------------------------------------------------------------
# Sizes and key separation
# ---------------------------------------------------------------------------

def test_sizes():
    def sizes(h, p):
        g = sx.Geometry(h, p, KEM)
        return (g.slot, g.beta_len, g.header_len, g.packet_len, g.max_message, g.surb_len)
    assert sizes(6, 2048) == (96, 576, 625, 2673, 2030, 785)
    assert sizes(2, 64) == (96, 192, 241, 305, 46, 401)
    assert sizes(1, 64) == (96, 96, 145, 209, 46, 305)
    assert sizes(16, 65536) == (96, 1536, 1585, 67121, 65518, 1745)
    # 32 more bytes per slot than version 1, nothing else.
    for h, p in ((1, 64), (6, 2048), (16, 100)):
        assert sx.Geometry(h, p, KEM).packet_len - sx.Geometry(h, p).packet_len == 32 * h


def test_no_key_is_shared_between_suites():
    s = det("shared secret")
    v1, kem = sx.derive_hop_keys(s, sx.SUITE_V1), sx.derive_hop_keys(s, KEM)
    v1_keys = {v1.kh, v1.km, v1.tag, v1.blinding, *v1.payload}
    kem_keys = {kem.kh, kem.km, kem.tag, *kem.payload}
    assert len(kem_keys) == 7 and not v1_keys & kem_keys
    assert kem.blinding is None
    assert kem.kh == sx.kdf_with_context(s, 1, 32, b"LOOPIXk2")


# ---------------------------------------------------------------------------
# Creating and processing
# ---------------------------------------------------------------------------

def test_each_hop_gets_the_next_encapsulation_from_its_slot():
    n = 4
    sks, pks, cmds = make_route(KEM_DEFAULT, n)
    seeds = ephemeral(KEM_DEFAULT, n, "e")
    packet = sx.create_forward(KEM_DEFAULT, pks, cmds, b"slots", seeds)
    results = walk(KEM_DEFAULT, sks, packet)
    inputs = [packet] + [r.packet_out for r in results[:-1]]
    for i in range(n):
        # Hop i's packet carries X25519_BASE(e_i) where v1 has alpha.
        assert inputs[i][1:33] == sx.x25519_base(seeds[i])
        # It is nowhere in the packet before (it travelled encrypted in beta).
        if i:
            assert inputs[i][1:33] not in inputs[i - 1]
    # The last hop's slot has no next encapsulation: its output carries zeros.
    last_out = results[-1].packet_out
    assert last_out[1:33] == bytes(32)
    assert last_out[KEM_DEFAULT.header_len - 16:KEM_DEFAULT.header_len] == bytes(16)
    # That output is not a packet anybody can process again.
    assert error_of(sx.process, KEM_DEFAULT, sks[-1], last_out) == "low_order_point"


def test_one_x25519_per_hop_and_two_per_hop_to_create(monkeypatch):
    """The point of the suite: processing does one variable-base X25519 (v1
    does two), creating over n hops does 2n (v1: 1 + n(n+1)/2)."""
    calls = {"x25519": 0, "base": 0}
    real, real_base = sx.x25519, sx.x25519_base

    def counting(k, u):
        calls["x25519"] += 1
        return real(k, u)

    def counting_base(k):
        calls["base"] += 1
        return real_base(k)

    for suite, n, create, process_calls in ((KEM, 6, (6, 6), 1), (sx.SUITE_V1, 6, (21, 1), 2)):
        g = sx.Geometry(6, 2048, suite)
        sks, pks, cmds = make_route(g, n)
        monkeypatch.setattr(sx, "x25519", counting)
        monkeypatch.setattr(sx, "x25519_base", counting_base)
        calls.update(x25519=0, base=0)
        packet = sx.create_forward(g, pks, cmds, b"", ephemeral(g, n, "count"))
        assert (calls["x25519"], calls["base"]) == create
        calls.update(x25519=0, base=0)
        sx.process(g, sks[0], packet)
        # (The reference derives the node's public key per call for the KEM;
        # a node keeps it beside the private key, so only x25519 counts.)
        assert calls["x25519"] == process_calls
        monkeypatch.undo()


@pytest.mark.parametrize("geometry", [KEM_SMALL, sx.Geometry(16, 64, KEM)], ids=["H2", "H16"])
def test_round_trip_every_flag_and_hop_count(geometry):
    for n in range(1, geometry.hops + 1):
        for last_flag in (sx.FLAG_FINAL, sx.FLAG_DELIVER, sx.FLAG_DROP):
            sks, pks, cmds = make_route(geometry, n, last_flag, label="rt%d" % n)
            message = det("m%d" % n, geometry.max_message)
            packet = sx.create_forward(geometry, pks, cmds, message, ephemeral(geometry, n, "x%d" % n))
            results = walk(geometry, sks, packet)
            assert [r.flag for r in results] == [sx.FLAG_RELAY] * (n - 1) + [last_flag]
            assert sx.decode_payload(geometry, results[-1].packet_out[geometry.header_len:]) \
                == (True, message)


def test_ephemeral_secrets_are_one_per_hop():
    sks, pks, cmds = make_route(KEM_SMALL, 2)
    with pytest.raises(TypeError):
        sx.create_forward(KEM_SMALL, pks, cmds, b"", det("one secret for all hops"))
    with pytest.raises(ValueError):
        sx.create_forward(KEM_SMALL, pks, cmds, b"", [det("only one")])
    with pytest.raises(ValueError):
        sx.create_forward(KEM_SMALL, pks, cmds, b"", [det("a"), det("b")[:31]])


# ---------------------------------------------------------------------------
# Hostile input
# ---------------------------------------------------------------------------

def test_any_header_bit_flip_is_refused_at_the_hop_and_any_payload_flip_at_the_end():
    g = KEM_SMALL
    sks, pks, cmds = make_route(g, 2)
    packet = sx.create_forward(g, pks, cmds, b"tamper-evident", ephemeral(g, 2, "x"))
    seen = set()
    for offset in range(g.header_len):
        for bit in range(8):
            tampered = bytearray(packet)
            tampered[offset] ^= 1 << bit
            seen.add(error_of(sx.process, g, sks[0], bytes(tampered), set()))
    assert seen == {"bad_version", "noncanonical_alpha", "bad_mac"}
    # The packet the first hop sends on, tampered on the link to the second.
    second = sx.process(g, sks[0], packet).packet_out
    for offset in range(g.header_len):
        tampered = bytearray(second)
        tampered[offset] ^= 0x01
        assert error_of(sx.process, g, sks[1], bytes(tampered), set()) in \
            ("bad_version", "noncanonical_alpha", "bad_mac")
    # Payload bits pass the hops (LIONESS has no MAC) and fail at the destination.
    for offset in range(g.header_len, g.packet_len):
        tampered = bytearray(packet)
        tampered[offset] ^= 0x80 >> (offset % 8)
        results = walk(g, sks, bytes(tampered))
        assert results[-1].payload_ok is False
        assert error_of(sx.process, g, sks[1], results[0].packet_out, set(),
                        raise_on_bad_payload=True) == "payload_integrity"


def test_twin_encapsulation_is_refused():
    """1/u gives the same X25519 result; v1 would accept such a twin alpha as
    the same packet. Here the shared secret hashes the ciphertext, so the twin
    fails the MAC and never reaches the replay cache."""
    sks, pks, cmds = make_route(KEM_SMALL, 2)
    packet = sx.create_forward(KEM_SMALL, pks, cmds, b"", ephemeral(KEM_SMALL, 2, "x"))
    twin = with_element(packet, inverse_u(packet[1:33]))
    cache = set()
    assert error_of(sx.process, KEM_SMALL, sks[0], twin, cache) == "bad_mac"
    assert cache == set()
    sx.process(KEM_SMALL, sks[0], packet, cache)


def test_noncanonical_encapsulation_is_refused_before_x25519(monkeypatch):
    sks, pks, cmds = make_route(KEM_SMALL, 2)
    packet = sx.create_forward(KEM_SMALL, pks, cmds, b"", ephemeral(KEM_SMALL, 2, "x"))
    ct = int.from_bytes(packet[1:33], "little")
    variants = [(ct | 1 << 255).to_bytes(32, "little"),    # top bit set: X25519 ignores it
                (P + 9).to_bytes(32, "little"),             # the base point, written unreduced
                (2 ** 255 - 1).to_bytes(32, "little")]
    if ct + P < 2 ** 256:
        variants.append((ct + P).to_bytes(32, "little"))

    def no_x25519(k, u):
        raise AssertionError("X25519 ran on a non-canonical encapsulation")

    monkeypatch.setattr(sx, "x25519", no_x25519)
    for element in variants:
        assert error_of(sx.process, KEM_SMALL, sks[0], with_element(packet, element)) \
            == "noncanonical_alpha"


def test_replayed_packet_is_refused_at_every_hop():
    n = 3
    sks, pks, cmds = make_route(KEM_DEFAULT, n)
    packet = sx.create_forward(KEM_DEFAULT, pks, cmds, b"once", ephemeral(KEM_DEFAULT, n, "x"))
    caches = [set() for _ in range(n)]
    results = walk(KEM_DEFAULT, sks, packet, caches)
    inputs = [packet] + [r.packet_out for r in results[:-1]]
    for i in range(n):
        assert caches[i] == {results[i].tag}
        assert error_of(sx.process, KEM_DEFAULT, sks[i], inputs[i], caches[i]) == "replay"


def test_a_packet_of_one_suite_is_refused_by_the_other():
    # Same H and P: the lengths differ (32 bytes per slot).
    for src, dst in ((KEM_SMALL, sx.Geometry(2, 64)), (sx.Geometry(2, 64), KEM_SMALL)):
        sks, pks, cmds = make_route(src, 2)
        packet = sx.create_forward(src, pks, cmds, b"", ephemeral(src, 2, "x"))
        assert error_of(sx.process, dst, sks[0], packet) == "wrong_length"
    # Geometries chosen so that the lengths agree (49 + 64*3 + 96 = 49 + 96*2 + 96):
    # the version byte tells them apart.
    v1, kem = sx.Geometry(3, 96), sx.Geometry(2, 96, KEM)
    assert v1.packet_len == kem.packet_len == 337
    for src, dst in ((kem, v1), (v1, kem)):
        sks, pks, cmds = make_route(src, 2)
        packet = sx.create_forward(src, pks, cmds, b"", ephemeral(src, 2, "x"))
        assert error_of(sx.process, dst, sks[0], packet) == "bad_version"
        # Even with the version byte rewritten, the other suite's keys do not fit.
        forged = bytes([dst.suite.version]) + packet[1:]
        assert error_of(sx.process, dst, sks[0], forged) in ("bad_mac", "noncanonical_alpha")


def test_dummy_is_refused_like_a_packet_for_someone_else():
    d = sx.dummy_packet(KEM_DEFAULT, det("dummy"), det("filler", KEM_DEFAULT.packet_len - 33))
    assert d[0] == 2 and d[1:33] == sx.x25519_base(det("dummy"))
    X25519_KEM.check_ciphertext(d[1:33])
    assert error_of(sx.process, KEM_DEFAULT, det("node"), d) == "bad_mac"


# ---------------------------------------------------------------------------
# Published vectors
# ---------------------------------------------------------------------------

def test_kem_known_answers_follow_the_formula():
    with open(gv.KEM_VALID_PATH) as f:
        entries = json.load(f)["kem"]
    assert len(entries) >= 2
    for e in entries:
        sk, pk, seed, ct, ss = (bytes.fromhex(e[k]) for k in
                                ("private_key", "public_key", "ephemeral_secret",
                                 "ciphertext", "shared_secret"))
        assert sx.x25519_base(sk) == pk and sx.x25519_base(seed) == ct
        dh = sx.x25519(seed, pk)
        assert sx.x25519(sk, ct) == dh
        assert ss == hashlib.blake2b(ct + pk, digest_size=32, key=dh,
                                     person=b"LOOPIX-X25519KEM").digest()


def test_kem_vectors_carry_one_ephemeral_secret_per_hop():
    with open(gv.KEM_VALID_PATH) as f:
        doc = json.load(f)
    for case in doc["cases"]:
        seeds = [bytes.fromhex(e) for e in case["ephemeral_secrets"]]
        assert len(seeds) == len(case["route"]) == len(set(seeds))
        # Hop 0's encapsulation is in the clear, right after the version byte.
        assert bytes.fromhex(case["packet"])[:33] == b"\x02" + sx.x25519_base(seeds[0])
        for i, hop in enumerate(case["hops"][:-1]):
            assert bytes.fromhex(hop["packet_out"])[1:33] == sx.x25519_base(seeds[i + 1])
        assert bytes.fromhex(case["hops"][-1]["packet_out"])[1:33] == bytes(32)
