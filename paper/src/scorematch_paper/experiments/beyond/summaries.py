"""The stage's table read back: per problem, each method's mean PSNR and choice, and ours minus each other
method paired over the validation images."""

from __future__ import annotations

import json
import math
import os
import statistics
from pathlib import Path
from typing import Any

from scorematch_paper.experiments.beyond.settings import COLOUR_METHODS, GREY_PROBLEMS, OPPONENT, TABLE2_PROBLEM, WHOLE
from scorematch_paper.experiments.compare import describe, paired_difference


def ours_and_others(problem: str, methods: list[str]) -> tuple[list[str], list[str]]:
    """Our methods (the bundled priors; the colour prior and the grey priors on the opponent channels) and those
    they are compared with (the anchors)."""
    if problem in GREY_PROBLEMS:
        anchor = GREY_PROBLEMS[problem][1]
        return [m for m in methods if m != anchor], [anchor]
    ours = [m for m in methods if m == COLOUR_METHODS[0] or m.startswith((OPPONENT, WHOLE))]
    return ours, [m for m in methods if m not in ours]


def comparison(ours: list[float], other: list[float]) -> dict[str, Any]:
    """Mean of ``ours - other`` paired over the images, the std of that mean and the verdict rule's reading."""
    diff, std = paired_difference(ours, other)
    std_of_mean = std / math.sqrt(len(ours))
    return {"diff": diff, "std_of_mean": std_of_mean, "reads": describe(diff, std_of_mean), "n_images": len(ours)}


def summary(out_dir: str | os.PathLike) -> dict[str, Any]:
    """``beyond.json`` summarized: ``config`` and, per problem, ``means`` (method -> mean PSNR), ``choices``,
    ``seconds``, ``images`` with ``per_image`` PSNRs (method -> list) and ``comparisons`` ((ours, other) ->
    :func:`comparison`, as a list of dicts)."""
    table = json.loads((Path(out_dir) / "beyond.json").read_text())
    problems = {}
    for problem, methods in table["problems"].items():
        ours, others = ours_and_others(problem, list(methods))
        entry: dict[str, Any] = {
            "means": {m: statistics.mean(r["psnr"]) for m, r in methods.items()},
            "choices": {m: r["choice"] for m, r in methods.items()},
            "seconds": {m: r["seconds"] for m, r in methods.items()},
            "n_images": len(next(iter(methods.values()))["psnr"]),
            "images": next(iter(methods.values()))["images"],
            "per_image": {m: r["psnr"] for m, r in methods.items()},
            "comparisons": [{"ours": a, "other": b, **comparison(methods[a]["psnr"], methods[b]["psnr"])}
                            for a in ours for b in others if a in methods and b in methods]}
        noisy = next((r["noisy_psnr"] for r in methods.values() if "noisy_psnr" in r), None)
        if noisy is not None:
            entry["means"]["noisy"] = statistics.mean(noisy)
        problems[problem] = entry
    return {"config": table["config"], "problems": problems}


def tuned_levels(out_dir: str | os.PathLike, prior: str = "deep_energy") -> dict[str, float]:
    """Problem -> the level (1/256) of the noise-conditional ``prior``'s field chosen on the tuning images for each
    grey problem of ``beyond.json`` but the Table 2 one (the same choice as 2x; what the bundled model file records
    as its ``map_levels``)."""
    problems = json.loads((Path(out_dir) / "beyond.json").read_text())["problems"]
    return {p: problems[p][prior]["choice"][0] for p in GREY_PROBLEMS
            if p != TABLE2_PROBLEM and prior in problems.get(p, {})}
