#!/usr/bin/env bash
# Multi-host test: every node and client in its own network namespace with its own address,
# joined by a bridge, over impaired links (netem delay and loss where the kernel has it, else
# random loss with iptables); messages must still arrive. Skips, saying why, where the machine
# does not allow namespaces.
#   scripts/netns-test.sh [v1|kem]   (the packet suite, default v1; uses .build/debug/loopix, or $LOOPIX)
set -uo pipefail
cd "$(dirname "$0")/.."
SUITE="${1:-v1}"
case "$SUITE" in v1|kem) ;; *) echo "usage: $0 [v1|kem]" >&2; exit 2 ;; esac
BIN=$(realpath "${LOOPIX:-.build/debug/loopix}" 2>/dev/null || true)
skip() { echo "netns test: skipped: $*"; exit 0; }
[ -x "$BIN" ] || skip "no loopix binary at ${LOOPIX:-.build/debug/loopix} (build first)"
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
probe="lpxprobe$$"
ip netns add "$probe" 2>/dev/null || skip "this machine does not allow creating network namespaces"
ip netns del "$probe"

TAG="lx$$"
WORK=$(mktemp -d /tmp/loopix-netns-XXXXXX)
HOSTS=(p1 p2 m1 m2 m3 ca cb)
declare -A ADDR
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    sleep 1
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    for h in "${HOSTS[@]}"; do ip netns del "$TAG-$h" 2>/dev/null; done
    ip netns del "$TAG-hub" 2>/dev/null
}
trap cleanup EXIT
fail() { echo "netns test: FAILED: $*"; echo "logs: $WORK"; exit 1; }

# The network: a bridge in a hub namespace, one veth to each host namespace.
ip netns add "$TAG-hub"
ip -n "$TAG-hub" link add br0 type bridge
ip -n "$TAG-hub" link set br0 up
n=10
for h in "${HOSTS[@]}"; do
    ns="$TAG-$h"
    ip netns add "$ns"
    ip link add "$TAG$h" type veth peer name eth0 netns "$ns"
    ip link set "$TAG$h" netns "$TAG-hub"
    ip -n "$TAG-hub" link set "$TAG$h" master br0 up
    ADDR[$h]="10.123.0.$n"
    ip -n "$ns" addr add "${ADDR[$h]}/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    n=$((n + 1))
done

# Impair every host's link.
impairment="none"
if ip netns exec "$TAG-p1" tc qdisc add dev eth0 root netem delay 15ms 5ms loss 2% 2>/dev/null; then
    for h in "${HOSTS[@]:1}"; do ip netns exec "$TAG-$h" tc qdisc add dev eth0 root netem delay 15ms 5ms loss 2%; done
    impairment="netem: 15 ms ± 5 ms delay and 2 % loss on every link"
elif command -v iptables >/dev/null && ip netns exec "$TAG-p1" iptables -A INPUT -i eth0 -m statistic --mode random --probability 0.03 -j DROP 2>/dev/null; then
    for h in "${HOSTS[@]:1}"; do
        ip netns exec "$TAG-$h" iptables -A INPUT -i eth0 -m statistic --mode random --probability 0.03 -j DROP
    done
    impairment="3 % random loss on every host's input (iptables); this kernel has no netem, so no added delay"
else
    impairment="none: this kernel has neither netem nor iptables' statistic match"
fi
echo "netns test: ${#HOSTS[@]} hosts on 10.123.0.0/24, packet suite $SUITE; impairment: $impairment"

# Keys, topology and configurations, made with the CLI.
L() { "$BIN" "$@"; }
cd "$WORK"
L keygen --out authority.key >/dev/null
L topology create --out draft.json --layers 3 --mean-delay-ms 10 --mix-loop-rate 0.5 --payload-rate 5 \
    --loop-rate 1 --drop-rate 1 --pull-size 4 --pull-interval 0.3 --suite "$SUITE" >/dev/null
for p in p1 p2; do
    L keygen --out "$p.key" >/dev/null
    L topology add-node --draft draft.json --role provider --host "${ADDR[$p]}" --port 4100 --client-port 4101 --key "$p.key" >/dev/null
done
layer=1
for m in m1 m2 m3; do
    L keygen --out "$m.key" >/dev/null
    L topology add-node --draft draft.json --role mix --layer $layer --host "${ADDR[$m]}" --port 4100 --key "$m.key" >/dev/null
    layer=$((layer + 1))
done
L topology sign --draft draft.json --authority-key authority.key --out topology.json >/dev/null
AUTH=$(python3 -c "import json;print(json.load(open('topology.json'))['authority'])")
named=$(python3 -c "import json;print(json.load(open('topology.json'))['topology']['parameters']['geometry'].get('suite', 'sphinx-v1'))")
[ "$named" = "$([ "$SUITE" = kem ] && echo kem-x25519 || echo sphinx-v1)" ] || fail "the signed topology names the suite $named"
id_of() { python3 -c "import json,sys;print([n['id'] for n in json.load(open('draft.json'))['nodes'] if n['host']==sys.argv[1]][0])" "$1"; }

declare -A CLIENT_OF=([ca]=p1 [cb]=p2)
declare -A REG
for c in ca cb; do
    signing=$(L keygen --out "$c.key" --json | python3 -c "import json,sys;print(json.load(sys.stdin)['signingPublicKey'])")
    mailbox=$(python3 -c "import secrets;print(secrets.token_hex(32))")
    p=${CLIENT_OF[$c]}
    printf '{"topology":"topology.json","authority":"%s","key":"%s.key","mailbox":"%s","provider":"%s","logLevel":"warning"}\n' \
        "$AUTH" "$c" "$mailbox" "$(id_of "${ADDR[$p]}")" > "$c.json"
    REG[$p]="{\"mailbox\":\"$mailbox\",\"signingKey\":\"$signing\"}"
done
for m in m1 m2 m3; do
    printf '{"topology":"topology.json","authority":"%s","key":"%s.key","listenHost":"%s","workers":1,"eventLoops":1,"packetBuffers":1024,"replayCapacity":100000,"logLevel":"notice"}\n' \
        "$AUTH" "$m" "${ADDR[$m]}" > "$m.json"
done
for p in p1 p2; do
    printf '{"topology":"topology.json","authority":"%s","key":"%s.key","listenHost":"%s","pullHost":"%s","workers":1,"eventLoops":1,"packetBuffers":1024,"replayCapacity":100000,"mailboxes":"%s.sqlite","logLevel":"notice","clients":[%s]}\n' \
        "$AUTH" "$p" "${ADDR[$p]}" "${ADDR[$p]}" "$p" "${REG[$p]}" > "$p.json"
done

# Start the nodes, each in its own namespace.
for m in m1 m2 m3; do ip netns exec "$TAG-$m" "$BIN" mix --config "$m.json" > "$m.log" 2>&1 & PIDS+=($!); done
for p in p1 p2; do ip netns exec "$TAG-$p" "$BIN" provider --config "$p.json" > "$p.log" 2>&1 & PIDS+=($!); done
for h in p1 p2 m1 m2 m3; do
    for port in 4100 $([ "${h:0:1}" = p ] && echo 4101); do
        ok=""
        for _ in $(seq 1 200); do
            if ip netns exec "$TAG-ca" bash -c "exec 3<>/dev/tcp/${ADDR[$h]}/$port" 2>/dev/null; then ok=1; break; fi
            sleep 0.1
        done
        [ -n "$ok" ] || fail "$h (${ADDR[$h]}:$port) is not reachable from ca"
    done
done

# Client A (in its namespace) writes to client B (in its own), through both providers and three mixes.
BOB=$(L client address --config cb.json)
COUNT=6
for i in $(seq 1 $COUNT); do
    ip netns exec "$TAG-ca" "$BIN" client send --config ca.json --to "$BOB" --message "over the lossy network #$i" --timeout 60 \
        > /dev/null 2>> ca.log || fail "send #$i did not leave"
done
ip netns exec "$TAG-cb" "$BIN" client receive --config cb.json --count $COUNT --timeout 120 > received.txt 2>> cb.log
got=$(sort -u received.txt | grep -c "over the lossy network" || true)
dropped=0
if command -v iptables >/dev/null; then
    for h in "${HOSTS[@]}"; do
        d=$(ip netns exec "$TAG-$h" iptables -L INPUT -v -n -x 2>/dev/null | awk '/statistic/ {s += $1} END {print s + 0}')
        dropped=$((dropped + d))
    done
fi
echo "netns test: B received $got of $COUNT messages ($named packets); packets dropped by the impairment: $dropped"
[ "$got" -eq "$COUNT" ] || fail "only $got of $COUNT messages arrived"
echo "netns test: passed"
