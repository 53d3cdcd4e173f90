"""The shoot-out's computation: the choices on the tuning crops (each estimator's learning rate, then lambda of the
regularized ones), then every row and seed for its CPU budget, scored on the validation images (each a cached
unit; an interrupted training run resumes), and the bundled priors on the same images as the reference."""

from __future__ import annotations

import logging
import os
import statistics
from pathlib import Path
from typing import Any

import torch

from scorematch.io.tables import write_json
from scorematch.prior import load_prior
from scorematch.tasks import denoise
from scorematch_paper.experiments.cache import Cache, cached_units
from scorematch_paper.experiments.shootout import scoring, units
from scorematch_paper.experiments.shootout.figures import plot
from scorematch_paper.experiments.shootout.settings import REGULARIZED, ShootoutConfig
from scorematch_paper.experiments.shootout.summaries import summary

logger = logging.getLogger(__name__)



def run(out_dir: str | os.PathLike, *, quick: bool = False, progress: bool = True, config: ShootoutConfig | None = None,
        cache: Cache | None = None, runs: str | os.PathLike | None = None, jobs: int = 1) -> dict[str, Any]:
    """The choices, every row and seed, the reference, ``shootout.json`` and its figures in ``out_dir``; returns
    :func:`~.summaries.summary`. ``runs``: where the training runs live (default ``out_dir/runs``); ``jobs``:
    training runs at once, one torch thread each (their budgets are the process's CPU time, so they may share
    the machine)."""
    del progress  # the runs log their steps; a bar per worker would interleave
    out_dir = Path(out_dir)
    runs = Path(runs) if runs else out_dir / "runs"
    config = config or (ShootoutConfig.quick() if quick else ShootoutConfig())
    cache = cache or Cache()
    reference_cache, cache = cache, rows_cache(cache)
    choices = _choices(out_dir, runs, config, cache, jobs)
    todo = [units.row_unit(out_dir, runs, config, cache, arch, row, choices, seed)
             for seed in config.seeds for arch, _, _, _ in config.architectures for row in _rows(arch, config, choices)]
    rows = cached_units(todo, cache, jobs=jobs)
    reference = reference_cache.json(out_dir / "reference.json", config.settings("heldout_limit", "heldout_crop"),
                                     lambda: _reference(config))
    write_json(out_dir / "shootout.json", {"config": config.to_dict(), "choices": choices, "reference": reference,
                                           "rows": rows})
    plot(out_dir)
    return summary(out_dir)


def rows_cache(cache: Cache) -> Cache:
    """``cache`` keyed on the code of the units alone (:mod:`.units` and what it imports: the training, the
    scoring, the settings; :meth:`Cache.scoped`): a row trains for up to an hour, so an edit to the table, the
    figures or other parts of the package keeps it."""
    return cache.scoped(units.__name__)


def _choices(out_dir: Path, runs: Path, config: ShootoutConfig, cache: Cache, jobs: int) -> dict[str, Any]:
    """Per architecture and estimator the learning rate (best mean tuning PSNR over the levels from ``lrs``, at
    lambda = 0), then per regularized estimator lambda from ``lams`` at that rate; with every score."""
    out: dict[str, Any] = {}
    for stage in ("lr", "lam"):
        todo, keys = [], []
        for arch, _, _, _ in config.architectures:
            for est in config.estimators:
                if stage == "lam" and est not in REGULARIZED:
                    continue
                lr = out.get(arch, {}).get(est, {}).get("lr")
                grid = [(0.0, v) for v in config.lrs] if stage == "lr" else [(v, lr) for v in config.lams]
                for lam, rate in grid:
                    keys.append((arch, est, lam, rate))
                    todo.append(units.unit(out_dir / "choices", runs, config, cache, arch, est, lam, rate, seed=0,
                                           minutes=config.choice_minutes, score="tuning"))
        for (arch, est, lam, rate), result in zip(keys, cached_units(todo, cache, jobs=jobs)):
            entry = out.setdefault(arch, {}).setdefault(est, {"lr_grid": {}, "lam_grid": {}})
            entry["lr_grid" if stage == "lr" else "lam_grid"][f"{lam if stage == 'lam' else rate:g}"] = result
        for arch in out:
            for est, entry in out[arch].items():
                grid = entry["lr_grid" if stage == "lr" else "lam_grid"]
                if grid:
                    entry["lr" if stage == "lr" else "lam"] = float(max(grid, key=lambda k: _score(grid[k])))
    return out


def _score(result: dict[str, Any]) -> float:
    """A choice run's tuning score: its mean Tweedie PSNR over the levels (-inf if it diverged)."""
    values = list(result["tuning_psnr"].values()) if result["tuning_psnr"] else [None]
    return -float("inf") if None in values else statistics.mean(values)


def _rows(arch: str, config: ShootoutConfig, choices: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(estimator, lambda, budget minutes) of each row of ``arch``: every estimator at lambda = 0, the regularized
    ones also at their chosen lambda; ``long_minutes`` for the best ``long_rows`` by tuning score and the
    regularized curvature row (on ``long_architectures``)."""
    rows = [(est, 0.0) for est in config.estimators]
    rows += [(est, choices[arch][est]["lam"]) for est in config.estimators if est in REGULARIZED]
    scores = {row: _score(_choice_of(choices[arch][row[0]], row[1])) for row in rows}
    long = set(sorted(rows, key=lambda r: -scores[r])[: config.long_rows]) if arch in config.long_architectures else set()
    long |= {r for r in rows if r[0] == "sm-curvature" and r[1] > 0 and arch in config.long_architectures}
    return [(est, lam, config.long_minutes if (est, lam) in long else config.minutes) for est, lam in rows]


def _choice_of(entry: dict[str, Any], lam: float) -> dict[str, Any]:
    return entry["lam_grid"][f"{lam:g}"] if lam else entry["lr_grid"][f"{entry['lr']:g}"]


def _reference(config: ShootoutConfig) -> dict[str, dict[str, float | None]]:
    """The bundled priors on the same images: ``deep_energy`` (Tweedie) and ``foe_5x5x24`` (MAP at its
    presets)."""
    images = scoring.validation_images(config.heldout_limit, config.heldout_crop)
    foe = load_prior("foe_5x5x24")
    return {"deep_energy": scoring.tweedie_psnr(load_prior("deep_energy").energy, images),
            "foe_5x5x24": scoring.mean_psnr(lambda y, s: denoise(y, foe, sigma=s), images)}
