#!/usr/bin/env python3
"""Checks the published Sphinx test vectors of both packet suites through libloopix_sphinx.so, using the
ctypes binding.

For each X25519 backend and each suite (version 1: Tests/Vectors/sphinx-v1*.json; the KEM suite:
Tests/Vectors/sphinx-kem-v1*.json): every valid case (the packet, each hop's tag, flag, delay, address
and output, and the reply block's creation, use, way back and opening), the KEM suite's own KEM
entries (encapsulation and decapsulation), every invalid case (the error name), then a round trip with
fresh random keys. Prints one line per failure and a summary; exits 1 on any mismatch.

    make -C CSources && python3 examples/python/check_vectors.py [VECTOR_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loopix_sphinx as lsx  # noqa: E402

VECTORS = Path(__file__).resolve().parents[2] / "Tests" / "Vectors"


class Tally:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {what}")
        return ok

    def equal(self, got, want, what: str) -> bool:
        return self.check(got == want, f"{what}: got {_short(got)}, want {_short(want)}")


def _short(value) -> str:
    text = value.hex() if isinstance(value, (bytes, bytearray)) else repr(value)
    return text if len(text) <= 40 else f"{text[:32]}...({len(text)} chars)"


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def error_of(call) -> str:
    """The error name a call raises, or "ok"."""
    try:
        call()
    except lsx.SphinxError as e:
        return e.name
    return "ok"


# Each suite's two files, by the stem of their names.
SUITES = (("sphinx-v1", lsx.SUITE_V1), ("sphinx-kem-v1", lsx.SUITE_KEM_X25519))


def ephemeral_of(entry: dict) -> bytes:
    """A case's fresh randomness as the library takes it: v1's one secret, or the per-hop seeds joined."""
    if "ephemeral_secret" in entry:
        return h(entry["ephemeral_secret"])
    return b"".join(h(seed) for seed in entry["ephemeral_secrets"])


def check_case(t: Tally, case: dict, suite: int, label: str) -> None:
    g = lsx.Geometry(case["geometry"]["hops"], case["geometry"]["payload"], suite)
    route = case["route"]
    secrets = [h(hop["private_key"]) for hop in route]
    keys = [h(hop["public_key"]) for hop in route]
    commands = [h(hop["command"]) for hop in route]
    for i, (sk, pk) in enumerate(zip(secrets, keys)):
        t.equal(lsx.public_key(sk), pk, f"{label} public key {i}")
    nodes = [lsx.Node(g, sk) for sk in secrets]

    t.equal(len(ephemeral_of(case)), g.ephemeral_bytes(len(route)), f"{label} ephemeral size")
    packet = lsx.create_packet(g, keys, commands, h(case["message"]), ephemeral_of(case))
    t.equal(packet, h(case["packet"]), f"{label} packet")
    packet = h(case["packet"])
    for i, (node, want) in enumerate(zip(nodes, case["hops"])):
        where = f"{label} hop {i}"
        flt = lsx.ReplayFilter(capacity=1024)
        out, r = node.process(packet, flt)
        t.equal(r.tag, h(want["tag"]), f"{where} tag")
        t.equal(r.flag, want["flag"], f"{where} flag")
        t.equal(r.delay_us, want["delay_us"], f"{where} delay")
        t.equal(r.address, h(want["address"]), f"{where} address")
        t.equal(out, h(want["packet_out"]), f"{where} packet_out")
        in_place, _ = node.process(packet, None, in_place=True)
        t.equal(in_place, out, f"{where} in place")
        t.equal(error_of(lambda: node.process(packet, flt)), "replay", f"{where} second time")
        if i == len(route) - 1 and r.flag == lsx.FLAG_FINAL:
            t.equal(r.message, h(case["message"]), f"{where} message")
        packet = h(want["packet_out"])

    surb = case.get("surb")
    if surb is None:
        return
    block, secret = lsx.surb_create(g, keys, commands, h(surb["first_hop_id"]), ephemeral_of(surb),
                                    h(surb["reply_key"]))
    t.equal(block, h(surb["surb"]), f"{label} surb")
    first_hop, reply = lsx.surb_use(g, h(surb["surb"]), h(surb["reply_message"]))
    t.equal(first_hop, h(surb["first_hop_id"]), f"{label} surb first hop")
    t.equal(reply, h(surb["reply_packet"]), f"{label} reply packet")
    packet = h(surb["reply_packet"])
    for i, (node, want) in enumerate(zip(nodes, surb["hops"])):
        out, r = node.process(packet)
        t.equal(r.tag, h(want["tag"]), f"{label} reply hop {i} tag")
        t.equal(out, h(want["packet_out"]), f"{label} reply hop {i} packet_out")
        packet = h(want["packet_out"])
    # The hops cannot read a reply as a forward message; its maker opens it with the secret.
    t.equal(lsx.error_name(r.final_status), "payload_integrity", f"{label} reply final status name")
    t.equal(lsx.surb_open(g, secret, packet), h(surb["reply_message"]), f"{label} reply opened")


def check_kem(t: Tally, entry: dict, suite: int, label: str) -> None:
    """The KEM alone: ENCAP(public_key, ephemeral_secret) and DECAP with the node's key."""
    t.equal(lsx.public_key(h(entry["private_key"])), h(entry["public_key"]), f"{label} public key")
    ciphertext, shared = lsx.kem_encapsulate(suite, h(entry["public_key"]), h(entry["ephemeral_secret"]))
    t.equal(ciphertext, h(entry["ciphertext"]), f"{label} ciphertext")
    t.equal(shared, h(entry["shared_secret"]), f"{label} shared secret")
    node = lsx.Node(lsx.Geometry(1, 64, suite), h(entry["private_key"]))
    t.equal(node.kem_decapsulate(h(entry["ciphertext"])), h(entry["shared_secret"]), f"{label} decapsulated")


def check_invalid(t: Tally, case: dict, suite: int, label: str) -> None:
    g = lsx.Geometry(case["geometry"]["hops"], case["geometry"]["payload"], suite)
    node = lsx.Node(g, h(case["private_key"]))
    try:
        _, r = node.process(h(case["packet"]), lsx.ReplayFilter(capacity=16))
        got = lsx.error_name(r.final_status) if r.flag == lsx.FLAG_FINAL and r.final_status != 0 else "ok"
    except lsx.SphinxError as e:
        got = e.name
    t.equal(got, case["error"], f"{label} ({case['description']})")


def round_trip(t: Tally, suite: int, label: str) -> None:
    """A fresh Loopix-path packet and reply block with random keys, through every hop."""
    g = lsx.Geometry(6, 2048, suite)
    pairs = [lsx.keypair() for _ in range(g.hops)]
    nodes = [lsx.Node(g, sk) for _, sk in pairs]
    ids = [lsx.random_bytes(lsx.ADDRESS_BYTES) for _ in range(g.hops)]
    commands = [lsx.command_encode(lsx.FLAG_RELAY, 1000 * (i + 1), ids[i + 1]) for i in range(g.hops - 1)]
    commands.append(lsx.command_encode(lsx.FLAG_FINAL, 0, ids[0]))
    keys = [pk for pk, _ in pairs]
    message = lsx.random_bytes(g.max_message_bytes)

    packet = lsx.create_packet(g, keys, commands, message)
    t.equal(len(packet), g.packet_bytes, f"{label} packet size")
    t.equal(packet[0], suite, f"{label} version byte")
    for i, node in enumerate(nodes):
        packet, r = node.process(packet, lsx.ReplayFilter(capacity=16))
        t.equal((r.flag, r.delay_us, r.address), lsx.command_decode(commands[i]), f"{label} hop {i} command")
    t.equal(r.message, message, f"{label} message")

    block, secret = lsx.surb_create(g, keys, commands, ids[0])
    first_hop, packet = lsx.surb_use(g, block, b"a reply")
    t.equal(first_hop, ids[0], f"{label} reply first hop")
    for node in nodes:
        packet, r = node.process(packet)
    t.equal(lsx.surb_open(g, secret, packet), b"a reply", f"{label} reply")

    t.equal(error_of(lambda: nodes[0].process(lsx.create_dummy(g))), "bad_mac", f"{label} dummy")
    t.equal(error_of(lambda: lsx.create_packet(g, keys, commands, bytes(g.max_message_bytes + 1))),
            "message_too_long", f"{label} long message")


def main() -> int:
    vector_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else VECTORS
    files = []
    for stem, suite in SUITES:
        valid = json.loads((vector_dir / f"{stem}.json").read_text())
        invalid = json.loads((vector_dir / f"{stem}-invalid.json").read_text())
        # v1's files name no suite; the others name theirs, as the library does.
        for doc in (valid, invalid):
            if doc.get("suite", "sphinx-v1") != lsx.suite_name(suite):
                print(f"FAIL {stem}: the file is of suite {doc.get('suite')!r}")
                return 1
        files.append((suite, valid, invalid["cases"]))
        print(f"libloopix_sphinx {lsx.version()}, {lsx.suite_name(suite)}: {len(valid['cases'])} cases, "
              f"{len(valid.get('kem', []))} KEM entries, {len(invalid['cases'])} invalid cases")
    t = Tally()
    for backend in ("sodium", "libcrypto"):
        lsx.set_backend(backend)
        t.equal(lsx.get_backend(), backend, "backend chosen")
        for suite, valid, invalid in files:
            before = (t.passed, t.failed)
            name = lsx.suite_name(suite)
            for n, entry in enumerate(valid.get("kem", [])):
                check_kem(t, entry, suite, f"[{backend} {name}] KEM {n}")
            for n, case in enumerate(valid["cases"]):
                check_case(t, case, suite, f"[{backend} {name}] case {n}")
            for n, case in enumerate(invalid):
                check_invalid(t, case, suite, f"[{backend} {name}] invalid {n}")
            round_trip(t, suite, f"[{backend} {name}] round trip")
            print(f"  {backend}, {name}: {t.passed - before[0]} checks passed, {t.failed - before[1]} failed")
    print(f"{t.passed} passed, {t.failed} failed")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
