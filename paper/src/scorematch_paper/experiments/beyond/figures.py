"""The stage's figure: the first validation image of every problem, clean, observed, and each method's result with
its PSNR."""

from __future__ import annotations

import json
import os
from pathlib import Path

from scorematch.io.atomic import save_figure
from scorematch_paper.experiments.beyond.settings import method_name
from scorematch_paper.experiments.beyond.summaries import ours_and_others

#: Side of the central part of each picture shown (so that the noise and the detail stay visible).
SHOWN = 128


def _centre(image, side: int):
    """The central ``side x side`` part of an (H, W[, 3]) array (all of it where smaller)."""
    h, w = image.shape[:2]
    i, j = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return image[i : i + side, j : j + side]


def _panels(out_dir: Path, problem: str, methods: dict) -> list[tuple[Path, str]]:
    """(picture, title) of one problem's row: clean, observed, the others, then ours."""
    ours, others = ours_and_others(problem, list(methods))
    folder = out_dir / "pictures" / problem
    panels = [(folder / "clean.png", "clean"), (folder / "observed.png", "observed")]
    for m in [*others, *ours]:
        name = method_name(m).replace("`", "")
        panels.append((folder / f"{m}.png", f"{name}\n{methods[m]['psnr'][0]:.2f} dB"))
    return [(p, t) for p, t in panels if p.is_file()]


def plot(out_dir: str | os.PathLike) -> list[Path]:
    """Draw ``beyond.png`` from ``beyond.json`` and the pictures the units saved (their central :data:`SHOWN`
    pixels; the PSNRs are of the whole crop)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    problems = json.loads((out_dir / "beyond.json").read_text())["problems"]
    rows = [(p, _panels(out_dir, p, m)) for p, m in problems.items()]
    rows = [(p, panels) for p, panels in rows if panels]
    cols = max(len(panels) for _, panels in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(2.1 * cols, 2.3 * len(rows)), squeeze=False)
    for r, (problem, panels) in enumerate(rows):
        for c, ax in enumerate(axes[r]):
            ax.axis("off")
            if c < len(panels):
                image = _centre(mpimg.imread(panels[c][0]), SHOWN)
                ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                ax.set_title(panels[c][1], fontsize=7)
        axes[r][0].text(-0.08, 0.5, problem.replace("_", " "), transform=axes[r][0].transAxes, rotation=90,
                        va="center", ha="right", fontsize=8)
    fig.tight_layout()
    return [save_figure(fig, out_dir / "beyond.png")]
