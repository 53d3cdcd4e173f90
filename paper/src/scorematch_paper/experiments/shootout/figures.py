"""The shoot-out's figures: validation PSNR against the CPU minutes of training (a line per estimator, the band over
seeds), and the training loss of the regularized estimators with and without their penalty."""

from __future__ import annotations

import os
from pathlib import Path

from scorematch.io.atomic import save_figure
from scorematch_paper.experiments.shootout.settings import LEVELS, REGULARIZED
from scorematch_paper.experiments.shootout.summaries import summary

#: Points more than this many dB under the lowest bundled prior are drawn at that floor, so that a run gone wrong
#: does not flatten the panel.
FLOOR_DB = 6.0


def plot(out_dir: str | os.PathLike) -> list[Path]:
    """Draw ``shootout.png`` and ``shootout_loss.png`` from ``shootout.json``."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir = Path(out_dir)
    table = summary(out_dir)
    return [_psnr_figure(table, out_dir / "shootout.png"), _loss_figure(table, out_dir / "shootout_loss.png")]


def _label(g: dict) -> str:
    return g["estimator"] + (f" (lambda {g['lam']:g})" if g["lam"] else "")


def _architectures(table: dict) -> list[str]:
    return [a[0] for a in table["config"]["architectures"] if any(g["architecture"] == a[0] for g in table["groups"])]


def _psnr_figure(table: dict, path: Path) -> Path:
    """One panel per architecture and level: mean Tweedie PSNR over seeds against mean CPU minutes, the band from
    the lowest to the highest seed, the bundled priors as horizontal lines."""
    import matplotlib.pyplot as plt

    archs = _architectures(table) or ["-"]
    fig, axes = plt.subplots(len(archs), len(LEVELS), figsize=(5.5 * len(LEVELS), 3.8 * len(archs)), squeeze=False)
    floor_ref = [p[str(lv)] for p in table["reference"].values() for lv in LEVELS if p[str(lv)] is not None]
    for axrow, arch in zip(axes, archs):
        for ax, lv in zip(axrow, LEVELS):
            floor = min(p[str(lv)] for p in table["reference"].values()) - FLOOR_DB if floor_ref else None
            for g in (g for g in table["groups"] if g["architecture"] == arch):
                curve = [c for c in g["curve"] if c[str(lv)] is not None]
                x = [c["cpu_minutes"] for c in curve]
                clip = (lambda v: v) if floor is None else (lambda v: max(v, floor))
                mean = [clip(c[str(lv)]["mean"]) for c in curve]
                line = ax.plot(x, mean, ".-", label=_label(g))[0]
                ax.fill_between(x, [clip(c[str(lv)]["min"]) for c in curve], [clip(c[str(lv)]["max"]) for c in curve],
                                color=line.get_color(), alpha=0.15, lw=0)
                for d in g["diverged"]:
                    ax.axvline(d["cpu_seconds"] / 60, color=line.get_color(), ls=":", lw=1)
            for (name, psnrs), ls in zip(sorted(table["reference"].items()), ("--", ":")):
                ax.axhline(psnrs[str(lv)], color="k", ls=ls, lw=1, label=f"bundled {name}")
            if floor is not None:
                ax.set_ylim(bottom=floor - 0.2)
            ax.set(xlabel="CPU minutes of training", ylabel="validation PSNR (dB)",
                   title=f"{arch}: Tweedie at noise {lv}/256")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return save_figure(fig, path, dpi=110)


def _loss_figure(table: dict, path: Path) -> Path:
    """The training loss (each seed) of the regularized estimators at lambda = 0 and at their lambda, per
    architecture: does the penalty keep the loss from running away?"""
    import matplotlib.pyplot as plt

    archs = _architectures(table) or ["-"]
    fig, axes = plt.subplots(1, len(archs), figsize=(6 * len(archs), 3.8), squeeze=False)
    for ax, arch in zip(axes[0], archs):
        colours = {}
        for r in (r for r in table["rows"] if r["architecture"] == arch and r["estimator"] in REGULARIZED):
            key = (r["estimator"], r["lam"])
            curve = r["loss_curve"]
            line = ax.plot([c[0] for c in curve], [c[1] for c in curve], lw=1, color=colours.get(key),
                           label=None if key in colours else _label(r))[0]
            colours.setdefault(key, line.get_color())
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set(xlabel="CPU minutes of training", ylabel="training loss (noise units)", title=f"{arch}")
        if colours:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)
