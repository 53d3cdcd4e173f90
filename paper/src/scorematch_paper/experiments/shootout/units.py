"""One cached unit of the shoot-out: train a run to its CPU budget and score its snapshots (a choice on the tuning
crops, or a row on the validation images). The rows' cache is keyed on this module's code and what it imports."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from scorematch.serialization import load
from scorematch_paper.experiments.cache import Cache
from scorematch_paper.experiments.shootout.scoring import (exact_loss, loss_patches, map_psnr, tuning_images,
                                                             tweedie_psnr, validation_images)
from scorematch_paper.experiments.shootout.settings import ShootoutConfig
from scorematch_paper.experiments.shootout.timed import train_for

logger = logging.getLogger(__name__)

#: Points of the training loss kept per row (the clock's readings, thinned evenly).
LOSS_POINTS = 60
#: The fields of a run's training settings besides its row, learning rate and seed.
_RUN_FIELDS = ("patch", "batch", "point_minutes")


def row_unit(out_dir: Path, runs: Path, config: ShootoutConfig, cache: Cache, arch: str,
             row: tuple[str, float, float], choices: dict[str, Any], seed: int) -> tuple:
    est, lam, minutes = row
    return unit(out_dir / "rows", runs, config, cache, arch, est, lam, choices[arch][est]["lr"], seed=seed,
                minutes=minutes, score="validation")


def unit(where: Path, runs: Path, config: ShootoutConfig, cache: Cache, arch: str, est: str, lam: float, lr: float,
         *, seed: int, minutes: float, score: str) -> tuple:
    """A cached unit (:func:`~scorematch_paper.experiments.cache.cached_units`): train the run of these settings
    for ``minutes`` and score it."""
    training = {"arch": config.arch(arch), "estimator": est, "lam": lam, "lr": lr, "seed": seed,
                **config.settings(*_RUN_FIELDS)}
    name = f"{arch}_{est}_lam{lam:g}_lr{lr:g}_seed{seed}"
    run_dir = runs / f"{name}_{cache.scoped('scorematch_paper.experiments.shootout.timed').key(training)[:8]}"
    scoring_fields = ("tune_crop",) if score == "tuning" else ("heldout_limit", "heldout_crop", "loss_patch",
                                                               "loss_patches", "minutes")
    settings = {**training, "architecture": arch, "budget": minutes, "score": score,
                **config.settings(*scoring_fields)}
    kwargs = {"run_dir": str(run_dir), "training": training, "budget": minutes, "score": score,
              "scoring_settings": config.settings(*scoring_fields),
              "label": {"architecture": arch, "estimator": est, "lam": lam, "lr": lr, "seed": seed, "minutes": minutes}}
    return (_train_and_score, kwargs, where / f"{name}_{minutes:g}min.json", settings)


def _train_and_score(run_dir: str, training: dict[str, Any], budget: float, score: str, scoring_settings: dict[str, Any],
                     label: dict[str, Any]) -> dict[str, Any]:
    """Train one run to its budget (one torch thread) and score its snapshots: Tweedie on the tuning crops at the
    budget (``score="tuning"``), or on the validation images at every point, with MAP and the exact loss at the
    row's ``minutes`` and at its budget (``"validation"``)."""
    torch.set_num_threads(1)
    logger.info("shoot-out: %s for %g CPU minutes", Path(run_dir).name, budget)
    trained = train_for(run_dir, minutes=budget, **training)
    result = {**label, "diverged": trained["diverged"], "loss_curve": _thin(trained["clock"])}
    points = trained["points"] if trained["diverged"] is None else []
    if score == "tuning":
        last = points[-1] if points else None
        if last is None:
            return {**result, "cpu_minutes": None, "tuning_psnr": None}
        tuned = tweedie_psnr(_snapshot(run_dir, last), tuning_images(scoring_settings["tune_crop"]))
        return {**result, "cpu_minutes": round(last["cpu_seconds"] / 60, 3), "tuning_psnr": tuned}
    s = scoring_settings
    images = validation_images(s["heldout_limit"], s["heldout_crop"])
    patches = loss_patches(images, s["loss_patch"], s["loss_patches"])
    scored = []
    for p in trained["points"]:
        energy = _snapshot(run_dir, p)
        entry = {"minutes": p["minutes"], "cpu_minutes": round(p["cpu_seconds"] / 60, 3), "step": p["step"],
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
