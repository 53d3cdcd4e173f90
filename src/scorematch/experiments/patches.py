"""Figure 2d: exact held-out log-likelihood of natural-image patches versus lambda (square PoE).

A square Product of Student-t experts (8x8 patches, D = M = 64, ``alpha = 1``, ``c = e^1.5``) is fit by
regularized score matching for each lambda of a sweep; its exact log-likelihood
``log|det W| - sum_i g_n(w_i^T x)`` is averaged over 10,000 random patches of held-out images, on the
[0, 1] pixel scale (nats per patch).

The paper found the optimum near ``lambda = 1e-5`` and a clear drop towards ``lambda = 0``. The paper
does not say how the data were prepared or how long the models were trained, so the sweep is run
under several *conditions*, each a change of one thing against the ``baseline`` (see
:data:`CONDITIONS`): free or unit-norm filters, quantized (8-bit) or dequantized training data,
flat/saturated patches kept or removed, patch size, training length/optimizer, and BSDS JPEG sources
converted to gray in float or rounded to 8 bits. Every model is also scored on *dequantized* test patches
(one uniform grey level of noise added), which a continuous density can be fairly judged on, and a
full-covariance Gaussian fit to the same training patches is the reference line.

Models are trained with full-batch L-BFGS on a fixed set of training patches (5,000; 30 L-BFGS steps of 20
iterations), so that differences between lambdas reflect the objective rather than minibatch noise. The
SM objective of this model is hard to optimize: from random filters L-BFGS stops far from its optimum (the
ML fit has a *lower* SM objective than such a run), so the baseline starts from the ZCA whitening matrix,
and two more initializations (``random_init``; ``continuation`` from the next smaller lambda's fit) are
run on the same data. :func:`selected_by_objective` then keeps, per lambda, the fit with the lowest
*training* objective, the actual regularized-SM estimate. The held-out log-likelihood is also recorded
along training (``curve`` in each run's JSON) to show the effect of training length, and every fit records
the unregularized SM objective on its training patches (``sm_objective``).

``run(out_dir, quick=...)`` computes (resumable: one JSON per model), ``plot(out_dir)`` draws the figures
from the result files, ``summary(out_dir)`` returns the headline table.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..datasets import PatchSampler, dequantize, load_images, split_images
from ..energies import ProductOfExperts
from ..estimators import score_matching_loss
from ..io.atomic import atomic_path
from ..io.tables import write_csv
from ..parallel import map_jobs
from ..serialization import save
from ..train import DivergenceError, fit
from .cache import Cache, read_stamp

__all__ = ["Condition", "CONDITIONS", "LAMBDAS", "run", "plot", "summary", "prepare_data", "train_and_score"]

logger = logging.getLogger(__name__)

#: The lambda sweep: the paper's Figure 2d axis (1e-7 .. 1e-2), plus 0 and two larger values, because on
#: the [0, 1] scale the measured optimum lies above 1e-2 for 8-bit data.
LAMBDAS: tuple[float, ...] = (0.0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
QUICK_LAMBDAS: tuple[float, ...] = (0.0, 1e-5, 1e-3)
#: The bundled sample of BSDS300 training JPEGs (colour), used by the ``jpeg_*`` conditions.
JPEG_SAMPLE = "bsds300-sample"


@dataclass(frozen=True)
class Condition:
    """How the data are prepared and the model is trained for one lambda sweep.

    Attributes
    ----------
    name : str
    source : str
        ``"train400"`` (8-bit gray PNGs), ``"bsds300-sample"`` (colour JPEGs) or a folder.
    patch_size : int
    normalize_filters : bool
        Unit-norm filters (then, with ``alpha = 1``, the model has no free scale).
    quantize8 : bool
        Round gray values to multiples of 1/255 after loading (what an 8-bit gray conversion does;
        the PNGs are already quantized, the JPEGs' float luma is not).
    dequantize_train : bool
        Add uniform noise of one grey level, ``(u - 1/2) / 255``, to the training patches.
    drop_flat : bool
        Remove training patches that contain a saturated pixel (0 or 1) or are exactly constant.
    optimizer : str
        ``"lbfgs"`` (full batch) or ``"adam"`` (minibatches of 100, cosine schedule).
    steps : int
        L-BFGS outer steps (20 iterations each) or Adam steps.
    lr : float
    n_train : int
        Training patches (drawn once, with a fixed seed).
    holdout : float
        Fraction of the images held out for the test patches.
    init : str
        Initial filters: ``"random"`` (Gaussian rows of norm about 1), ``"zca"`` (the ZCA whitening
        matrix ``C^{-1/2}`` of the training patches, scaled by ``init_scale``) or ``"continuation"``
        (the model of the next smaller lambda of the same sweep; ZCA for the smallest).
    init_scale : float
    """

    name: str
    source: str = "train400"
    patch_size: int = 8
    normalize_filters: bool = False
    quantize8: bool = False
    dequantize_train: bool = False
    drop_flat: bool = False
    optimizer: str = "lbfgs"
    steps: int = 30
    lr: float = 1.0
    n_train: int = 5_000
    holdout: float = 0.1
    init: str = "random"
    init_scale: float = 1.0

    def key(self) -> str:
        d = dataclasses.asdict(self)
        if d["init"] == "random" and d["init_scale"] == 1.0:  # keys of runs made before these fields existed
            del d["init"], d["init_scale"]
        blob = json.dumps(d, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]


_BASE = Condition("baseline", init="zca")
#: The conditions: each changes one thing against ``baseline`` (Train400 8-bit PNGs, 8x8, free filters,
#: ZCA-initialized, full-batch L-BFGS).
CONDITIONS: tuple[Condition, ...] = (
    _BASE,
    dataclasses.replace(_BASE, name="dequantized_train", dequantize_train=True),
    dataclasses.replace(_BASE, name="no_flat_or_saturated", drop_flat=True),
    dataclasses.replace(_BASE, name="normalized_filters", normalize_filters=True),
    dataclasses.replace(_BASE, name="jpeg_float_gray", source=JPEG_SAMPLE, holdout=0.25),
    dataclasses.replace(_BASE, name="jpeg_8bit_gray", source=JPEG_SAMPLE, holdout=0.25, quantize8=True),
    dataclasses.replace(_BASE, name="random_init", init="random"),
    dataclasses.replace(_BASE, name="continuation", init="continuation"),
    dataclasses.replace(_BASE, name="short_adam_random_init", init="random", optimizer="adam", steps=500, lr=0.01),
    dataclasses.replace(_BASE, name="long_lbfgs", steps=150),
    dataclasses.replace(_BASE, name="patch_12x12", patch_size=12),
)
QUICK_CONDITIONS: tuple[Condition, ...] = (
    dataclasses.replace(_BASE, n_train=2000, steps=3),
)


def _cond(name: str) -> Condition:
    return next(c for c in CONDITIONS if c.name == name)


#: The default full run: (condition, lambdas, also fit by maximum likelihood). The baseline sweep is
#: complete; the others use fewer lambdas (about a minute per model on 2 shared CPU cores). The other
#: conditions of :data:`CONDITIONS` are not run by default: pass ``conditions=`` to run them.
PLAN: tuple[tuple[Condition, tuple[float, ...], bool], ...] = (
    (_cond("baseline"), LAMBDAS, True),
    (_cond("dequantized_train"), (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2), False),
    (_cond("random_init"), (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0), False),
    (_cond("continuation"), LAMBDAS, False),
    (_cond("no_flat_or_saturated"), (0.0, 1e-5, 1e-3, 1e-2), False),
    (_cond("normalized_filters"), (0.0, 1e-5, 1e-2), False),
    (_cond("jpeg_float_gray"), (0.0, 1e-5, 1e-3, 1e-2), False),
    (_cond("short_adam_random_init"), (0.0, 1e-6, 1e-5, 1e-4), False),
    (_cond("long_lbfgs"), (0.0, 1e-5), False),
)

TITLE = "Natural-image patches: log-likelihood vs lambda (Figure 2d) and the CD-1 FoE (Figure 2i)"

N_TEST = 10_000
QUICK_N_TEST = 2000


@functools.lru_cache(maxsize=8)
def _images(source: str, quantize8: bool, limit: int | None) -> tuple[Tensor, ...]:
    ims = load_images(source, limit=limit, dtype=torch.float64)
    if quantize8:
        ims = [torch.round(im * 255) / 255 for im in ims]
    return tuple(ims)


def prepare_data(cond: Condition, *, n_test: int = N_TEST, limit: int | None = None) -> dict[str, Tensor]:
    """Training and held-out test patches of a condition, float64, shape (N, patch_size**2), [0, 1].

    Returns
    -------
    dict with ``train`` (N_train, D), ``test`` (n_test, D) and ``test_dequantized`` (n_test, D): the same
    test patches plus uniform noise of one grey level (1/255).
    """
    ims = list(_images(cond.source, cond.quantize8, limit))
    train_ims, test_ims = split_images(ims, holdout=cond.holdout)
    size = cond.patch_size
    g = torch.Generator().manual_seed(0)
    draw = cond.n_train * (3 if cond.drop_flat else 1)
    x = PatchSampler(train_ims, size, flatten=True)(draw, g)  # (draw, D)
    if cond.drop_flat:
        bad = ((x <= 0) | (x >= 1)).any(1) | (x.amax(1) == x.amin(1))
        x = x[~bad]
        if len(x) < cond.n_train:
            raise ValueError(f"only {len(x)} patches left after dropping flat/saturated ones")
    x = x[: cond.n_train]
    if cond.dequantize_train:
        x = dequantize(x, g)
    gt = torch.Generator().manual_seed(12345)
    test = PatchSampler(test_ims, size, flatten=True)(n_test, gt)
    test_dq = dequantize(test, gt)
    return {"train": x, "test": test, "test_dequantized": test_dq}


def _stats(v: Tensor) -> tuple[float, float]:
    return float(v.mean()), float(v.std() / math.sqrt(len(v)))


def data_statistics(data: dict[str, Tensor]) -> dict[str, Any]:
    """Quantization facts of the patches: flat and saturated fractions, exact ties between neighbours."""
    out: dict[str, Any] = {}
    for name in ("train", "test"):
        x = data[name]
        k = math.isqrt(x.shape[1])
        img = x.view(-1, k, k)  # (N, k, k)
        out[name] = {
            "n": len(x),
            "flat_fraction": float((x.amax(1) == x.amin(1)).double().mean()),
            "saturated_fraction": float(((x <= 0) | (x >= 1)).any(1).double().mean()),
            "equal_horizontal_neighbours": float((img[:, :, 1:] == img[:, :, :-1]).double().mean()),
        }
    x = data["train"]
    mu, cov = x.mean(0), torch.cov(x.T)
    gauss = torch.distributions.MultivariateNormal(mu, cov)
    out["gaussian_ll"] = _stats(gauss.log_prob(data["test"]))[0]
    out["gaussian_ll_dequantized"] = _stats(gauss.log_prob(data["test_dequantized"]))[0]
    return out


def train_and_score(
    cond: Condition,
    lam: float,
    data: dict[str, Tensor],
    *,
    seed: int = 0,
    device: str = "cpu",
    model_path: Path | None = None,
    n_curve: int = 20,
    estimator: str = "sm",
    init_path: Path | None = None,
) -> dict[str, Any]:
    """Train one square PoE by regularized SM (or, ``estimator="ml"``, by maximum likelihood, the
    reference of what this model family can reach) and score it on the held-out patches.

    Returns
    -------
    dict with the held-out log-likelihoods (nats per patch, raw and dequantized test patches, with
    standard errors), the final loss, filter-norm statistics, training seconds and ``curve``: the
    held-out log-likelihood along training.
    """
    dev = torch.device(device)
    d = data["train"].shape[1]
    model = ProductOfExperts(
        d, d, learn_alpha=False, normalize_filters=cond.normalize_filters,
        generator=torch.Generator().manual_seed(seed),
    ).double()
    if init_path is not None:  # continuation: start from another fit's filters
        from ..serialization import load

        with torch.no_grad():
            model.filter_layer.raw_weight.copy_(load(init_path).filter_layer.raw_weight.double())
    elif cond.init in ("zca", "continuation"):
        cov = torch.cov(data["train"].T)  # (D, D)
        evals, evecs = torch.linalg.eigh(cov)
        zca = evecs @ torch.diag(evals.clamp_min(1e-12) ** -0.5) @ evecs.T  # C^{-1/2}
        with torch.no_grad():
            model.filter_layer.raw_weight.copy_(cond.init_scale * zca)
    elif cond.init != "random":
        raise ValueError(f'init must be "random", "zca" or "continuation", got {cond.init!r}')
    model = model.to(dev)
    x = data["train"].to(dev)
    test, test_dq = data["test"].to(dev), data["test_dequantized"].to(dev)
    lbfgs = cond.optimizer == "lbfgs"
    log_every = max(1, cond.steps // n_curve)
    curve: list[dict[str, float]] = []

    def record(step: int, value: float, energy: ProductOfExperts) -> None:
        with torch.no_grad():
            curve.append({"step": step, "loss": value, "ll": float(energy.log_likelihood(test).mean()),
                          "ll_dequantized": float(energy.log_likelihood(test_dq).mean())})

    if estimator == "sm":
        loss = functools.partial(score_matching_loss, lam=lam)
    elif estimator == "ml":
        def loss(energy: ProductOfExperts, batch: Tensor) -> Tensor:
            return -energy.log_likelihood(batch).mean()
    else:
        raise ValueError(f'estimator must be "sm" or "ml", got {estimator!r}')
    t0 = time.perf_counter()
    diverged = None
    try:
        fit(model, x, loss, optimizer=cond.optimizer, steps=cond.steps, lr=cond.lr, seed=seed,
            batch_size=None if lbfgs else 100, schedule="constant" if lbfgs else "cosine",
            log_every=log_every, checkpoint_every=0, callback=record)
    except DivergenceError as exc:  # reported in the results; NaN parameters give a NaN likelihood
        diverged = str(exc)
        logger.warning("%s lambda=%g: %s", cond.name, lam, exc)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
        w = model.filters
        norms = w.norm(dim=1)
        ll = model.log_likelihood(test) if finite else torch.full((len(test),), math.nan)
        ll_dq = model.log_likelihood(test_dq) if finite else torch.full((len(test),), math.nan)
        z = test @ w.T  # (N, M) filter responses
        core = float((z.abs() < math.sqrt(2) / model.c).double().mean()) if finite else math.nan
        logdet = float(torch.linalg.slogdet(w).logabsdet) if finite else math.nan
    # The unregularized SM objective on the training patches, for every estimator: comparing it between an
    # SM run and the ML fit tells whether the SM optimizer reached a better SM point than the ML solution.
    sm_objective = float(score_matching_loss(model, x).detach()) if finite else math.nan
    result = {
        "condition": cond.name,
        "estimator": estimator,
        "lambda": lam,
        "seed": seed,
        "ll": _stats(ll.cpu())[0],
        "ll_sem": _stats(ll.cpu())[1],
        "ll_dequantized": _stats(ll_dq.cpu())[0],
        "ll_dequantized_sem": _stats(ll_dq.cpu())[1],
        "final_loss": curve[-1]["loss"] if curve else math.nan,
        "sm_objective": sm_objective,
        "logdet": logdet,
        "filter_norm_median": float(norms.median()),
        "filter_norm_max": float(norms.max()),
        "core_fraction": core,
        "seconds": seconds,
        "diverged": diverged,
        "curve": curve,
    }
    if model_path is not None and finite:
        save(model.cpu(), model_path, metadata={
            "experiment": "patches (Figure 2d)", "condition": dataclasses.asdict(cond), "lambda": lam,
            "estimator": "maximum likelihood" if estimator == "ml" else "regularized score matching",
            "seed": seed, "scale": "[0, 1]", "ll": result["ll"],
        })
    return result


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


def _run_name(cond: Condition, lam: float, seed: int, estimator: str = "sm") -> str:
    tag = f"lam{lam:g}" if estimator == "sm" else estimator
    return f"{cond.name}__{tag}__s{seed}__{cond.key()}.json"


#: The paper's reported optimum for natural-image patches (Figure 2d).
PAPER_BEST_LAM = 1e-5


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
    train the CD-1 FoE of Figure 2i (:mod:`scorematch.experiments.cd_foe`) into ``out_dir / "cd_foe"``.

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
        What may be reused (default: a new :class:`~scorematch.experiments.cache.Cache`): a fit whose result
        file is current for its settings and the code is not run again.

    Returns
    -------
    dict
        :func:`summary` of the results.
    """
    out_dir = Path(out_dir)
    cache = cache or Cache()
    runs_dir = out_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    if ml_reference is None:
        ml_reference = not quick
    if conditions is not None:
        plan = [(c, tuple(lambdas or LAMBDAS), ml_reference) for c in conditions]
    elif quick:
        plan = [(c, tuple(lambdas or QUICK_LAMBDAS), ml_reference) for c in QUICK_CONDITIONS]
    else:
        plan = [(c, tuple(lambdas or lams), ml and ml_reference) for c, lams, ml in PLAN]
    limit = 60 if quick else None
    n_test = QUICK_N_TEST if quick else N_TEST
    # Data statistics and the Gaussian reference, once per condition (one file each).
    for cond, _, _ in plan:
        data_file = out_dir / f"data__{cond.name}__{cond.key()}.json"
        data_settings = {"condition": dataclasses.asdict(cond), "n_test": n_test, "limit": limit}
        if not cache.is_current(read_stamp(data_file), data_settings):
            stats = {"condition": cond.name, "settings": dataclasses.asdict(cond), "stamp": cache.stamp(data_settings),
                     **data_statistics(_cached_data(cond, n_test, limit))}
            with atomic_path(data_file) as tmp:
                tmp.write_text(json.dumps(stats, indent=1))
    parallel, chain = [], []
    for cond, lams, ml in plan:
        todo = [(float(lam), "sm") for lam in sorted(lams)] + ([(0.0, "ml")] if ml else [])
        for seed in seeds:
            previous = None
            for lam, estimator in todo:
                path = runs_dir / _run_name(cond, lam, seed, estimator)
                cont = cond.init == "continuation" and estimator == "sm"
                init_path = str(previous.with_suffix(".safetensors")) if cont and previous is not None else None
                if cont:
                    previous = path
                settings = _run_settings(cond, lam, seed, limit, n_test, estimator, init_path)
                if not cache.is_current(read_stamp(path), settings):
                    job = (dataclasses.asdict(cond), lam, seed, str(path), device, limit, n_test, estimator, init_path,
                           cache)
                    (chain if cont else parallel).append(job)
    logger.info("patches: %d models to train", len(parallel) + len(chain))
    # The continuation chain is one job (each fit starts from the previous lambda's model), run beside the
    # independent fits; the longest first.
    units = ([chain] if chain else []) + [[j] for j in parallel]
    for results in map_jobs(_fit_in_order, units, jobs=jobs if device == "cpu" else 1):
        for r in results:
            if progress:
                logger.info("%s %s lambda=%g: ll %.2f (%.0f s)", r["condition"], r["estimator"], r["lambda"],
                            r["ll"], r["seconds"])
    _write_table(out_dir)
    plot(out_dir)
    if cd:
        from . import cd_foe

        cd_foe.run(out_dir / "cd_foe", quick=quick, progress=progress,
                   device="cuda" if torch.cuda.is_available() and not quick else "cpu", cache=cache)
    return summary(out_dir)


_COLUMNS = ("condition", "estimator", "lambda", "seed", "ll", "ll_sem", "ll_dequantized", "ll_dequantized_sem", "final_loss",
            "sm_objective",
            "logdet", "filter_norm_median", "filter_norm_max", "core_fraction", "seconds", "diverged")


def _write_table(out_dir: Path) -> None:
    runs = _load_runs(out_dir) + _load_runs(out_dir, "ml")
    runs.sort(key=lambda r: (r["condition"], r.get("estimator", "sm"), r["lambda"], r["seed"]))
    rows = [{k: r.get(k, "sm" if k == "estimator" else None) for k in _COLUMNS} for r in runs]
    write_csv(out_dir / "results.csv", rows, columns=_COLUMNS)


def _load_stats(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Per condition name: data statistics and the Gaussian reference (``data__*.json``)."""
    out = {}
    for p in sorted(out_dir.glob("data__*.json")):
        st = json.loads(p.read_text())
        out[st["condition"]] = st
    return out


def _load_runs(out_dir: Path, estimator: str = "sm") -> list[dict[str, Any]]:
    runs = [json.loads(p.read_text()) for p in sorted((out_dir / "runs").glob("*.json"))]
    return [r for r in runs if r.get("estimator", "sm") == estimator]


def plot(out_dir: str | os.PathLike) -> list[Path]:
    """Draw Figure 2d (held-out log-likelihood vs lambda, one line per condition), the training-length
    curves and the filters of the baseline at lambda = 0 and at its best lambda, from the result files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import load
    from .filter_grid import save_filter_grid

    out_dir = Path(out_dir)
    runs = _load_runs(out_dir)
    if not runs:
        raise FileNotFoundError(f"no results in {out_dir / 'runs'}; run the experiment first")
    ml = {r["condition"]: r for r in _load_runs(out_dir, "ml")}
    stats = _load_stats(out_dir)
    by_cond: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by_cond.setdefault(r["condition"], []).append(r)
    lams = sorted({r["lambda"] for r in runs})
    floor = min(l for l in lams if l > 0) / 10 if any(l > 0 for l in lams) else 1e-8

    def xs(rs):
        return [r["lambda"] if r["lambda"] > 0 else floor for r in rs]

    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for (name, rs), color in zip(sorted(by_cond.items()), plt.cm.tab10.colors):
        rs = sorted(rs, key=lambda r: r["lambda"])
        gauss = stats.get(name)
        for ax, key in zip(axes, ("ll", "ll_dequantized")):
            ax.errorbar(xs(rs), [r[key] for r in rs], yerr=[r[key + "_sem"] for r in rs], marker="o", ms=3,
                        color=color, label=name)
            if gauss is not None:
                ax.axhline(gauss["gaussian_ll" + ("" if key == "ll" else "_dequantized")], color=color, ls=":",
                           lw=0.8)
            if name in ml:
                ax.axhline(ml[name][key], color=color, ls="--", lw=0.8)
    for ax, title in zip(axes, ("raw 8-bit test patches", "dequantized test patches (+U(-1/2, 1/2)/255)")):
        ax.axvline(PAPER_BEST_LAM, color="0.4", ls="-.", lw=1)  # the paper's reported optimum
        ax.set_xscale("log")
        ax.set_xlabel(f"lambda (lambda = 0 drawn at {floor:g}; dash-dot: the paper's optimum {PAPER_BEST_LAM:g})")
        ax.set_ylabel("held-out log-likelihood (nats per patch)")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    sel = selected_by_objective(runs)
    if sel:
        for ax, key in zip(axes, ("ll", "ll_dequantized")):
            ax.plot(xs(sel), [r[key] for r in sel], color="black", lw=4, alpha=0.3, marker="s", ms=7, zorder=0,
                    label="8-bit Train400: lowest training objective of " + "/".join(SELECTION_GROUP))
    for ax in axes:
        finite = [r[k] for r in runs for k in ("ll", "ll_dequantized") if r[k] == r[k]]
        if finite:  # keep the informative range visible; collapsed fits fall off the bottom
            top = max(finite + [s.get("gaussian_ll", -math.inf) for s in stats.values()])
            ax.set_ylim(max(min(finite), top - 400), top + 20)
    axes[0].legend(fontsize=6)
    fig.suptitle("Figure 2d: square PoE on natural-image patches, [0, 1] scale (dotted: Gaussian fit; dashed: same PoE fit by maximum likelihood)",
                 fontsize=9)
    fig.tight_layout()
    paths.append(_savefig(fig, out_dir / "fig2d_loglik_vs_lambda.png"))
    plt.close(fig)

    base = sorted(by_cond.get("baseline", []), key=lambda r: r["lambda"])
    if base and base[0].get("curve"):
        fig, ax = plt.subplots(figsize=(6, 4))
        small = [r for r in base if r["lambda"] <= 1e-5]  # larger lambdas collapse from this start (see table)
        long = sorted(by_cond.get("long_lbfgs", []), key=lambda r: r["lambda"])
        for r, color in zip(small, plt.cm.viridis([i / max(1, len(small) - 1) for i in range(len(small))])):
            c = r["curve"]
            ax.plot([p["step"] for p in c], [p["ll"] for p in c], color=color, label=f"lambda={r['lambda']:g}")
            twin = next((q for q in long if q["lambda"] == r["lambda"]), None)
            if twin is not None:
                ax.plot([p["step"] for p in twin["curve"]], [p["ll"] for p in twin["curve"]], color=color, ls="--",
                        label=f"lambda={r['lambda']:g}, {twin['settings']['steps']} steps")
        ax.set_xlabel("optimizer step (L-BFGS: 20 iterations each)" if base[0]["settings"]["optimizer"] == "lbfgs"
                      else "optimizer step")
        ax.set_ylabel("held-out log-likelihood (nats per patch)")
        ax.set_title("baseline: held-out log-likelihood along training", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        paths.append(_savefig(fig, out_dir / "fig2d_training_length.png"))
        plt.close(fig)
        sel = [r for r in selected_by_objective(runs) if r["ll"] == r["ll"]] or [r for r in base if r["ll"] == r["ll"]]
        best = max(sel, key=lambda r: r["ll"]) if sel else None  # the best lambda of the selected curve
        for r, tag in ((base[0], "lambda0"), (best, "best")):
            if r is None:
                continue
            model_file = out_dir / "runs" / _run_name(Condition(**r["settings"]), r["lambda"], r["seed"])
            model_file = model_file.with_suffix(".safetensors")
            if model_file.is_file():
                w = load(model_file).filters.detach()
                order = torch.argsort(w.norm(dim=1), descending=True)
                paths.append(save_filter_grid(
                    w[order], out_dir / f"fig2d_filters_baseline_{tag}.png", ncols=8,
                    title=f"{r['condition']} PoE filters, lambda={r['lambda']:g} (sorted by norm; "
                          f"norms {float(w.norm(dim=1).min()):.3g}..{float(w.norm(dim=1).max()):.3g})"))
    return paths


def _savefig(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return path


#: Conditions that fit the same data with the same objective and differ only in the initial filters.
SELECTION_GROUP = ("baseline", "random_init", "continuation")


def selected_by_objective(runs: list[dict[str, Any]], group: tuple[str, ...] = SELECTION_GROUP) -> list[dict[str, Any]]:
    """Per lambda, the fit of ``group`` that reached the lowest *training* objective (``final_loss``).

    The estimate of regularized SM is the minimizer of its objective; when initializations end at
    different objective values, the lowest one is the better estimate. The held-out likelihood plays no
    part in the choice.
    """
    best: dict[float, dict[str, Any]] = {}
    for r in runs:
        if r["condition"] in group and r.get("estimator", "sm") == "sm" and r["final_loss"] == r["final_loss"]:
            cur = best.get(r["lambda"])
            if cur is None or r["final_loss"] < cur["final_loss"]:
                best[r["lambda"]] = r
    return [best[k] for k in sorted(best)]


def summary(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Per condition: held-out log-likelihood (raw and dequantized) at each lambda and the best lambda."""
    out_dir = Path(out_dir)
    table: dict[str, Any] = {}
    for r in _load_runs(out_dir):
        c = table.setdefault(r["condition"], {"ll": {}, "ll_dequantized": {}})
        c["ll"][f"{r['lambda']:g}"] = round(r["ll"], 2)
        c["ll_dequantized"][f"{r['lambda']:g}"] = round(r["ll_dequantized"], 2)
    for r in _load_runs(out_dir, "ml"):
        table.setdefault(r["condition"], {"ll": {}, "ll_dequantized": {}})["ml_ll"] = round(r["ll"], 2)
    for name, st in _load_stats(out_dir).items():
        if name in table:
            table[name]["gaussian_ll"] = round(st["gaussian_ll"], 2)
            table[name]["train_flat_fraction"] = st["train"]["flat_fraction"]
            table[name]["train_equal_neighbours"] = round(st["train"]["equal_horizontal_neighbours"], 4)
    for c in table.values():
        for key in ("ll", "ll_dequantized"):
            finite = {k: v for k, v in c[key].items() if v == v}
            c["best_lambda" + ("" if key == "ll" else "_dequantized")] = (
                max(finite, key=finite.get) if finite else None)
    sel = selected_by_objective(_load_runs(out_dir))
    if sel:
        table["selected_by_objective"] = {
            "ll": {f"{r['lambda']:g}": round(r["ll"], 2) for r in sel},
            "ll_dequantized": {f"{r['lambda']:g}": round(r["ll_dequantized"], 2) for r in sel},
            "from": {f"{r['lambda']:g}": r["condition"] for r in sel},
        }
        finite = {k: v for k, v in table["selected_by_objective"]["ll"].items() if v == v}
        table["selected_by_objective"]["best_lambda"] = max(finite, key=finite.get) if finite else None
    return table


def report(out_dir: str | os.PathLike) -> str:
    """Markdown section: the Figure 2d table and figures, and the CD-1 FoE filters (paths relative to the
    report's folder, the parent of ``out_dir``)."""
    out_dir = Path(out_dir)
    rel = out_dir.name
    table = summary(out_dir)
    lams = sorted({float(k) for c in table.values() for k in c["ll"]})
    lines = [
        "Square PoE (D = M = 64 for 8x8 patches, alpha = 1, c = e^1.5) fit by regularized score matching; exact "
        "log-likelihood of 10,000 random patches of held-out images, [0, 1] scale, nats per patch. ML: the same "
        "model fit by maximum likelihood; Gaussian: full-covariance Gaussian fit to the training patches. "
        "Each condition changes one thing against `baseline` (Train400 8-bit PNGs, 8x8, free filters, "
        "ZCA-initialized, 5,000 training patches, 30 L-BFGS steps). `selected_by_objective`: per lambda, the fit "
        "of " + "/".join(SELECTION_GROUP) + " with the lowest training objective (the regularized-SM estimate).",
        "",
        "| condition | " + " | ".join(f"{lam:g}" for lam in lams) + " | best lambda | ML | Gaussian |",
        "|---|" + "---|" * (len(lams) + 3),
    ]
    for name, c in table.items():
        cells = [f"{c['ll'][f'{lam:g}']:.1f}" if f"{lam:g}" in c["ll"] else "" for lam in lams]
        ml = f"{c['ml_ll']:.1f}" if "ml_ll" in c else ""
        gauss = f"{c['gaussian_ll']:.1f}" if "gaussian_ll" in c else ""
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {c.get('best_lambda')} | {ml} | {gauss} |")
    lines.append("")
    for fig, caption in (
        ("fig2d_loglik_vs_lambda.png", "Figure 2d: held-out log-likelihood vs lambda"),
        ("fig2d_training_length.png", "held-out log-likelihood along training (baseline)"),
        ("fig2d_filters_baseline_lambda0.png", "baseline filters, lambda = 0"),
        ("fig2d_filters_baseline_best.png", "filters at the best lambda of the selected curve"),
        ("cd_foe/fig2i_cd_foe_filters.png", "Figure 2i: CD-1 FoE 5x5x24 filters (whitened domain)"),
        ("cd_foe/fig2i_cd_foe_filters_raw.png", "CD-1 FoE filters composed with the whitening"),
    ):
        if (out_dir / fig).is_file():
            lines += [f"![{caption}]({rel}/{fig})", ""]
    lines.append("No pretrained Basis Rotation (Weiss & Freeman 15x15x25) model is public; the paper's column for it "
                 "cannot be reproduced here.")
    return "\n".join(lines) + "\n"
