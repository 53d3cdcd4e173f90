"""The patch experiment's computation: every fit of the plan (one cached JSON each, over worker processes)."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from scorematch.io.atomic import atomic_path
from scorematch.parallel import map_jobs
from scorematch_paper.experiments.cache import Cache, read_stamp
from scorematch_paper.experiments.patches.conditions import (
    LAMBDAS,
    N_TEST,
    PLAN,
    QUICK_CONDITIONS,
    QUICK_LAMBDAS,
    QUICK_N_TEST,
    Condition,
)
from scorematch_paper.experiments.patches.figures import plot
from scorematch_paper.experiments.patches.fit import data_statistics, prepare_data, train_and_score
from scorematch_paper.experiments.patches.summaries import run_name, summary, write_table

logger = logging.getLogger(__name__)


def _run_settings(cond: Condition, lam: float, seed: int, limit: int | None, n_test: int, estimator: str,
                  init_path: str | None) -> dict[str, Any]:
    """The settings one fit's result depends on (its cache settings)."""
    return {"condition": dataclasses.asdict(cond), "lam": lam, "seed": seed, "limit": limit, "n_test": n_test,
            "estimator": estimator, "init_from": Path(init_path).name if init_path else None}


def _job(args: tuple[dict[str, Any], float, int, str, str, int | None, int, str, str | None, Cache]) -> dict[str, Any]:
    cond_dict, lam, seed, out, device, limit, n_test, estimator, init_path, cache = args
    cache.check_code()
    torch.set_num_threads(1)
    cond = Condition(**cond_dict)
    data = _cached_data(cond, n_test, limit)
    out_path = Path(out)
    res = train_and_score(cond, lam, data, seed=seed, device=device, model_path=out_path.with_suffix(".safetensors"),
                          estimator=estimator, init_path=Path(init_path) if init_path else None)
    res["init_from"] = init_path
    res["settings"] = cond_dict
    res["stamp"] = cache.stamp(_run_settings(cond, lam, seed, limit, n_test, estimator, init_path))
    with atomic_path(out_path) as tmp:
        tmp.write_text(json.dumps(res, indent=1))
    return res


def _fit_in_order(jobs: list[tuple]) -> list[dict[str, Any]]:
    """Run the fits of ``jobs`` (arguments of :func:`_job`) one after the other (a worker's unit)."""
    return [_job(j) for j in jobs]


@functools.lru_cache(maxsize=2)
def _cached_data(cond: Condition, n_test: int, limit: int | None) -> dict[str, Tensor]:
    return prepare_data(cond, n_test=n_test, limit=limit)


def run(
    out_dir: str | os.PathLike,
    *,
    quick: bool = False,
    progress: bool = True,
    conditions: tuple[Condition, ...] | None = None,
    lambdas: tuple[float, ...] | None = None,
    seeds: tuple[int, ...] = (0,),
    jobs: int = 1,
    device: str = "cpu",
    ml_reference: bool | None = None,
    cd: bool = True,
    cache: Cache | None = None,
) -> dict[str, Any]:
    """Run the lambda sweeps, write ``results.csv`` and per-condition ``data__*.json``, draw the figures, then
    train the CD-1 FoE of Figure 2i (:mod:`scorematch_paper.experiments.cd_foe`) into ``out_dir / "cd_foe"``.

    Parameters
    ----------
    out_dir : path-like
    quick : bool
        One small condition (2000 training patches, 3 L-BFGS steps, 60 images, 3 lambdas, 2000 test
        patches): a smoke test that runs in seconds.
    progress : bool
        Log each finished model.
    conditions, lambdas, seeds
        Override the sweep (default :data:`PLAN`, seed 0; ``conditions`` alone runs each for ``lambdas``
        or all of :data:`LAMBDAS`).
    jobs : int
        Parallel processes for the independent fits (CPU only; each uses one thread).
    device : str
        ``"cpu"`` or ``"cuda"`` (then the models are trained one after the other on the GPU).
    ml_reference : bool, optional
        Also fit each condition's PoE by maximum likelihood (default: not in quick mode).
    cd : bool
        Also train the CD-1 FoE of Figure 2i (on a GPU if there is one: 3 minutes on an H100, tens of
        minutes on 2 CPU cores; quick: about 10 s).
    cache : Cache, optional
        What may be reused (default: a new :class:`~scorematch_paper.experiments.cache.Cache`): a fit whose result
        file is current for its settings and the code is not run again.

    Returns
    -------
    dict
        :func:`summary` of the results.
    """
    out_dir = Path(out_dir)
    cache = cache or Cache()
    (out_dir / "runs").mkdir(parents=True, exist_ok=True)
    plan = _plan(quick, conditions, lambdas, not quick if ml_reference is None else ml_reference)
    limit, n_test = (60, QUICK_N_TEST) if quick else (None, N_TEST)
    for cond, _, _ in plan:
        _write_data_statistics(out_dir, cond, n_test, limit, cache)
    chain, parallel = _fit_jobs(out_dir / "runs", plan, seeds, device, limit, n_test, cache)
    logger.info("patches: %d models to train", len(parallel) + len(chain))
    # The continuation chain is one job (each fit starts from the previous lambda's model), run beside the
    # independent fits; the longest first.
    units = ([chain] if chain else []) + [[j] for j in parallel]
    for results in map_jobs(_fit_in_order, units, jobs=jobs if device == "cpu" else 1):
        for r in results:
            if progress:
                logger.info("%s %s lambda=%g: ll %.2f (%.0f s)", r["condition"], r["estimator"], r["lambda"],
                            r["ll"], r["seconds"])
    write_table(out_dir)
    plot(out_dir)
    if cd:
        from scorematch_paper.experiments import cd_foe

        cd_foe.run(out_dir / "cd_foe", quick=quick, progress=progress,
                   device="cuda" if torch.cuda.is_available() and not quick else "cpu", cache=cache)
    return summary(out_dir)


def _plan(quick: bool, conditions: tuple[Condition, ...] | None, lambdas: tuple[float, ...] | None,
          ml_reference: bool) -> list[tuple[Condition, tuple[float, ...], bool]]:
    """(condition, lambdas, also fit by maximum likelihood) of each sweep to run."""
    if conditions is not None:
        return [(c, tuple(lambdas or LAMBDAS), ml_reference) for c in conditions]
    if quick:
        return [(c, tuple(lambdas or QUICK_LAMBDAS), ml_reference) for c in QUICK_CONDITIONS]
    return [(c, tuple(lambdas or lams), ml and ml_reference) for c, lams, ml in PLAN]


def _write_data_statistics(out_dir: Path, cond: Condition, n_test: int, limit: int | None, cache: Cache) -> None:
    """The condition's data statistics and Gaussian reference (``data__<name>__<key>.json``), unless current."""
    data_file = out_dir / f"data__{cond.name}__{cond.key()}.json"
    data_settings = {"condition": dataclasses.asdict(cond), "n_test": n_test, "limit": limit}
    if not cache.is_current(read_stamp(data_file), data_settings):
        stats = {"condition": cond.name, "settings": dataclasses.asdict(cond), "stamp": cache.stamp(data_settings),
                 **data_statistics(_cached_data(cond, n_test, limit))}
        with atomic_path(data_file) as tmp:
            tmp.write_text(json.dumps(stats, indent=1))


def _fit_jobs(runs_dir: Path, plan: list[tuple[Condition, tuple[float, ...], bool]], seeds: tuple[int, ...],
              device: str, limit: int | None, n_test: int, cache: Cache) -> tuple[list[tuple], list[tuple]]:
    """The fits without a current result file, as :func:`_job` arguments: (the continuation chain, in lambda
    order; the independent fits)."""
    parallel, chain = [], []
    for cond, lams, ml in plan:
        todo = [(float(lam), "sm") for lam in sorted(lams)] + ([(0.0, "ml")] if ml else [])
        for seed in seeds:
            previous = None
            for lam, estimator in todo:
                path = runs_dir / run_name(cond, lam, seed, estimator)
                cont = cond.init == "continuation" and estimator == "sm"
                init_path = str(previous.with_suffix(".safetensors")) if cont and previous is not None else None
                if cont:
                    previous = path
                settings = _run_settings(cond, lam, seed, limit, n_test, estimator, init_path)
                if not cache.is_current(read_stamp(path), settings):
                    job = (dataclasses.asdict(cond), lam, seed, str(path), device, limit, n_test, estimator, init_path,
                           cache)
                    (chain if cont else parallel).append(job)
    return chain, parallel
