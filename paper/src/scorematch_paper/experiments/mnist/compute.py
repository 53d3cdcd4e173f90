"""The MNIST experiment's computation: the training sweep (cached models, parallel) and the cached evaluations."""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scorematch.energies import ProductOfExperts
from scorematch.io.tables import write_csv, write_json
from scorematch.parallel import map_jobs
from scorematch.serialization import load, save
from scorematch_paper.experiments.cache import Cache
from scorematch_paper.experiments.mnist.config import TRAIN_FIELDS, MnistConfig
from scorematch_paper.experiments.mnist.figures import plot
from scorematch_paper.experiments.mnist.model import (
    MnistData,
    average_log_likelihood,
    classification_error,
    expert_features,
    load_data,
    model_name,
    train_model,
)
from scorematch_paper.experiments.mnist.summaries import classification_rows, loglik_rows, summary

logger = logging.getLogger(__name__)


def _model_path(out_dir: Path, param: str, lam: float, is_long: bool) -> Path:
    return Path(out_dir) / "models" / f"{model_name(param, lam, long=is_long)}.safetensors"


def _model_settings(param: str, lam: float, is_long: bool, config: MnistConfig) -> dict[str, Any]:
    cfg = config.long() if is_long else config
    return {**cfg.settings(*TRAIN_FIELDS), "lam": lam, "parameterization": param}


@functools.lru_cache(maxsize=1)
def _cached_data(n_train: int, n_test: int, seed: int) -> MnistData:
    return load_data(n_train=n_train, n_test=n_test, seed=seed)


def _train_job(job: tuple[str, str, float, bool, MnistConfig, bool, Cache]) -> tuple[str, float]:
    """Train one model of the sweep and save it with its curve; runs in a worker process under ``jobs > 1``."""
    out_dir, param, lam, is_long, config, progress, cache = job
    cache.check_code()
    out_dir = Path(out_dir)
    cfg = config.long() if is_long else config
    data = _cached_data(config.n_train, config.n_test, config.seed)
    name = model_name(param, lam, long=is_long)
    t0 = time.perf_counter()
    model, history = train_model(data, lam, param=param, config=cfg, progress=progress)
    seconds = time.perf_counter() - t0
    write_csv(out_dir / "training" / f"{name}.csv", history)
    save(model, _model_path(out_dir, param, lam, is_long),
         metadata={"lam": lam, "parameterization": param,
                   "stamp": cache.stamp(_model_settings(param, lam, is_long, config)),
                   "train": cfg.train_config().to_dict(), "n_train": cfg.n_train,
                   "data": "MNIST 2x2-block-averaged to 14x14, [0, 1]", "seconds": seconds})
    return name, seconds


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def run(out_dir: Path, *, quick: bool = False, progress: bool = True,
        config: MnistConfig | None = None, threads: int | None = 1, jobs: int = 1,
        cache: Cache | None = None) -> dict[str, Any]:
    """Train the sweep, evaluate likelihoods and classification, write results, then plot.

    Stages whose result files are current for ``cache`` (the same settings and code) are skipped, and so are
    model files saved with a current stamp, so an interrupted run resumes and ``plot`` can be rerun alone.

    Parameters
    ----------
    out_dir : Path
    quick : bool
        Use :meth:`MnistConfig.quick` (a smoke test) unless ``config`` is given.
    progress : bool
        Show progress bars.
    config : MnistConfig, optional
    threads : int or None
        Torch threads while the experiment runs (restored afterwards); None keeps the current setting.
        One thread is the default: the matrices are small (196 x 196), and on a shared 2-core machine
        more threads made training about ten times slower, not faster.
    jobs : int
        Worker processes for the training sweep (:func:`scorematch.parallel.map_jobs`; one torch thread
        each on a 2-core machine); the models are the same as a serial run's.
    cache : Cache, optional
        What may be reused (default: a new :class:`~scorematch_paper.experiments.cache.Cache`).

    Returns
    -------
    dict
        :func:`summary` of the results.
    """
    with _torch_threads(threads):
        return _run(out_dir, quick=quick, progress=progress, config=config, n_jobs=jobs, cache=cache or Cache())


def _run(out_dir: Path, *, quick: bool, progress: bool, config: MnistConfig | None, n_jobs: int,
         cache: Cache) -> dict[str, Any]:
    config = config or (MnistConfig.quick() if quick else MnistConfig())
    out_dir = Path(out_dir)
    (out_dir / "models").mkdir(parents=True, exist_ok=True)
    (out_dir / "training").mkdir(exist_ok=True)
    t_start = time.perf_counter()
    write_json(out_dir / "config.json", {"mnist": config.to_dict(), "train": config.train_config().to_dict()})
    data = _cached_data(config.n_train, config.n_test, config.seed)
    timings = _train_sweep(out_dir, config, progress, n_jobs, cache)
    models, long_models = _load_models(out_dir, config)
    rows = cache.json(out_dir / "loglik.json", config.settings(*TRAIN_FIELDS, "lambdas", "parameterizations", "n_test"),
                      lambda: _loglik_table(models, data))
    write_csv(out_dir / "loglik.csv", rows)
    clf_settings = config.settings(*TRAIN_FIELDS, "lambdas", "parameterizations", "n_test", "per_class", "n_draws",
                                   "clf_c")
    rows = cache.json(out_dir / "classification.json", clf_settings,
                      lambda: _classification_table(models, data, config))
    write_csv(out_dir / "classification.csv", rows)
    if long_models:
        long_settings = config.long().settings(*TRAIN_FIELDS, "long_lambdas", "n_test", "per_class", "n_draws",
                                               "clf_c")
        rows = cache.json(out_dir / "long.json", long_settings, lambda: _long_table(long_models, data, config, out_dir))
        write_csv(out_dir / "long.csv", rows)
    write_json(out_dir / "digits.json", {"digits": data.x_test[:16].tolist()})  # shown beside the filters
    results = summary(out_dir)
    results["seconds"] = {"total": time.perf_counter() - t_start, "training": timings}
    write_json(out_dir / "results.json", results)
    plot(out_dir)
    return results


def _sweep_runs(config: MnistConfig) -> list[tuple[str, float, bool]]:
    """(parameterization, lambda, long) of every model: the sweep, then the longer runs of the convergence check."""
    runs = [(p, lam, False) for p in config.parameterizations for lam in config.lambdas]
    if "free" in config.parameterizations:
        runs += [("free", lam, True) for lam in config.long_lambdas]
    return runs


def _train_sweep(out_dir: Path, config: MnistConfig, progress: bool, n_jobs: int, cache: Cache) -> dict[str, float]:
    """Train the models without a current file (one model file and one training curve each) over ``n_jobs``
    processes, the long runs first; returns the training seconds per model trained now."""
    runs = _sweep_runs(config)
    todo = [(str(out_dir), param, lam, is_long, config, progress and n_jobs == 1, cache)
            for param, lam, is_long in sorted(runs, key=lambda j: not j[2])
            if not cache.model_is_current(_model_path(out_dir, param, lam, is_long),
                                          _model_settings(param, lam, is_long, config))]
    logger.info("mnist: %d of %d models to train (%d jobs)", len(todo), len(runs), n_jobs)
    timings: dict[str, float] = {}
    for name, seconds in map_jobs(_train_job, todo, jobs=n_jobs):
        timings[name] = seconds
        logger.info("%s trained in %.1f s", name, seconds)
    return timings


def _load_models(out_dir: Path, config: MnistConfig) -> tuple[dict[tuple[str, float], ProductOfExperts],
                                                               dict[float, ProductOfExperts]]:
    """The sweep's models by (parameterization, lambda) and the long runs' by lambda."""
    models, long_models = {}, {}
    for param, lam, is_long in _sweep_runs(config):
        model = load(_model_path(out_dir, param, lam, is_long), expect=ProductOfExperts)
        if is_long:
            long_models[lam] = model
        else:
            models[(param, lam)] = model
    return models, long_models


def _loglik_table(models: dict[tuple[str, float], ProductOfExperts], data: MnistData) -> list[dict[str, Any]]:
    """Exact log-likelihoods (train and test, per image and per pixel) and filter statistics per model."""
    rows = []
    dim = data.x_train.shape[1]
    for (param, lam), model in models.items():
        ll_tr = average_log_likelihood(model, data.x_train)
        ll_te = average_log_likelihood(model, data.x_test)
        norms = model.filters.detach().norm(dim=1)
        rows.append({
            "parameterization": param, "lam": lam,
            "train_loglik": ll_tr, "test_loglik": ll_te,
            "train_loglik_per_pixel": ll_tr / dim, "test_loglik_per_pixel": ll_te / dim,
            "logabsdet": float(torch.linalg.slogdet(model.filters.detach().double()).logabsdet),
            "filter_norm_min": float(norms.min()), "filter_norm_max": float(norms.max()),
        })
    return rows


def _errors(model: ProductOfExperts | None, data: MnistData, config: MnistConfig) -> list[float]:
    """Test errors of the classifier on ``model``'s expert features (raw pixels for None), one per draw."""
    if model is None:
        f_tr, f_te = data.x_train.double().numpy(), data.x_test.double().numpy()
    else:
        f_tr, f_te = expert_features(model, data.x_train), expert_features(model, data.x_test)
    return classification_error(f_tr, data.y_train, f_te, data.y_test, per_class=config.per_class,
                                n_draws=config.n_draws, c=config.clf_c, seed=config.seed)


def _error_stats(errs: list[float]) -> dict[str, float]:
    return {"error_mean": float(np.mean(errs)), "error_std": float(np.std(errs, ddof=1)) if len(errs) > 1 else 0.0}


def _classification_table(models: dict[tuple[str, float], ProductOfExperts], data: MnistData,
                          config: MnistConfig) -> list[dict[str, Any]]:
    """Classification with ``config.per_class`` digits per class over several draws; raw pixels first."""
    rows = []
    for param, lam, model in [("raw", math.nan, None)] + [(p, lam, m) for (p, lam), m in models.items()]:
        errs = _errors(model, data, config)
        rows.append({"features": param, "lam": lam, **_error_stats(errs), "errors": " ".join(f"{e:.4f}" for e in errs)})
        logger.info("classification %s lam=%g: %.4f", param, lam, np.mean(errs))
    return rows


def _long_table(long_models: dict[float, ProductOfExperts], data: MnistData, config: MnistConfig,
                out_dir: Path) -> list[dict[str, Any]]:
    """The convergence check: the longer-trained free-filter models beside the sweep's at the same lambda."""
    main_ll = {r["lam"]: r for r in loglik_rows(out_dir) if r["parameterization"] == "free"}
    main_err = {r["lam"]: r for r in classification_rows(out_dir) if r["features"] == "free"}
    return [{
        "lam": lam, "steps": config.long_steps,
        "train_loglik": average_log_likelihood(model, data.x_train),
        "test_loglik": average_log_likelihood(model, data.x_test),
        **_error_stats(_errors(model, data, config)),
        "main_steps": config.steps,
        "main_test_loglik": main_ll[lam]["test_loglik"] if lam in main_ll else math.nan,
        "main_error_mean": main_err[lam]["error_mean"] if lam in main_err else math.nan,
    } for lam, model in long_models.items()]
