#!/usr/bin/env python3
"""Plots of one `loopix bench` results folder (PNG files beside its CSVs).

Usage: python3 scripts/plot_bench.py results/bench/<subcommand>-<timestamp>/
Needs matplotlib (`scripts/setup.sh --plots` installs it).
"""
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rows(folder, name):
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def save(fig, folder, name):
    fig.tight_layout()
    path = os.path.join(folder, name)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print("plot_bench: wrote", path)


def sphinx(folder, results):
    items = results["items"]
    names = sorted({i["name"] for i in items}, key=lambda n: [i["name"] for i in items].index(n))
    backends = ["sodium", "libcrypto"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.4
    for k, backend in enumerate(backends):
        xs, ys = [], []
        for j, name in enumerate(names):
            for i in items:
                if i["name"] == name and i["backend"] == backend:
                    xs.append(j + (k - 0.5) * width)
                    ys.append(i["opsPerSecond"])
        ax.bar(xs, ys, width=width, label=backend)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=35, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("operations per second, one core")
    ratios = "; ".join("%s %.3f" % (r["name"].replace(" / ", "/"), r["value"]) for r in results["ratios"][:2])
    ax.set_title("Sphinx core per backend (" + ratios + ")", fontsize=9)
    ax.legend()
    save(fig, folder, "sphinx_ops.png")


def node(folder, results):
    data = rows(folder, "throughput.csv")
    sweeps = {}
    for r in data:
        if r["phase"] == "sweep":
            sweeps.setdefault(r["workers"], []).append(r)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for w, rs in sorted(sweeps.items()):
        ax.plot([float(r["offered_achieved"]) for r in rs], [float(r["throughput"]) for r in rs], "o-", label="%s workers" % w)
    top = max((float(r["offered_achieved"]) for r in data), default=1)
    ax.plot([0, top], [0, top], ":", color="grey", label="offered = relayed")
    for s in results["sweeps"]:
        ax.axhline(s["workers"] * results["coreRateBefore"], linestyle="--", linewidth=0.8, color="grey")
    ax.set_xlabel("offered load (packets/s)")
    ax.set_ylabel("relayed (packets/s)")
    ax.set_title("Throughput against offered load (cf. the paper's Fig. 9)\ndashed: workers × single-core lsx_process rate", fontsize=9)
    ax.legend()
    save(fig, folder, "node_throughput.png")

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for w, rs in sorted(sweeps.items()):
        loads = [float(r["load_fraction"]) for r in rs]
        ax.plot(loads, [float(r["latency_p50_ms"]) for r in rs], "o-", label="p50, %s workers" % w)
        ax.plot(loads, [float(r["latency_p99_ms"]) for r in rs], "s--", label="p99, %s workers" % w)
    ax.axhline(0.3, color="green", linewidth=0.8, linestyle=":")
    ax.axhline(2.0, color="red", linewidth=0.8, linestyle=":")
    ax.set_yscale("log")
    ax.set_xlabel("offered load / capacity")
    ax.set_ylabel("per-hop latency at the sink (ms)")
    ax.set_title("Per-hop latency (zero requested delay); targets p50 0.3 ms, p99 2 ms", fontsize=9)
    ax.legend(fontsize=8)
    save(fig, folder, "node_latency.png")

    senders = rows(folder, "senders.csv")
    if senders:
        fig, ax = plt.subplots(figsize=(6, 4.5))
        n = [int(r["senders"]) for r in senders]
        ax.plot(n, [float(r["latency_p50_ms"]) for r in senders], "o-", label="p50")
        ax.plot(n, [float(r["latency_p99_ms"]) for r in senders], "s--", label="p99")
        ax.set_xscale("log")
        ax.set_xlabel("connected senders")
        ax.set_ylabel("per-hop latency (ms)")
        ax.set_title("Latency against connected senders at half capacity (cf. Fig. 10)", fontsize=9)
        ax.legend()
        save(fig, folder, "node_senders.png")

    rss = [r for r in rows(folder, "rss.csv") if r["phase"] == "soak"]
    if rss:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        megabytes = [float(r["rss_mb"]) for r in rss]
        ax.plot([float(r["seconds"]) for r in rss], megabytes)
        # Headroom above the line: a flat series must not sit on the frame, hidden.
        ax.set_ylim(bottom=0, top=max(megabytes) * 1.15)
        ax.set_xlabel("seconds at 1.5 × capacity")
        ax.set_ylabel("node VmRSS (MB)")
        ax.set_title("Resident memory under overload", fontsize=9)
        save(fig, folder, "node_rss.png")


def aqm(folder, results):
    series = rows(folder, "series.csv")
    scenarios = []
    for r in series:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
    picked = [s for s in scenarios if not s.startswith("overload")] or scenarios
    fig, axes = plt.subplots(len(picked), 1, figsize=(8, 2.3 * len(picked)), squeeze=False)
    for ax, name in zip(axes[:, 0], picked):
        for policy in ["pie", "tail-drop", "loopix-original"]:
            rs = [r for r in series if r["scenario"] == name and r["policy"] == policy]
            ax.plot([float(r["time_s"]) for r in rs], [max(float(r["mean_sojourn_ms"]), 1e-3) for r in rs], label=policy, linewidth=0.9)
        ax.set_yscale("log")
        ax.set_ylabel("mean sojourn (ms)")
        ax.set_title(name, fontsize=9)
    axes[0, 0].legend(fontsize=8)
    axes[-1, 0].set_xlabel("seconds")
    save(fig, folder, "aqm_series.png")

    runs = results["runs"]
    names = []
    for r in runs:
        if r["scenario"] not in names:
            names.append(r["scenario"])
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.27
    for k, policy in enumerate(["pie", "tail-drop", "loopix-original"]):
        ys = [next((max(r["sojournMs"]["p99"], 1e-3) for r in runs if r["scenario"] == n and r["policy"] == policy), 0) for n in names]
        ax.bar([j + (k - 1) * width for j in range(len(names))], ys, width=width, label=policy)
    ax.axhline(2 * results["aqm"]["targetDelay"] * 1000, color="red", linewidth=0.8, linestyle=":", label="2 × PIE target")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("p99 sojourn (ms)")
    ax.legend(fontsize=8)
    save(fig, folder, "aqm_p99.png")


def e2e(folder, results):
    hist = rows(folder, "histogram.csv")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    mids = [(float(r["lower_ms"]) + float(r["upper_ms"])) / 2 for r in hist]
    width = float(hist[0]["upper_ms"]) - float(hist[0]["lower_ms"]) if hist else 1
    ax.bar(mids, [int(r["count"]) for r in hist], width=width, alpha=0.5, label="measured loop round trips")
    e = results["expected"]
    ax.plot(mids, [float(r["expected_gamma"]) for r in hist], "--", label="Gamma(%d, %.0f ms)" % (round(e["shape"]), e["scale"] * 1000))
    ax.plot(mids, [float(r["expected_with_pull"]) for r in hist], "-", label="+ pull wait U(0, %.0f ms)" % results["pullIntervalMs"])
    f = results.get("fittedMaximumLikelihood")
    if f:
        ax.plot(mids, [float(r["fitted_gamma"] or 0) for r in hist], ":", label="fit: Gamma(%.2f, %.1f ms)" % (f["shape"], f["scale"] * 1000))
    ax.set_xlabel("loop round trip (ms)")
    ax.set_ylabel("loops per bin")
    ax.set_title("End-to-end latency against the Gamma model (cf. Fig. 11); KS D = %.3f with pull wait" % results["ksAgainstExpectedPlusPull"],
                 fontsize=9)
    ax.legend(fontsize=8)
    save(fig, folder, "e2e_histogram.png")


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip())
        return 2
    folder = sys.argv[1]
    with open(os.path.join(folder, "results.json")) as f:
        record = json.load(f)
    plotter = {"sphinx": sphinx, "node": node, "aqm": aqm, "e2e": e2e}.get(record["bench"])
    if plotter is None:
        print("plot_bench: unknown bench", record["bench"])
        return 1
    plotter(folder, record["results"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
