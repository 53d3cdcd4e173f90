"""Figure 2a-c and the training curves of the MNIST experiment, drawn from its result files."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from scorematch.energies import ProductOfExperts
from scorematch.io.atomic import save_figure
from scorematch.io.tiles import tile
from scorematch.serialization import load
from scorematch_paper.experiments.mnist.config import LABELS, PAPER_BEST_LAM, PARAMETERIZATIONS
from scorematch_paper.experiments.mnist.model import model_name
from scorematch_paper.experiments.mnist.summaries import classification_rows, loglik_rows, long_rows


def _read_csv(path: Path) -> list[dict[str, Any]]:
    def conv(v: str) -> Any:
        try:
            return float(v)
        except ValueError:
            return v

    with open(path, newline="") as f:
        return [{k: conv(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _lam_axis(lams: np.ndarray) -> tuple[np.ndarray, float]:
    """Positions on a log axis, with lambda = 0 drawn one decade left of the smallest positive lambda."""
    pos = lams[lams > 0]
    zero_at = (pos.min() / 10.0) if pos.size else 1e-4
    return np.where(lams > 0, lams, zero_at), zero_at


def _set_lam_ticks(ax: Any, zero_at: float, lams: np.ndarray) -> None:
    ax.axvline(PAPER_BEST_LAM, color="0.5", ls="--", lw=1, label=f"paper's optimum ({PAPER_BEST_LAM:g})")
    ax.set_xscale("log")
    ticks = [zero_at] + [10.0**k for k in range(-6, 2) if lams[lams > 0].min() <= 10.0**k <= lams.max()]
    ax.set_xticks(ticks)
    ax.set_xticklabels(["0"] + [f"1e{int(round(math.log10(t)))}" for t in ticks[1:]])
    ax.set_xlabel("lambda")


_COLORS = {"free": "C0", "unit": "C1"}


def _filter_grid(w: np.ndarray, n: int = 36, side: int = 14) -> np.ndarray:
    """The first ``n`` filters (rows of ``w``, each scaled to [-1, 1] by its own max |w|) tiled into one image."""
    f = w[:n].reshape(-1, side, side)
    f = f / np.maximum(np.abs(f).max(axis=(1, 2), keepdims=True), 1e-12)
    return tile(f, ncols=math.ceil(math.sqrt(n)))


def plot(out_dir: Path) -> list[Path]:
    """Draw the figures from the result files (no training): Figure 2a-c and the training curves.

    Returns
    -------
    list of Path
        The PNG files written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    ll = loglik_rows(out_dir)
    params = [p for p in PARAMETERIZATIONS if any(r["parameterization"] == p for r in ll)]
    written = []
    for name, draw in (("loglik", _plot_loglik), ("classification", _plot_classification),
                       ("filters", _plot_filters), ("training", _plot_training)):
        fig = draw(plt, out_dir, params)
        written.append(save_figure(fig, out_dir / f"{name}.png", dpi=120))
    return written


def _plot_loglik(plt: Any, out_dir: Path, params: list[str]) -> Any:
    """(b) log-likelihood vs lambda, one panel per parameterization."""
    ll = loglik_rows(out_dir)
    fig, axes = plt.subplots(1, len(params), figsize=(5.2 * len(params), 4), squeeze=False)
    for ax, param in zip(axes[0], params):
        rows = sorted((r for r in ll if r["parameterization"] == param), key=lambda r: r["lam"])
        lams = np.array([r["lam"] for r in rows])
        xs, zero_at = _lam_axis(lams)
        ax.plot(xs, [r["train_loglik"] for r in rows], "o-", label="train")
        ax.plot(xs, [r["test_loglik"] for r in rows], "s--", label="test")
        long = sorted(long_rows(out_dir), key=lambda r: r["lam"]) if param == "free" else []
        if long:
            ax.plot([r["lam"] if r["lam"] > 0 else zero_at for r in long], [r["test_loglik"] for r in long], "^:",
                    color="C3", label=f"test, {long[0]['steps']:.0f} steps")
        _set_lam_ticks(ax, zero_at, lams)
        ax.set_ylabel("average log-likelihood (nats / image)")
        ax.set_title(f"(b) {LABELS[param]}")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def _plot_classification(plt: Any, out_dir: Path, params: list[str]) -> Any:
    """(c) classification error vs lambda, with the raw-pixel baseline."""
    clf = classification_rows(out_dir)
    fig, ax = plt.subplots(figsize=(6, 4))
    raw = next(r for r in clf if r["features"] == "raw")
    all_lams = np.array(sorted({r["lam"] for r in clf if r["features"] != "raw"}))
    _, zero_at = _lam_axis(all_lams)
    for param in params:
        rows = sorted((r for r in clf if r["features"] == param), key=lambda r: r["lam"])
        lams = np.array([r["lam"] for r in rows])
        xs = np.where(lams > 0, lams, zero_at)
        ax.errorbar(xs, [100 * r["error_mean"] for r in rows], yerr=[100 * r["error_std"] for r in rows],
                    fmt="o-", capsize=3, color=_COLORS[param], label=f"PoE features, {LABELS[param]}")
        long = sorted(long_rows(out_dir), key=lambda r: r["lam"]) if param == "free" else []
        if long:
            ax.errorbar([r["lam"] if r["lam"] > 0 else zero_at for r in long], [100 * r["error_mean"] for r in long],
                        yerr=[100 * r["error_std"] for r in long], fmt="^:", capsize=3, color="C3",
                        label=f"free filters, {long[0]['steps']:.0f} steps")
    ax.axhline(100 * raw["error_mean"], color="k", ls=":", label=f"raw pixels ({100 * raw['error_mean']:.1f}%)")
    _set_lam_ticks(ax, zero_at, all_lams)
    ax.set_ylabel("test error (%)")
    ax.set_ylim(bottom=0)
    ax.set_title("(c) logistic regression, 100 digits per class")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _plot_filters(plt: Any, out_dir: Path, params: list[str]) -> Any:
    """(a) digits and the filters of the unregularized and the lambda = 0.01 models."""
    panels: list[tuple[str, np.ndarray]] = []
    digits_file = out_dir / "digits.json"
    if digits_file.exists():
        d = np.array(json.loads(digits_file.read_text())["digits"])
        panels.append(("MNIST 14x14 test digits", _filter_grid(d * 2 - 1, n=16)))
    lams_avail = sorted({r["lam"] for r in loglik_rows(out_dir)})
    reg_lam = min((lam for lam in lams_avail if lam > 0), key=lambda lam: abs(math.log(lam / 1e-2)), default=None)
    for param in params:
        for lam, what in ((0.0, "unregularized"), (reg_lam, f"lambda = {reg_lam:g}")):
            path = out_dir / "models" / f"{model_name(param, lam)}.safetensors" if lam is not None else None
            if path is not None and path.exists():
                w = load(path, expect=ProductOfExperts).filters.detach().double().numpy()
                panels.append((f"{LABELS[param]}, {what}", _filter_grid(w)))
    ncols = min(3, len(panels))
    nrows = int(math.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 4.4 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, img) in zip(axes.flat, panels):
        ax.imshow(img, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=10)
    fig.suptitle("(a) filters (first 36 of 196, each scaled to its own max |w|; gray = 0)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97), h_pad=2.0)
    return fig


def _plot_training(plt: Any, out_dir: Path, params: list[str]) -> Any:
    """Training curves: loss and test log-likelihood vs step, one column per parameterization (and the long runs)."""
    ll = loglik_rows(out_dir)
    columns = [(p, sorted(r["lam"] for r in ll if r["parameterization"] == p), False) for p in params]
    long_lams = sorted(r["lam"] for r in long_rows(out_dir))
    if long_lams:
        columns.append(("free", long_lams, True))
    fig, axes = plt.subplots(2, len(columns), figsize=(5.5 * len(columns), 7), squeeze=False)
    for j, (param, lams, is_long) in enumerate(columns):
        cmap = plt.get_cmap("viridis")
        label = LABELS[param] + (", long" if is_long else "")
        for k, lam in enumerate(lams):
            f = out_dir / "training" / f"{model_name(param, lam, long=is_long)}.csv"
            if not f.exists():
                continue
            hist = _read_csv(f)
            color = cmap(k / max(len(lams) - 1, 1))
            steps = [h["step"] for h in hist if not math.isnan(h["loss"])]
            losses = [h["loss"] for h in hist if not math.isnan(h["loss"])]
            axes[0, j].plot(steps, losses, color=color, label=f"{lam:g}")
            axes[1, j].plot([h["step"] for h in hist], [h["test_loglik"] for h in hist], color=color)
        axes[0, j].set_yscale("symlog", linthresh=100)
        axes[0, j].set_title(f"SM loss, {label}")
        axes[0, j].set_xlabel("step")
        axes[0, j].legend(title="lambda", fontsize=6, ncol=2)
        axes[1, j].set_title(f"test log-likelihood, {label}")
        axes[1, j].set_xlabel("step")
        axes[1, j].set_ylabel("nats / image")
        finite = [r["test_loglik"] for r in ll if r["parameterization"] == param]
        finite += [r["test_loglik"] for r in long_rows(out_dir)] if is_long else []
        lo, hi = min(finite), max(finite)
        axes[1, j].set_ylim(lo - 0.3 * (hi - lo) - 10, hi + 0.1 * (hi - lo) + 10)
        for ax in axes[:, j]:
            ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
