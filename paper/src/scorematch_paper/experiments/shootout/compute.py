"""The shoot-out's computation: the choices on the tuning crops (each estimator's learning rate, then lambda of the
regularized ones), then every row and seed for its CPU budget, scored on the validation images (each a cached
unit; an interrupted training run resumes), and the bundled priors on the same images as the reference."""

from __future__ import annotations

import json
import logging
import os
import statistics
from pathlib import Path
from typing import Any

from scorematch.io.tables import write_json
from scorematch.pretrained import resolve
from scorematch.prior import load_prior
from scorematch.tasks import denoise
from scorematch_paper.experiments.cache import Cache, cached_units, read_stamp
from scorematch_paper.experiments.shootout import scoring, units
from scorematch_paper.experiments.shootout.figures import plot
from scorematch_paper.experiments.shootout.config import ShootoutConfig
from scorematch_paper.experiments.shootout.settings import REGULARIZED
from scorematch_paper.experiments.shootout.summaries import summary
from scorematch_paper.paths import ROOT
from scorematch_paper.stamps import DENOISING, stamp

logger = logging.getLogger(__name__)

#: The fields of a run's training settings besides its row, learning rate and seed.
_RUN_FIELDS = ("patch", "batch", "point_minutes")



def run(out_dir: str | os.PathLike, *, quick: bool = False, progress: bool = True, config: ShootoutConfig | None = None,
        cache: Cache | None = None, runs: str | os.PathLike | None = None, jobs: int = 1) -> dict[str, Any]:
    """The choices, every row and seed, the reference, ``shootout.json`` and its figures in ``out_dir``; returns
    :func:`~.summaries.summary`. ``runs``: where the training runs live (default ``out_dir/runs``); ``jobs``:
    training runs at once, one torch thread each (their budgets are the process's CPU time, so they may share
    the machine)."""
    del progress  # the runs log their steps; a bar per worker would interleave
    return _table(out_dir, config or (ShootoutConfig.quick() if quick else ShootoutConfig()), cache or Cache(), runs,
                  jobs, compute=True)


def publish(out_dir: str | os.PathLike, config: ShootoutConfig | None = None, cache: Cache | None = None,
            runs: str | os.PathLike | None = None) -> dict[str, Any]:
    """``shootout.json`` and its figures from the units done so far (none is computed, but the reference), the
    rows not yet run listed under ``missing``; returns :func:`~.summaries.summary`."""
    return _table(out_dir, config or ShootoutConfig(), cache or Cache(), runs, 1, compute=False)


def _table(out_dir: str | os.PathLike, config: ShootoutConfig, cache: Cache, runs: str | os.PathLike | None,
           jobs: int, *, compute: bool) -> dict[str, Any]:
    out_dir = Path(out_dir)
    runs = Path(runs) if runs else out_dir / "runs"
    reference_cache, cache = cache.scoped(__name__), rows_cache(cache)  # (the reference: this module's closure)
    choices = _choices(out_dir, runs, config, cache, jobs, compute)
    todo, keys, missing = [], [], []
    for seed in config.seeds:
        for arch, _, _, _ in config.architectures:
            for est, lam, minutes in _rows(arch, config, choices):
                row = {"architecture": arch, "estimator": est, "lam": lam, "seed": seed}
                if lam is None or choices.get(arch, {}).get(est, {}).get("lr") is None:
                    missing.append(row)  # (its learning rate or lambda not chosen yet)
                    continue
                todo.append(_row_unit(out_dir, runs, config, cache, arch, (est, lam, minutes), choices, seed))
                keys.append(row)
    done = _units(todo, cache, jobs, compute)
    rows = [r for r in done if r is not None]
    missing += [row for row, r in zip(keys, done) if r is None]
    reference = reference_cache.json(out_dir / "reference.json", config.settings("heldout_limit", "heldout_crop"),
                                     lambda: _reference(config))
    write_json(out_dir / "shootout.json", {**_stamp(), "config": config.to_dict(), "choices": choices,
                                           "reference": reference, "rows": rows, "missing": missing})
    plot(out_dir)
    return summary(out_dir)


def _units(todo: list[tuple], cache: Cache, jobs: int, compute: bool) -> list[Any]:
    """The units' results: computed where not current (``compute``), else None there."""
    if compute:
        return cached_units(todo, cache, jobs=jobs)
    return [json.loads(Path(path).read_text())["result"] if cache.is_current(read_stamp(path), settings) else None
            for _, _, path, settings in todo]


def _stamp() -> dict[str, Any]:
    """The provenance of the table: the units' code and the model files the scores read (MAP's presets, the
    reference priors)."""
    models = {}
    for name in (scoring.MAP_PRESETS, "foe_5x5x24"):
        path = resolve(name).resolve()
        models[name] = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return {"stamp": stamp(units.__name__, models=models, parts=DENOISING, root=ROOT)}


def rows_cache(cache: Cache) -> Cache:
    """``cache`` keyed on the code of the units alone (:mod:`.units` and what it imports: the training, the
    scoring, the settings; :meth:`Cache.scoped`): a row trains for up to an hour, so an edit to the table, the
    figures or other parts of the package keeps it."""
    return cache.scoped(units.__name__)


def _choices(out_dir: Path, runs: Path, config: ShootoutConfig, cache: Cache, jobs: int,
             compute: bool = True) -> dict[str, Any]:
    """Per architecture and estimator the learning rate (best mean tuning PSNR over the levels from ``lrs``, at
    lambda = 0), then per regularized estimator lambda from ``lams`` at that rate; with every score."""
    out: dict[str, Any] = {}
    for stage in ("lr", "lam"):
        todo, keys = [], []
        for arch, _, _, _ in config.architectures:
            for est in config.estimators:
                lr = out.get(arch, {}).get(est, {}).get("lr")
                if stage == "lam" and (est not in REGULARIZED or lr is None):
                    continue
                grid = [(0.0, v) for v in config.lrs] if stage == "lr" else [(v, lr) for v in config.lams]
                for lam, rate in grid:
                    keys.append((arch, est, lam, rate))
                    todo.append(_unit(out_dir / "choices", runs, config, cache, arch, est, lam, rate, seed=0,
                                           minutes=config.choice_minutes, score="tuning"))
        for (arch, est, lam, rate), result in zip(keys, _units(todo, cache, jobs, compute)):
            entry = out.setdefault(arch, {}).setdefault(est, {"lr_grid": {}, "lam_grid": {}})
            if result is not None:  # (None: not run yet, when only publishing)
                entry["lr_grid" if stage == "lr" else "lam_grid"][f"{lam if stage == 'lam' else rate:g}"] = result
        for arch in out:
            for est, entry in out[arch].items():
                grid = entry["lr_grid" if stage == "lr" else "lam_grid"]
                if len(grid) == len(config.lrs if stage == "lr" else config.lams):
                    entry["lr" if stage == "lr" else "lam"] = float(max(grid, key=lambda k: _score(grid[k])))
    return out


def _score(result: dict[str, Any]) -> float:
    """A choice run's tuning score: its mean Tweedie PSNR over the levels (-inf if it diverged)."""
    values = list(result["tuning_psnr"].values()) if result["tuning_psnr"] else [None]
    return -float("inf") if None in values else statistics.mean(values)


def _rows(arch: str, config: ShootoutConfig, choices: dict[str, Any]) -> list[tuple[str, float | None, float]]:
    """(estimator, lambda, budget minutes) of each row of ``arch``: every estimator at lambda = 0, the regularized
    ones also at their chosen lambda (None: not chosen yet); ``long_minutes`` for the best ``long_rows`` by tuning
    score and the regularized curvature row (on ``long_architectures``, once every choice is made)."""
    mine = choices.get(arch, {})
    rows = [(est, 0.0) for est in config.estimators]
    rows += [(est, mine.get(est, {}).get("lam")) for est in config.estimators if est in REGULARIZED]
    long = set()
    if arch in config.long_architectures and all(lam is not None and "lr" in mine.get(e, {}) for e, lam in rows):
        scores = {row: _score(_choice_of(mine[row[0]], row[1])) for row in rows}
        long = set(sorted(rows, key=lambda r: -scores[r])[: config.long_rows])
        long |= {r for r in rows if r[0] == "sm-curvature" and r[1] > 0}
    return [(est, lam, config.long_minutes if (est, lam) in long else config.minutes) for est, lam in rows]


def _choice_of(entry: dict[str, Any], lam: float) -> dict[str, Any]:
    return entry["lam_grid"][f"{lam:g}"] if lam else entry["lr_grid"][f"{entry['lr']:g}"]


def _row_unit(out_dir: Path, runs: Path, config: ShootoutConfig, cache: Cache, arch: str,
             row: tuple[str, float, float], choices: dict[str, Any], seed: int) -> tuple:
    est, lam, minutes = row
    return _unit(out_dir / "rows", runs, config, cache, arch, est, lam, choices[arch][est]["lr"], seed=seed,
                minutes=minutes, score="validation")


def _unit(where: Path, runs: Path, config: ShootoutConfig, cache: Cache, arch: str, est: str, lam: float, lr: float,
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
    return (units.train_and_score, kwargs, where / f"{name}_{minutes:g}min.json", settings)


def _reference(config: ShootoutConfig) -> dict[str, dict[str, float | None]]:
    """The bundled priors on the same images: ``deep_energy`` (Tweedie) and ``foe_5x5x24`` (MAP at its
    presets)."""
    images = scoring.validation_images(config.heldout_limit, config.heldout_crop)
    foe = load_prior("foe_5x5x24")
    return {"deep_energy": scoring.tweedie_psnr(load_prior("deep_energy").energy, images),
            "foe_5x5x24": scoring.mean_psnr(lambda y, s: denoise(y, foe, sigma=s), images)}
