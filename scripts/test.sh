#!/usr/bin/env bash
# Runs every test: C core (unit, vectors, valgrind), Python reference and ctypes example,
# bounded fuzzing, and the Swift test suite. Prints one summary line at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --deps || exit 1

passed=0
failed=0
failures=()
stage() {
    local name="$1"
    shift
    echo "==> $name"
    local start=$SECONDS
    if "$@"; then
        passed=$((passed + 1))
        echo "<== $name: ok ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "<== $name: FAILED ($((SECONDS - start)) s)"
    fi
}
skip() { echo "==> $1: skipped ($2)"; }

stage "C core: unit tests and vectors" make -s -C CSources test
if command -v valgrind >/dev/null; then
    stage "C core: unit tests under valgrind" make -s -C CSources valgrind
else
    skip "C core under valgrind" "valgrind not installed"
fi
stage "Python reference implementation" python3 -m pytest -q tools
stage "Test vectors reproduce from the generator" python3 tools/gen_vectors.py --check
if [ -f examples/python/check_vectors.py ]; then
    stage "C library through ctypes (examples/python)" sh -c 'make -s -C CSources all && python3 examples/python/check_vectors.py'
fi
if grep -q '^fuzz-smoke:' CSources/Makefile; then
    stage "Fuzzing (bounded)" make -s -C CSources fuzz-smoke
fi
# Swift Testing runs every test at once on a pool of one thread per core. The synchronous,
# computation-heavy suites (simulations, statistics; about 7 s of CPU) run in a stage of their
# own, so that on two cores they do not hold the pool while the tests that run nodes and
# processes need it: those tests' peers cut off a connection that misses its frame deadline.
# The tests that judge timing (Poisson send intervals, per-hop delays) run alone last (so do
# the mix loops, whose alarm judges how many loops return within 0.3 s): beside the parallel
# suite their clocks would measure the machine, not the code. Last, one after the other, the
# process tests that run across key epochs (a mix restarted twice inside one epoch; nodes whose
# directory is forged while they refresh every 3 s; a testnet whose messages must arrive within
# a latency bound across eight boundaries): each loads both cores with processes of its own,
# which the tests above must not share.
compute='LoopixSimTests|LoopixBenchTests'
timing='LoopixClientTests/poissonIntervals|CoverTrafficEndToEndTests|ChainTests|MixLoopTests|EpochDriverTests'
epochs='DirectoryReplayProcessTests|DirectoryForgeryProcessTests|TestnetEpochsTests'
stage "Swift build (debug, with tests)" bash -o pipefail -c 'swift build --build-tests 2>&1 | tail -n 3'
stage "Swift tests: simulations and statistics" swift test --skip-build --filter "$compute"
stage "Swift tests: nodes, clients, processes" swift test --skip-build --skip "$compute|$timing|$epochs"
stage "Swift tests that judge timing, alone" swift test --skip-build --filter "$timing"
stage "Swift tests across key epochs (processes), one at a time" swift test --skip-build --no-parallel --filter "$epochs"
stage "Multi-host over network namespaces (version 1 packets)" scripts/netns-test.sh v1
stage "Multi-host over network namespaces (KEM suite)" scripts/netns-test.sh kem

echo
[ ${#failures[@]} -gt 0 ] && echo "failed stages: ${failures[*]}"
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
