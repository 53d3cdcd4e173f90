"""One cached unit of the shoot-out: train a run to its CPU budget and score its snapshots (a choice on the tuning
crops, or a row on the validation images). The units' cache is keyed on this module's code and what it imports
(the training, the scoring, the estimators), not on the configuration's grids."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from scorematch.serialization import load
from scorematch_paper.experiments.shootout.scoring import (exact_loss, loss_patches, map_psnr, tuning_images,
                                                             tweedie_psnr, validation_images)
from scorematch_paper.experiments.shootout.timed import train_for

logger = logging.getLogger(__name__)

#: Points of the training loss kept per row (the clock's readings, thinned evenly).
LOSS_POINTS = 60


def train_and_score(run_dir: str, training: dict[str, Any], budget: float, score: str, scoring_settings: dict[str, Any],
                     label: dict[str, Any]) -> dict[str, Any]:
    """Train one run to its budget (one torch thread) and score its snapshots: Tweedie on the tuning crops at the
    budget (``score="tuning"``), or on the validation images at every point, with MAP and the exact loss at the
    row's ``minutes`` and at its budget (``"validation"``)."""
    torch.set_num_threads(1)
    logger.info("shoot-out: %s for %g CPU minutes", Path(run_dir).name, budget)
    trained = train_for(run_dir, minutes=budget, **training)
    result = {**label, "diverged": trained["diverged"], "loss_curve": _thin(trained["clock"])}
    if score == "tuning":  # a run that diverged scores nothing
        last = trained["points"][-1] if trained["points"] and trained["diverged"] is None else None
        if last is None:
            return {**result, "cpu_minutes": None, "tuning_psnr": None}
        tuned = tweedie_psnr(_snapshot(run_dir, last), tuning_images(scoring_settings["tune_crop"]))
        return {**result, "cpu_minutes": round(last["cpu_seconds"] / 60, 4), "tuning_psnr": tuned}
    s = scoring_settings
    images = validation_images(s["heldout_limit"], s["heldout_crop"])
    patches = loss_patches(images, s["loss_patch"], s["loss_patches"])
    scored = []
    for p in trained["points"]:  # (those before a divergence)
        energy = _snapshot(run_dir, p)
        entry = {"minutes": p["minutes"], "cpu_minutes": round(p["cpu_seconds"] / 60, 4), "step": p["step"],
                 "tweedie": tweedie_psnr(energy, images)}
        if any(abs(p["minutes"] - m) < 1e-6 for m in (s["minutes"], budget)):
            entry.update(map=map_psnr(energy, images), exact_loss=exact_loss(energy, patches))
        scored.append(entry)
    return {**result, "points": scored}


def _snapshot(run_dir: str, point: dict[str, Any]) -> Any:
    return load(Path(run_dir) / "points" / point["file"]).eval()


def _thin(clock: list[list[float]]) -> list[list[float]]:
    """About :data:`LOSS_POINTS` readings [CPU minutes, loss] of the clock, evenly spaced, the last kept."""
    if not clock:
        return []
    every = max(1, len(clock) // LOSS_POINTS)
    kept = clock[::every] + ([clock[-1]] if (len(clock) - 1) % every else [])
    return [[round(t / 60, 3), v] for _, t, v in kept]
