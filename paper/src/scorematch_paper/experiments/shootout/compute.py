"""The shoot-out's computation: per estimator and budget one calibrated, resumable training run and its validation
PSNR (each row a cached unit), and the bundled priors on the same images as the reference."""

from __future__ import annotations

import json
import logging
import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from scorematch.io.atomic import atomic_path
from scorematch.io.images import read_image
from scorematch.io.tables import write_json
from scorematch.pretrained import load_pretrained
from scorematch.prior import load_prior
from scorematch.serialization import load
from scorematch.tasks import denoise, psnr, tweedie
from scorematch_paper.experiments.cache import Cache
from scorematch_paper.experiments.restoration.data import heldout_images, noise, noise_seed
from scorematch_paper.experiments.shootout.figures import plot
from scorematch_paper.experiments.shootout.recipe import train_deep_energy
from scorematch_paper.experiments.shootout.settings import LEVELS, ShootoutConfig
from scorematch_paper.experiments.shootout.summaries import summary

logger = logging.getLogger(__name__)

#: The config fields a row depends on besides its estimator and budget.
_ROW_FIELDS = ("calibration_steps", "channels", "depth", "kernel_size", "patch", "batch", "lr", "seed",
               "heldout_limit", "heldout_crop")


def run(out_dir: str | os.PathLike, *, quick: bool = False, progress: bool = True, config: ShootoutConfig | None = None,
        cache: Cache | None = None) -> dict[str, Any]:
    """Every row of the shoot-out (cached; an interrupted training run resumes), the reference, the table
    ``shootout.json`` and its figure; returns :func:`~.summaries.summary`.

    The runs are timed, so they run one after the other with the process's threads (never beside each other).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = config or (ShootoutConfig.quick() if quick else ShootoutConfig())
    cache = cache or Cache()
    reference_cache, cache = cache, rows_cache(cache)
    training = cache.scoped("scorematch_paper.experiments.shootout.recipe")
    rows = []
    for minutes in sorted(config.minutes):
        for estimator in config.estimators:
            settings = {**config.settings(*_ROW_FIELDS), "estimator": estimator, "minutes": minutes}
            rows.append(cache.json(out_dir / "rows" / f"{estimator}_{minutes:g}min.json", settings,
                                   lambda: _row(out_dir, estimator, minutes, config, training, settings, progress)))
            logger.info("shoot-out %s %g min: %s", estimator, minutes, rows[-1]["heldout_psnr"])
    reference = reference_cache.json(out_dir / "reference.json", config.settings("heldout_limit", "heldout_crop"),
                                     lambda: _reference(config))
    write_json(out_dir / "shootout.json", {"config": config.to_dict(), "threads": torch.get_num_threads(),
                                           "reference": reference, "rows": rows})
    plot(out_dir)
    return summary(out_dir)


def rows_cache(cache: Cache) -> Cache:
    """``cache`` keyed on the code of the rows alone (this module and what it imports; :meth:`Cache.scoped`): a
    row trains for up to an hour, so an edit to other parts of the package (the commands, other experiments, the
    bundled model files, which only the reference reads) keeps it. Its training run is keyed on the recipe's code
    alone, so an edit to the scoring keeps the run and only rescores it."""
    return cache.scoped(__name__)


def _row(out_dir: Path, estimator: str, minutes: float, config: ShootoutConfig, training: Cache,
         settings: dict[str, Any], progress: bool) -> dict[str, Any]:
    """Calibrate, train for the budget (resuming a run of the same settings and training code) and score one
    row."""
    run = out_dir / "runs" / f"{estimator}_{minutes:g}min_{training.key(settings)[:8]}"
    budget_file = run / "budget.json"
    if budget_file.is_file():  # the budget of an interrupted run, so that it resumes with the same steps
        budget = json.loads(budget_file.read_text())
    else:
        step = _step_seconds(estimator, config)
        budget = {"step_seconds": step, "steps": max(1, round(minutes * 60 / step))}
        run.mkdir(parents=True, exist_ok=True)
        with atomic_path(budget_file) as tmp:
            tmp.write_text(json.dumps(budget))
    _train(run, estimator, budget["steps"], config, resume=True, progress=progress)
    seconds = float((run / "metrics.csv").read_text().strip().splitlines()[-1].split(",")[-1])
    return {"estimator": estimator, "minutes": minutes, **budget, "seconds": round(seconds, 1),
            "cpu_minutes": round(seconds / 60, 2), "training_code": training.code,
            "heldout_psnr": _heldout_psnr(_tweedie(load(run / "model.safetensors")), config)}


def _train(out: Path, estimator: str, steps: int, config: ShootoutConfig, *, resume: bool, progress: bool) -> Any:
    return train_deep_energy(out, estimator=estimator, steps=steps, seed=config.seed, arch=config.arch,
                             patch=config.patch, batch=config.batch, lr=config.lr, resume=resume, progress=progress)


def _step_seconds(estimator: str, config: ShootoutConfig) -> float:
    """Seconds per training step of ``estimator``, from a short run of the same recipe."""
    with tempfile.TemporaryDirectory() as tmp:
        result = _train(Path(tmp), estimator, config.calibration_steps, config, resume=False, progress=False)
    return result.seconds / config.calibration_steps


def _heldout_psnr(restore: Callable[[Tensor, float], Tensor], config: ShootoutConfig) -> dict[str, float]:
    """Mean PSNR of ``restore(noisy, sigma)`` on the validation images per level of :data:`~.settings.LEVELS` (the
    restoration experiment's noise draws)."""
    scores: dict[int, list[float]] = {lv: [] for lv in LEVELS}
    for name, file in heldout_images(config.heldout_limit):
        x = read_image(file, dtype=torch.float32)
        x = (x[: config.heldout_crop, : config.heldout_crop] if config.heldout_crop else x)[None, None]
        for lv in LEVELS:
            scores[lv].append(psnr(restore(noise(x, lv, noise_seed(name, lv, 0)), lv / 256).clamp(0, 1), x))
    return {str(lv): round(statistics.mean(v), 3) for lv, v in scores.items()}


def _tweedie(model: Any) -> Callable[[Tensor, float], Tensor]:
    """Tweedie's posterior mean of a noise-conditional energy, one gradient evaluation."""
    model = model.eval()

    def restore(y: Tensor, sigma: float) -> Tensor:
        with torch.no_grad():
            return tweedie(y, model, sigma=sigma)

    return restore


def _reference(config: ShootoutConfig) -> dict[str, dict[str, float]]:
    """The bundled priors on the same images: ``deep_energy`` (Tweedie) and ``foe_5x5x24`` (MAP at its model
    card's weight)."""
    foe = load_prior("foe_5x5x24")

    def map_foe(y: Tensor, sigma: float) -> Tensor:
        return denoise(y, foe, sigma=sigma)  # MAP at its presets' weights

    return {"deep_energy": _heldout_psnr(_tweedie(load_pretrained("deep_energy")), config),
            "foe_5x5x24": _heldout_psnr(map_foe, config)}
