"""The shoot-out's section of the reproduction report."""

from __future__ import annotations

import os
from pathlib import Path

from scorematch_paper.experiments.shootout.settings import LEVELS
from scorematch_paper.experiments.shootout.summaries import summary


def report(out_dir: str | os.PathLike) -> str:
    """The table (one row per estimator and budget, with the CPU minutes it really took) and the figure."""
    out_dir = Path(out_dir)
    t = summary(out_dir)
    c = t["config"]
    n = "all 41" if c["heldout_limit"] is None else f"the first {c['heldout_limit']}"
    crop = "whole" if c["heldout_crop"] is None else f"{c['heldout_crop']}x{c['heldout_crop']} crops"
    lines = [
        f"The same noise-conditional `DeepEnergy` ({c['channels']} channels, depth {c['depth']}, "
        f"{c['kernel_size']}x{c['kernel_size']}) trained by each estimator across noise levels on {c['patch']}x"
        f"{c['patch']} Train400 patches (batch {c['batch']}, Adam {c['lr']:g}, cosine), for the same CPU budget "
        f"({t['threads']} torch threads): steps = budget / the estimator's step time, measured by a "
        f"{c['calibration_steps']}-step run first; 'CPU minutes' is what the run really took. Validation PSNR: "
        f"Tweedie's estimate on {n} validation images ({crop}; choices were made after looking at them: "
        "`docs/evaluation.md`), one noise draw per image "
        "and level. The bundled `deep_energy` (Tweedie) and `foe_5x5x24` (MAP) on the same images are the reference. "
        "Every estimator but DSM sees the noisy patches and fits their score; `sm-curvature` (the Becker-LeCun "
        "curvature rule, exact for one layer only) and `sm-hutchinson` (one Rademacher probe) are score matching "
        "without the curvature penalty (lambda = 0), since the noise already smooths the density they fit.",
        "",
        "| estimator | budget (min) | steps | CPU minutes | " + " | ".join(f"PSNR {lv}/256" for lv in LEVELS) + " |",
        "|---|---|---|---|" + "---|" * len(LEVELS),
    ]
    for r in t["rows"]:
        lines.append(f"| {r['estimator']} | {r['minutes']:g} | {r['steps']} | {r['cpu_minutes']:.2f} | "
                     + " | ".join(f"{r['heldout_psnr'][str(lv)]:.2f}" for lv in LEVELS) + " |")
    for name, psnrs in sorted(t["reference"].items()):
        lines.append(f"| bundled {name} | | | | " + " | ".join(f"{psnrs[str(lv)]:.2f}" for lv in LEVELS) + " |")
    figure = out_dir / "shootout.png"
    lines += ["", f"![estimator shoot-out]({out_dir.name}/shootout.png)" if figure.is_file()
              else "*shoot-out figure: not drawn in this run.*"]
    return "\n".join(lines)
