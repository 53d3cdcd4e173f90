"""The shoot-out's figure: validation PSNR against the CPU minutes of training, per estimator and noise level."""

from __future__ import annotations

import os
from pathlib import Path

from scorematch.io.atomic import save_figure
from scorematch_paper.experiments.shootout.settings import LEVELS
from scorematch_paper.experiments.shootout.summaries import summary

#: Points more than this many dB under the lowest bundled prior are drawn at that floor, marked and labelled with
#: their value, so that a diverged run does not flatten the panel.
FLOOR_DB = 6.0


def plot(out_dir: str | os.PathLike) -> list[Path]:
    """Draw ``shootout.png`` from ``shootout.json``: one panel per level, a line per estimator, the bundled priors
    as horizontal lines; a point under the floor (:data:`FLOOR_DB`) drawn at it as a down-pointing mark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    out_dir = Path(out_dir)
    table = summary(out_dir)
    fig, axes = plt.subplots(1, len(LEVELS), figsize=(5 * len(LEVELS), 3.6), squeeze=False)
    for ax, lv in zip(axes[0], LEVELS):
        floor = min(p[str(lv)] for p in table["reference"].values()) - FLOOR_DB if table["reference"] else None
        for est in sorted({r["estimator"] for r in table["rows"]}):
            mine = sorted((r for r in table["rows"] if r["estimator"] == est), key=lambda r: r["cpu_minutes"])
            x, y = [r["cpu_minutes"] for r in mine], [r["heldout_psnr"][str(lv)] for r in mine]
            shown = y if floor is None else [max(v, floor) for v in y]
            line = ax.plot(x, shown, "o-", label=est)[0]
            for xi, yi in zip(x, y):
                if floor is not None and yi < floor:
                    ax.plot(xi, floor, "v", color=line.get_color(), ms=10)
                    ax.annotate(f"{yi:.1f} dB", (xi, floor), textcoords="offset points", xytext=(0, 8),
                                ha="center", fontsize=7, color=line.get_color())
        for (name, psnrs), ls in zip(sorted(table["reference"].items()), ("--", ":")):
            ax.axhline(psnrs[str(lv)], color="k", ls=ls, lw=1, label=f"bundled {name}")
        if all(r["cpu_minutes"] > 0 for r in table["rows"]):  # (a smoke test's rows may round to 0)
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xticks(sorted({r["minutes"] for r in table["rows"]}))
        ax.set(xlabel="CPU minutes of training", ylabel="validation PSNR (dB)", title=f"noise {lv}/256")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return [save_figure(fig, out_dir / "shootout.png", dpi=120)]
