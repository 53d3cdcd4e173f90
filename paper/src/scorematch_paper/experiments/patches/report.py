"""The patch experiment's section of the reproduction report."""

from __future__ import annotations

import os
from pathlib import Path

from scorematch_paper.experiments.patches.conditions import SELECTION_GROUP
from scorematch_paper.experiments.patches.summaries import summary


def report(out_dir: str | os.PathLike) -> str:
    """Markdown section: the Figure 2d table and figures, and the CD-1 FoE filters (paths relative to the
    report's folder, the parent of ``out_dir``)."""
    out_dir = Path(out_dir)
    rel = out_dir.name
    table = summary(out_dir)
    lams = sorted({float(k) for c in table.values() for k in c["ll"]})
    lines = [
        "Square PoE (D = M = 64 for 8x8 patches, alpha = 1, c = e^1.5) fit by regularized score matching; exact "
        "log-likelihood of 10,000 random patches of held-out images, [0, 1] scale, nats per patch. ML: the same "
        "model fit by maximum likelihood; Gaussian: full-covariance Gaussian fit to the training patches. "
        "Each condition changes one thing against `baseline` (Train400 8-bit PNGs, 8x8, free filters, "
        "ZCA-initialized, 5,000 training patches, 30 L-BFGS steps). `selected_by_objective`: per lambda, the fit "
        "of " + "/".join(SELECTION_GROUP) + " with the lowest training objective (the regularized-SM estimate).",
        "",
        "| condition | " + " | ".join(f"{lam:g}" for lam in lams) + " | best lambda | ML | Gaussian |",
        "|---|" + "---|" * (len(lams) + 3),
    ]
    for name, c in table.items():
        cells = [f"{c['ll'][f'{lam:g}']:.1f}" if f"{lam:g}" in c["ll"] else "" for lam in lams]
        ml = f"{c['ml_ll']:.1f}" if "ml_ll" in c else ""
        gauss = f"{c['gaussian_ll']:.1f}" if "gaussian_ll" in c else ""
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {c.get('best_lambda')} | {ml} | {gauss} |")
    lines.append("")
    for fig, caption in (
        ("fig2d_loglik_vs_lambda.png", "Figure 2d: held-out log-likelihood vs lambda"),
        ("fig2d_training_length.png", "held-out log-likelihood along training (baseline)"),
        ("fig2d_filters_baseline_lambda0.png", "baseline filters, lambda = 0"),
        ("fig2d_filters_baseline_best.png", "filters at the best lambda of the selected curve"),
        ("cd_foe/fig2i_cd_foe_filters.png", "Figure 2i: CD-1 FoE 5x5x24 filters (whitened domain)"),
        ("cd_foe/fig2i_cd_foe_filters_raw.png", "CD-1 FoE filters composed with the whitening"),
    ):
        if (out_dir / fig).is_file():
            lines += [f"![{caption}]({rel}/{fig})", ""]
    lines.append("No pretrained Basis Rotation (Weiss & Freeman 15x15x25) model is public; the paper's column for it "
                 "cannot be reproduced here.")
    return "\n".join(lines) + "\n"
