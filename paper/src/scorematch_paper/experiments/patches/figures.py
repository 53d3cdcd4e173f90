"""Figure 2d, the training-length curves and the baseline's filters, drawn from the result files."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from scorematch.io.atomic import save_figure
from scorematch.serialization import load
from scorematch_paper.experiments.filter_grid import save_filter_grid
from scorematch_paper.experiments.patches.conditions import PAPER_BEST_LAM, SELECTION_GROUP, Condition
from scorematch_paper.experiments.patches.summaries import load_runs, load_stats, run_name, selected_by_objective


def plot(out_dir: str | os.PathLike) -> list[Path]:
    """Draw Figure 2d (held-out log-likelihood vs lambda, one line per condition), the training-length
    curves and the filters of the baseline at lambda = 0 and at its best lambda, from the result files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    runs = load_runs(out_dir)
    if not runs:
        raise FileNotFoundError(f"no results in {out_dir / 'runs'}; run the experiment first")
    by_cond: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by_cond.setdefault(r["condition"], []).append(r)
    paths = [save_figure(_plot_loglik(plt, out_dir, runs, by_cond), out_dir / "fig2d_loglik_vs_lambda.png")]
    base = sorted(by_cond.get("baseline", []), key=lambda r: r["lambda"])
    if base and base[0].get("curve"):
        fig = _plot_training_length(plt, base, sorted(by_cond.get("long_lbfgs", []), key=lambda r: r["lambda"]))
        paths.append(save_figure(fig, out_dir / "fig2d_training_length.png"))
        paths += _plot_filters(out_dir, runs, base)
    return paths


def _plot_loglik(plt: Any, out_dir: Path, runs: list[dict[str, Any]], by_cond: dict[str, list[dict[str, Any]]]) -> Any:
    """Figure 2d: held-out log-likelihood vs lambda per condition, raw and dequantized test patches, with the
    Gaussian fit, the maximum-likelihood PoE and the fits selected by their training objective."""
    ml = {r["condition"]: r for r in load_runs(out_dir, "ml")}
    stats = load_stats(out_dir)
    lams = sorted({r["lambda"] for r in runs})
    floor = min(l for l in lams if l > 0) / 10 if any(l > 0 for l in lams) else 1e-8

    def xs(rs):
        return [r["lambda"] if r["lambda"] > 0 else floor for r in rs]

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for (name, rs), color in zip(sorted(by_cond.items()), plt.cm.tab10.colors):
        rs = sorted(rs, key=lambda r: r["lambda"])
        gauss = stats.get(name)
        for ax, key in zip(axes, ("ll", "ll_dequantized")):
            ax.errorbar(xs(rs), [r[key] for r in rs], yerr=[r[key + "_sem"] for r in rs], marker="o", ms=3,
                        color=color, label=name)
            if gauss is not None:
                ax.axhline(gauss["gaussian_ll" + ("" if key == "ll" else "_dequantized")], color=color, ls=":",
                           lw=0.8)
            if name in ml:
                ax.axhline(ml[name][key], color=color, ls="--", lw=0.8)
    for ax, title in zip(axes, ("raw 8-bit test patches", "dequantized test patches (+U(-1/2, 1/2)/255)")):
        ax.axvline(PAPER_BEST_LAM, color="0.4", ls="-.", lw=1)  # the paper's reported optimum
        ax.set_xscale("log")
        ax.set_xlabel(f"lambda (lambda = 0 drawn at {floor:g}; dash-dot: the paper's optimum {PAPER_BEST_LAM:g})")
        ax.set_ylabel("held-out log-likelihood (nats per patch)")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    sel = selected_by_objective(runs)
    if sel:
        for ax, key in zip(axes, ("ll", "ll_dequantized")):
            ax.plot(xs(sel), [r[key] for r in sel], color="black", lw=4, alpha=0.3, marker="s", ms=7, zorder=0,
                    label="8-bit Train400: lowest training objective of " + "/".join(SELECTION_GROUP))
    for ax in axes:
        finite = [r[k] for r in runs for k in ("ll", "ll_dequantized") if r[k] == r[k]]
        if finite:  # keep the informative range visible; collapsed fits fall off the bottom
            top = max(finite + [s.get("gaussian_ll", -math.inf) for s in stats.values()])
            ax.set_ylim(max(min(finite), top - 400), top + 20)
    axes[0].legend(fontsize=6)
    fig.suptitle("Figure 2d: square PoE on natural-image patches, [0, 1] scale (dotted: Gaussian fit; dashed: same "
                 "PoE fit by maximum likelihood)", fontsize=9)
    fig.tight_layout()
    return fig


def _plot_training_length(plt: Any, base: list[dict[str, Any]], long: list[dict[str, Any]]) -> Any:
    """The baseline's held-out log-likelihood along training (and the longer L-BFGS runs, dashed)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    small = [r for r in base if r["lambda"] <= 1e-5]  # larger lambdas collapse from this start (see table)
    for r, color in zip(small, plt.cm.viridis([i / max(1, len(small) - 1) for i in range(len(small))])):
        c = r["curve"]
        ax.plot([p["step"] for p in c], [p["ll"] for p in c], color=color, label=f"lambda={r['lambda']:g}")
        twin = next((q for q in long if q["lambda"] == r["lambda"]), None)
        if twin is not None:
            ax.plot([p["step"] for p in twin["curve"]], [p["ll"] for p in twin["curve"]], color=color, ls="--",
                    label=f"lambda={r['lambda']:g}, {twin['settings']['steps']} steps")
    ax.set_xlabel("optimizer step (L-BFGS: 20 iterations each)" if base[0]["settings"]["optimizer"] == "lbfgs"
                  else "optimizer step")
    ax.set_ylabel("held-out log-likelihood (nats per patch)")
    ax.set_title("baseline: held-out log-likelihood along training", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _plot_filters(out_dir: Path, runs: list[dict[str, Any]], base: list[dict[str, Any]]) -> list[Path]:
    """The baseline's filters at lambda = 0 and at the best lambda of the selected fits, sorted by norm."""
    sel = [r for r in selected_by_objective(runs) if r["ll"] == r["ll"]] or [r for r in base if r["ll"] == r["ll"]]
    best = max(sel, key=lambda r: r["ll"]) if sel else None
    paths = []
    for r, tag in ((base[0], "lambda0"), (best, "best")):
        if r is None:
            continue
        model_file = (out_dir / "runs" / run_name(Condition(**r["settings"]), r["lambda"], r["seed"])).with_suffix(
            ".safetensors")
        if model_file.is_file():
            w = load(model_file).filters.detach()
            order = torch.argsort(w.norm(dim=1), descending=True)
            paths.append(save_filter_grid(
                w[order], out_dir / f"fig2d_filters_baseline_{tag}.png", ncols=8,
                title=f"{r['condition']} PoE filters, lambda={r['lambda']:g} (sorted by norm; "
                      f"norms {float(w.norm(dim=1).min()):.3g}..{float(w.norm(dim=1).max()):.3g})"))
    return paths


