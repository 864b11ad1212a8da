#!/usr/bin/env bash
# Installs what this project needs and is missing (Debian/Ubuntu), then builds it.
#   scripts/setup.sh           dependencies + release build of `loopix` and of the C library
#   scripts/setup.sh --deps    dependencies only (the test script calls this)
#   scripts/setup.sh --plots   also matplotlib, for the PNG plots of `loopix bench` (scripts/plot_bench.py)
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in libsodium-dev libssl-dev libsqlite3-dev pkg-config make iproute2 iptables; do
    have_pkg "$pkg" || need_apt+=("$pkg")
done
if ! command -v python3 >/dev/null; then need_apt+=(python3 python3-pip); fi
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The Python reference implementation and the vector checks need `cryptography` and pytest.
python3 - <<'PY' 2>/dev/null || { echo "setup: installing Python packages (cryptography, pytest)"; python3 -m pip install -q --user cryptography pytest 2>/dev/null || python3 -m pip install -q cryptography pytest; }
import cryptography, pytest
PY

if [ "${1:-}" = "--plots" ]; then
    python3 -c "import matplotlib" 2>/dev/null || { echo "setup: installing matplotlib"; python3 -m pip install -q --user matplotlib 2>/dev/null || python3 -m pip install -q matplotlib; }
fi

if ! command -v swift >/dev/null; then
    echo "setup: the Swift toolchain (6.1 or newer) is not on PATH; install it from swift.org first" >&2
    exit 1
fi

[ "${1:-}" = "--deps" ] && exit 0

echo "setup: building the C library (CSources/out) and loopix (release)"
make -s -C CSources all
swift build -c release --product loopix 2>&1 | tail -n 1
echo "setup: done; the binary is .build/release/loopix"
