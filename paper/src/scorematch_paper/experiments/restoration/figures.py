"""Figure 2e-g (PSNR vs lambda), 2j/2l (filters) and 2m-q (Lena details), drawn from the result files."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from scorematch.io.atomic import save_figure
from scorematch.serialization import load
from scorematch.tasks import psnr
from scorematch_paper.experiments.restoration.settings import PAPER_BEST_LAMBDA
from scorematch_paper.experiments.restoration.summaries import load_result
from scorematch_paper.experiments.restoration.tuning import best_point


def plot(out_dir: str | os.PathLike) -> list[Path]:
    """Figure 2e-g (PSNR vs lambda), 2j/2l (filters), 2m-q (Lena details) from the result files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scorematch_paper.experiments.filter_grid import save_filter_grid

    out_dir = Path(out_dir)
    made = []
    if (out_dir / "lambda_sweep.json").is_file():
        made.append(_plot_sweep(out_dir, plt))

    for fname, out_name, title in (("rsm_foe_5x5x24", "fig2j_rsm_foe_filters.png", "RSM FoE 5x5x24 filters"),
                                   ("foe_8x8x64", "fig2l_rsm_foe_8x8x64_filters.png", "RSM FoE 8x8x64 filters"),
                                   ("foe_5x5x24_unwhitened", "fig2j_rsm_foe_unwhitened_filters.png",
                                    "RSM FoE 5x5x24 without whitening")):
        path = out_dir / "models" / f"{fname}.safetensors"
        if not path.is_file():
            continue
        prior = load(path)
        with torch.no_grad():
            order = torch.argsort(prior.alpha, descending=True)
            labels = [f"a={prior.alpha[i]:.2g}" for i in order]
            made.append(save_filter_grid(prior.filters[order], out_dir / out_name, labels=labels,
                                         ncols=8, title=title + " (whitened domain), by alpha"))

    if not (out_dir / "lena_details.npz").is_file():
        return made
    det = np.load(out_dir / "lena_details.npz")
    keys = [k for k in ("clean", "noisy", "rsm", "cd1", "rb", "tv") if k in det.files]
    names = {"clean": "original", "noisy": "noisy 5/256", "rsm": "RSM FoE 5x5x24", "cd1": "CD-1 FoE 5x5x24",
             "rb": "Roth-Black 3x3x8", "tv": "TV (scikit-image)"}
    fig, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 2.9))
    for ax, k in zip(axes, keys):
        ax.imshow(np.clip(det[k], 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(names[k] + ("" if k in ("clean",) else f"\n{psnr(torch.from_numpy(np.clip(det[k], 0, 1)), torch.from_numpy(det['clean'])):.2f} dB (crop)"), fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    made.append(save_figure(fig, out_dir / "fig2mq_lena_details.png"))
    return made


def _plot_sweep(out_dir: Path, plt) -> Path:
    sweep = load_result(out_dir, "lambda_sweep.json")
    levels = list(sweep[0]["curves"])
    fig, axes = plt.subplots(1, len(levels), figsize=(4 * len(levels), 3.4))
    axes = np.atleast_1d(axes)
    lams = [r["lam"] for r in sweep]
    xs = [lam if lam > 0 else min(v for v in lams if v > 0) / 10 for lam in lams]
    for ax, lv in zip(axes, levels):
        for label, marker, pick in (("chosen prior weight", "o-", lambda r: str(best_point(r["curves"][lv]))),
                                    ("weight 1", "s--", lambda r: "1.0")):
            draws = [r["draws"][lv].get(pick(r), [math.nan]) for r in sweep]
            ax.errorbar(xs, [np.mean(d) for d in draws], yerr=[np.std(d, ddof=1) if len(d) > 1 else 0 for d in draws],
                        fmt=marker, capsize=2, label=label)
        ax.set_xscale("log")
        if 0.0 in lams:
            ax.axvline(xs[lams.index(0.0)] * 3, color="0.8", lw=0.8)
        ax.axvline(PAPER_BEST_LAMBDA, color="tab:red", ls=":", lw=1.2, label="paper's best lambda")
        ax.set_title(f"sigma = {lv}/256")
        ax.set_xlabel("lambda ([0,1] pixels; leftmost point: lambda = 0)")
        ax.set_ylabel("PSNR (dB), tuning crops (mean ± std, draws)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_dir / "fig2efg_psnr_vs_lambda.png")
