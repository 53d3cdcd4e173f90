"""The stage's section of the reproduction report."""

from __future__ import annotations

import os
from pathlib import Path

from scorematch.prior import DEFAULT_PRIORS
from scorematch_paper.experiments.beyond.settings import (
    GREY_PROBLEMS,
    METHOD_NAMES,
    TABLE2_PROBLEM,
    colour_methods,
    method_name,
)
from scorematch_paper.experiments.beyond.summaries import ours_and_others, summary


def _choice(value) -> str:
    if isinstance(value, list):
        value = [v for v in value if v is not None]
        return ", ".join(f"{v:g}" for v in value) if value else "-"
    return "-" if value is None else f"{value:g}"


def _grey_table(t: dict) -> list[str]:
    priors = t["config"]["priors"]
    head = ["problem", "anchor"] + [h for p in priors for h in (f"`{p}`", "minus anchor", "choice")]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for problem, (title, anchor) in GREY_PROBLEMS.items():
        e = t["problems"].get(problem)
        if e is None:
            continue
        diffs = {c["ours"]: c["reads"] for c in e["comparisons"]}
        cells = [title, f"{METHOD_NAMES[anchor]} {e['means'][anchor]:.2f}"]
        for p in priors:
            cells += [f"{e['means'][p]:.2f}", diffs[p], _choice(e["choices"][p])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _table2_table(t: dict) -> list[str]:
    """Per image of :data:`~.settings.TABLE2_PROBLEM`: bicubic + projection, each prior and its gain over it."""
    e = t["problems"].get(TABLE2_PROBLEM)
    if e is None:
        return []
    priors = [p for p in t["config"]["priors"] if p in e["per_image"]]
    head = ["image", "bicubic + projection", *(h for p in priors for h in (f"`{p}`", "gain"))]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for i, name in enumerate(e["images"]):
        base = e["per_image"]["bicubic"][i]
        cells = [name, f"{base:.2f}"]
        for p in priors:
            cells += [f"{e['per_image'][p][i]:.2f}", f"{e['per_image'][p][i] - base:+.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return ["", "2x super-resolution of each Table 2 image (the level of `deep_energy` chosen for 2x on the tuning "
            "crops):", "", *lines]


def _colour_table(t: dict) -> list[str]:
    """Mean PSNR per level and method, then each of ours minus each other method, paired over the images."""
    levels = [p for p in t["problems"] if p.startswith("colour_")]
    if not levels:
        return []
    priors = tuple(t["config"]["priors"]), tuple(t["config"].get("colour_priors", ()))
    present = [m for m in colour_methods(*priors) if m in t["problems"][levels[0]]["means"]]
    ours, others = ours_and_others(levels[0], present)
    head = ["noise", "noisy", *(method_name(m) for m in present)]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for problem in levels:
        e = t["problems"][problem]
        lines.append("| " + " | ".join([f"{problem.removeprefix('colour_')}/256", f"{e['means']['noisy']:.2f}",
                                        *(f"{e['means'][m]:.2f}" for m in present)]) + " |")
    head = ["noise", "ours", *(f"minus {method_name(m)}" for m in others)]
    lines += ["", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for problem in levels:
        diffs = {(c["ours"], c["other"]): c["reads"] for c in t["problems"][problem]["comparisons"]}
        for m in ours:
            lines.append("| " + " | ".join([f"{problem.removeprefix('colour_')}/256", method_name(m),
                                            *(diffs[(m, o)] for o in others)]) + " |")
    if "cbm3d" not in present:
        lines += ["", "*Colour BM3D: the `bm3d` package is not installed here (`pip install bm3d`), so its column is "
                  "missing.*"]
    return lines


def report(out_dir: str | os.PathLike) -> str:
    """Two tables (the grey inverse problems; colour denoising) and the figure of the first validation image."""
    out_dir = Path(out_dir)
    t = summary(out_dir)
    c = t["config"]
    n_grey = next(iter(t["problems"].values()))["n_images"]
    deep = (f"; the noise-conditional `deep_energy`'s level (1/256) of its field `E_s` from {c['deep_levels']}"
            if "deep_energy" in c["priors"] else "")
    colour_crop = "whole images" if c["colour_crop"] is None else f"{c['colour_crop']}x{c['colour_crop']} central crops"
    n_colour = "all 20" if c["colour_images"] is None else f"the first {c['colour_images']}"
    lines = [
        f"Our bundled priors through `scorematch.tasks.restore` (MAP by L-BFGS) on {n_grey} validation grey images "
        f"({c['grey_crop']}x{c['grey_crop']} central crops; no setting is chosen on them, but choices were made after "
        "looking at them: `docs/evaluation.md`), and at 2x on the five Table 2 "
        "images, beside simple anchors computed "
        "in the same run: Wiener deconvolution (`skimage.restoration.wiener`), biharmonic inpainting "
        "(`skimage.restoration.inpaint_biharmonic`), bicubic upscaling projected onto the block-average constraint. "
        f"Every choice (the FoE's weight for deblurring from {c['weights']} and its inpainting iterations from "
        f"{c['inpaint_iters']}{deep}; Wiener's balance from {c['balances']}) was made on the same crops of the "
        "tuning images. "
        "Mean PSNR (dB); 'minus anchor' is paired over the images (mean, and not resolved when it is within two "
        "standard deviations of the mean).",
        "", *_grey_table(t), *_table2_table(t), "",
        f"Colour denoising on {n_colour} validation BSDS300 colour images ({colour_crop}), i.i.d. Gaussian noise per "
        "pixel and channel: the bundled colour prior, and each grey prior on the luminance and two opponent channels "
        "(each at its own noise level, as `scorematch denoise` runs a grey prior on a colour image; "
        f"`{DEFAULT_PRIORS[3]}` is its default for colour input), against the grey "
        "prior applied to each RGB channel (at its model card's weights), colour BM3D (`bm3d.bm3d_rgb`, its default opponent transform) and colour TV "
        "(`skimage.restoration.denoise_tv_chambolle`, weight per level from "
        f"{c['tv_weights']} chosen on {c['colour_tune_crop']}x{c['colour_tune_crop']} crops of the colour tuning "
        "images); 'minus' columns: each of ours minus each other method, paired over the images.",
        "", *_colour_table(t), "",
    ]
    figure = out_dir / "beyond.png"
    lines.append(f"![beyond the paper]({out_dir.name}/beyond.png)" if figure.is_file()
                 else "*figure: not drawn in this run.*")
    return "\n".join(lines)
