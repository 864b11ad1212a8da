#!/usr/bin/env python3
"""Runs MailboxBenchmarks' pairs interleaved and prints GRDB / hand-written ratios.

Each benchmark runs in its own process (package-benchmark's way); the two stores of a pair run back to
back, the hand-written one first in odd rounds and GRDB first in even rounds, so that a machine whose
speed drifts weighs on both alike. Figures are package-benchmark's p50 (and p90) per iteration.

    cd Benchmarks && python3 compare_mailbox_stores.py --rounds 2 [--only 'pull-k4 normal']
"""
import argparse
import re
import subprocess
import sys

IMPLEMENTATIONS = ("handwritten", "grdb")
OPERATIONS = [f"{op} {durability}" for durability in ("full", "normal")
              for op in ("deliver-256", "pull-k4", "pull-k16", "mixed-100ms")] + ["read-k16"]
SCALE = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}
TIME_UNITS = {"ns": 1e-3, "μs": 1, "us": 1, "ms": 1e3, "s": 1e6}


def scale_of(label):
    """The multiplier of a count that package-benchmark printed scaled, as in 'Malloc (total) (K)'."""
    found = re.search(r"\((K|M|G)\)", label)
    return SCALE[found.group(1)] if found else 1


def run_one(name, log):
    """Runs one benchmark; returns {'time': (p50, p90) in µs, 'cpu': the same, 'mallocs': (p50, p90)}."""
    command = ["swift", "package", "--disable-sandbox", "benchmark", "--target", "MailboxBenchmarks",
               "--filter", re.escape(name), "--no-progress", "--format", "markdown"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if log:
        log.write(out)
        log.flush()
    figures = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        label = cells[0]
        if len(cells) < 9 or not label.startswith(("Time (wall clock)", "Malloc (total)", "Thread CPU")):
            continue
        p50, p90 = float(cells[3].replace(",", "")), float(cells[5].replace(",", ""))
        if label.startswith("Time (wall clock)"):
            unit = re.search(r"\((ns|μs|us|ms|s)\)", label).group(1)
            figures["time"] = (p50 * TIME_UNITS[unit], p90 * TIME_UNITS[unit])
        elif label.startswith("Malloc (total)"):
            figures["mallocs"] = (p50 * scale_of(label), p90 * scale_of(label))
        elif label.startswith("Thread CPU"):
            figures["cpu"] = (p50 * scale_of(label) / 1e3, p90 * scale_of(label) / 1e3)
    if set(figures) != {"time", "cpu", "mallocs"}:
        sys.exit(f"no figures for {name!r} in:\n{out}")
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", action="append", help="an operation, e.g. 'pull-k4 normal' (repeatable)")
    parser.add_argument("--log", type=argparse.FileType("a"), help="append package-benchmark's own tables here")
    args = parser.parse_args()
    operations = args.only or OPERATIONS
    print("| round | benchmark | first | wall p50 (p90) µs, hand-written | GRDB | GRDB / hand-written "
          "| thread CPU p50 µs, hand-written | GRDB | GRDB / hand-written | mallocs p50, hand-written | GRDB "
          "| GRDB / hand-written |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for round_number in range(1, args.rounds + 1):
        order = IMPLEMENTATIONS if round_number % 2 else tuple(reversed(IMPLEMENTATIONS))
        for operation in operations:
            result = {impl: run_one(f"{operation} {impl}", args.log) for impl in order}
            hand, grdb = result["handwritten"], result["grdb"]
            print(f"| {round_number} | {operation} | {order[0]} "
                  f"| {hand['time'][0]:,.0f} ({hand['time'][1]:,.0f}) | {grdb['time'][0]:,.0f} ({grdb['time'][1]:,.0f}) "
                  f"| {grdb['time'][0] / hand['time'][0]:.3f} "
                  f"| {hand['cpu'][0]:,.1f} | {grdb['cpu'][0]:,.1f} | {grdb['cpu'][0] / hand['cpu'][0]:.3f} "
                  f"| {hand['mallocs'][0]:,.0f} | {grdb['mallocs'][0]:,.0f} "
                  f"| {grdb['mallocs'][0] / hand['mallocs'][0]:.3f} |", flush=True)

if __name__ == "__main__":
    main()
