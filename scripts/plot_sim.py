#!/usr/bin/env python3
"""Turn the CSV output of `loopix simulate ...` into PNG plots.

Usage: python3 scripts/plot_sim.py [DIR]   (default: results/sim)

Plots whatever CSV files are present in DIR:
  fig5_entropy.csv / entropy.csv       -> fig5_entropy.png   (entropy vs lambda, one curve per mu)
  fig5_loops.csv                       -> fig5_loops.png     (entropy and link probability vs lambda_M)
  fig5_n_minus_one.csv / n_minus_one.csv -> fig5_n_minus_one.png ((n-1) attack, simulation vs Theorem 2)
  fig6_eps_mu.csv                      -> fig6_eps_mu.png    (epsilon vs mu)
  fig7_eps_layers.csv                  -> fig7_eps_layers.png
  fig8_eps_corrupt.csv                 -> fig8_eps_corrupt.png
  unlinkability.csv                    -> unlinkability.png  (epsilon vs whichever parameter varies)
  advise_tradeoff.csv                  -> advise_tradeoff.png
Needs matplotlib (pip install matplotlib).
"""
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in r.items():
            try:
                r[k] = float(v)
            except (TypeError, ValueError):
                pass
    return rows


def save(fig, out, name):
    path = os.path.join(out, name)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print("wrote", path)


def plot_entropy(rows, out, name):
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    mus = sorted({r["mu"] for r in rows if r["loop_rate"] == 0}, reverse=True)
    for mu in mus:
        pts = sorted((r for r in rows if r["mu"] == mu and r["loop_rate"] == 0), key=lambda r: r["lambda"])
        ax.errorbar([r["lambda"] for r in pts], [r["entropy_mean_bits"] for r in pts],
                    yerr=[r["entropy_sd_bits"] for r in pts], marker="o", ms=3, capsize=2,
                    label=f"mu = {mu:g} (mean delay {1 / mu:g})")
        ax.plot([r["lambda"] for r in pts], [r["large_pool_approx_bits"] for r in pts], ls=":", color="grey", lw=0.8)
    ax.set_xlabel("rate of incoming traffic lambda")
    ax.set_ylabel("entropy of an outgoing message (bits)")
    ax.set_title("Single Poisson mix (paper Figure 5); dotted: log2(lambda/mu) + log2 e")
    ax.title.set_fontsize(9)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, out, name)


def plot_loops(rows, out):
    rows = sorted(rows, key=lambda r: r["loop_rate"])
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    x = [max(r["loop_rate"], 0.5) for r in rows]
    ax.plot(x, [r["anonymity_set"] for r in rows], marker="o", label="1 / link probability (real outputs)")
    ax.plot(x, [2 ** r["entropy_mean_bits"] for r in rows], marker="s", label="2^entropy (all outputs, 'loop' one outcome)")
    ax.set_xscale("log")
    ax.set_xlabel("mix loop rate lambda_M (0 drawn at 0.5)")
    ax.set_ylabel("effective anonymity set")
    lam, mu = rows[0]["lambda"], rows[0]["mu"]
    ax.set_title(f"Mix loops (Theorem 2), lambda = {lam:g}, mu = {mu:g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, out, "fig5_loops.png")


def plot_n_minus_one(rows, out, name):
    rows = sorted(rows, key=lambda r: r["loop_rate"])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.6, 4))
    x = [r["loop_rate"] / r["mu"] for r in rows]
    a1.errorbar(x, [r["p_first_sim"] for r in rows], yerr=[2 * r["p_first_se"] for r in rows], fmt="o",
                label="simulated (±2 s.e.)")
    a1.plot(x, [r["p_first_theory"] for r in rows], "-", label="mu / (mu + lambda_M)")
    a1.set_xscale("log")
    a1.set_xlabel("lambda_M / mu")
    a1.set_ylabel("Pr[first output is the target]")
    a1.grid(alpha=0.3)
    a1.legend(fontsize=8)
    a2.plot(x, [r["position_entropy_sim_bits"] for r in rows], "o", label="simulated, output order")
    a2.plot(x, [r["position_entropy_theory_bits"] for r in rows], "-", label="h2(p)/p")
    a2.plot(x, [r["timing_entropy_sim_bits"] for r in rows], "s", label="simulated, with output times")
    a2.set_xscale("log")
    a2.set_xlabel("lambda_M / mu")
    a2.set_ylabel("entropy of the target's output (bits)")
    a2.grid(alpha=0.3)
    a2.legend(fontsize=8)
    fig.suptitle("(n-1) attack against a mix with loops (Theorem 2)", fontsize=10)
    save(fig, out, name)


def eps_plot(rows, out, name, xkey, xlabel, title, xfmt=None):
    rows = sorted(rows, key=lambda r: r[xkey])
    x = [xfmt(r[xkey]) if xfmt else r[xkey] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.errorbar(x, [r["eps_mean"] for r in rows], yerr=[r["eps_sd"] for r in rows], marker="o", ms=4,
                capsize=3, label="mean ± sd over repetitions")
    med = [r["eps_median"] if isinstance(r["eps_median"], float) and math.isfinite(r["eps_median"]) else float("nan")
           for r in rows]
    ax.plot(x, med, ls="--", marker="x", ms=4, color="grey", label="median")
    inf = [r["infinite"] for r in rows]
    for xi, r, n in zip(x, rows, inf):
        if n > 0:
            ax.annotate(f"{int(n)} inf", (xi, min(r["eps_mean"] + r["eps_sd"], r["eps_cap"])), fontsize=7,
                        ha="center", va="bottom")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("likelihood difference epsilon = |ln(p0/p1)|")
    cap = rows[0]["eps_cap"]
    ax.set_title(f"{title}\n({int(rows[0]['reps'])} repetitions; values capped at {cap:g} before averaging)", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, out, name)


def plot_unlinkability(rows, out):
    for key, label in (("rate", "per-sender rate lambda"), ("mu", "delay parameter mu"), ("layers", "number of layers"),
                       ("corrupt_fraction", "fraction of corrupt mixes")):
        if len({r[key] for r in rows}) > 1:
            eps_plot(rows, out, "unlinkability.png", key, label, "Unlinkability epsilon")
            return
    print("unlinkability.csv: no varying parameter to plot")


def plot_advisor(rows, out):
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.2))
    mus = sorted({r["mu"] for r in rows})
    have_eps = any(isinstance(r["eps_mean"], float) and math.isfinite(r["eps_mean"]) for r in rows)
    for mu in mus:
        pts = sorted((r for r in rows if r["mu"] == mu), key=lambda r: r["user_rate"])
        lab = f"mu = {mu:.3g} (q-latency {pts[0]['quantile_latency']:.3g})"
        a1.plot([r["user_rate"] for r in pts], [r["entropy_bits"] for r in pts], marker="o", ms=3, label=lab)
        if have_eps:
            a2.plot([r["user_rate"] for r in pts], [r["eps_mean"] for r in pts], marker="o", ms=3, label=lab)
    for a in (a1, a2):
        a.set_xscale("log")
        a.set_xlabel("per-user total sending rate (payload + cover)")
        a.grid(alpha=0.3)
    try:
        import json
        with open(os.path.join(out, "advise.json")) as f:
            inp = json.load(f)["input"]
        if inp.get("targetEntropyBits") is not None:
            a1.axhline(inp["targetEntropyBits"], ls="--", color="black", lw=0.8)
        if have_eps and inp.get("targetEpsilon") is not None:
            a2.axhline(inp["targetEpsilon"], ls="--", color="black", lw=0.8)
    except (OSError, KeyError, ValueError):
        pass
    a1.set_ylabel("per-mix entropy (bits)")
    a2.set_ylabel("epsilon (mean)")
    a1.legend(fontsize=7)
    if have_eps:
        a2.legend(fontsize=7)
    else:
        a2.set_title("epsilon not computed (no --target-epsilon)", fontsize=9)
    fig.suptitle("Advisor trade-off: latency (mu) x bandwidth (rate) x anonymity; dashed: target", fontsize=10)
    save(fig, out, "advise_tradeoff.png")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "results/sim"
    if not os.path.isdir(out):
        sys.exit(f"no such directory: {out}")
    path = lambda n: os.path.join(out, n)  # noqa: E731
    done = 0
    for csv_name, png in (("fig5_entropy.csv", "fig5_entropy.png"), ("entropy.csv", "entropy.png")):
        if os.path.exists(path(csv_name)):
            plot_entropy(read(path(csv_name)), out, png)
            done += 1
    if os.path.exists(path("fig5_loops.csv")):
        plot_loops(read(path("fig5_loops.csv")), out)
        done += 1
    for csv_name, png in (("fig5_n_minus_one.csv", "fig5_n_minus_one.png"), ("n_minus_one.csv", "n_minus_one.png")):
        if os.path.exists(path(csv_name)):
            plot_n_minus_one(read(path(csv_name)), out, png)
            done += 1
    figs = (
        ("fig6_eps_mu.csv", "fig6_eps_mu.png", "mu", "delay parameter mu (lambda = 2)",
         "Figure 6: epsilon vs mu (3 layers x 3 mixes, no corruption)"),
        ("fig7_eps_layers.csv", "fig7_eps_layers.png", "layers", "number of layers",
         "Figure 7: epsilon vs layers (3 mixes per layer, lambda = 2, mu = 1)"),
        ("fig8_eps_corrupt.csv", "fig8_eps_corrupt.png", "corrupt_fraction", "percentage of corrupt mixes",
         "Figure 8: epsilon vs corrupt mixes (3 x 3, lambda = 2, mu = 1)"),
    )
    for csv_name, png, key, xlabel, title in figs:
        if os.path.exists(path(csv_name)):
            xfmt = (lambda v: 100 * v) if key == "corrupt_fraction" else None
            eps_plot(read(path(csv_name)), out, png, key, xlabel, title, xfmt)
            done += 1
    if os.path.exists(path("unlinkability.csv")):
        plot_unlinkability(read(path("unlinkability.csv")), out)
        done += 1
    if os.path.exists(path("advise_tradeoff.csv")):
        plot_advisor(read(path("advise_tradeoff.csv")), out)
        done += 1
    if done == 0:
        sys.exit(f"no simulation CSV files in {out}")


if __name__ == "__main__":
    main()
