"""The shoot-out's figure: held-out PSNR against the CPU minutes of training, per estimator and noise level."""

from __future__ import annotations

import os
from pathlib import Path

from ...io.atomic import save_figure
from .settings import LEVELS
from .summaries import summary


def plot(out_dir: str | os.PathLike) -> list[Path]:
    """Draw ``shootout.png`` from ``shootout.json``: one panel per level, a line per estimator, the bundled priors
    as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    table = summary(out_dir)
    fig, axes = plt.subplots(1, len(LEVELS), figsize=(5 * len(LEVELS), 3.6), squeeze=False)
    for ax, lv in zip(axes[0], LEVELS):
        for est in sorted({r["estimator"] for r in table["rows"]}):
            mine = sorted((r for r in table["rows"] if r["estimator"] == est), key=lambda r: r["cpu_minutes"])
            ax.plot([r["cpu_minutes"] for r in mine], [r["heldout_psnr"][str(lv)] for r in mine], "o-", label=est)
        for (name, psnrs), ls in zip(sorted(table["reference"].items()), ("--", ":")):
            ax.axhline(psnrs[str(lv)], color="k", ls=ls, lw=1, label=f"bundled {name}")
        log = all(r["cpu_minutes"] > 0 for r in table["rows"])  # (a smoke test's rows may round to 0)
        ax.set(xscale="log" if log else "linear", xlabel="CPU minutes of training", ylabel="held-out PSNR (dB)",
               title=f"noise {lv}/256")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return [save_figure(fig, out_dir / "shootout.png", dpi=120)]
