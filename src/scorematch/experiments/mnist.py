"""MNIST: log-likelihood and classification versus lambda (Kingma & LeCun 2010, Figure 2a-c).

A square product of Student-t experts (196 experts on 14x14 = 196 pixels, ``alpha = 1``) is trained by
regularized score matching for a sweep of ``lambda``, in two parameterizations of the filters:

``free``
    Unconstrained filters ``W``. The SM loss then fixes the filters' scale; with ``alpha = 1`` and a
    normalized expert the model is exactly normalized, ``Z = |det W|^{-1}``, so this is the model whose
    likelihood the paper's formula gives. At ``lambda = 0`` the loss is unbounded below on MNIST (a filter
    on always-black pixels gains curvature ``c^2 |w|^2`` for free), so that model diverges slowly.
``unit``
    Unit-norm filters (as in Hyvarinen 2005 and the SPEC's PoE). With ``alpha = 1`` the model then has no
    free scale: the expert width ``sqrt(2)/c`` is fixed in pixel units, which limits the likelihood.

For every model the exact average log-likelihood of the training and test sets is computed with
:meth:`~scorematch.ProductOfExperts.log_likelihood` (float64), and the features ``g(w_i^T x)`` feed a
logistic-regression classifier trained on 100 random training digits per class (several draws) and
scored on the test set, beside a raw-pixel baseline.

Usage::

    from pathlib import Path
    from scorematch.experiments import mnist
    mnist.run(Path("runs/mnist"), quick=False)   # trains, evaluates, then plots
    mnist.plot(Path("runs/mnist"))               # redraws the figures from the result files
    mnist.summary(Path("runs/mnist"))            # headline numbers

Result files in ``out_dir``: ``config.json``, ``models/<param>_lam<lambda>.safetensors`` (one per model,
loadable with :func:`scorematch.load`; the metadata holds lambda and the training settings),
``training/<param>_lam<lambda>.csv`` (loss and test log-likelihood vs step), ``loglik.csv``,
``classification.csv``, ``long.csv`` (the convergence check: free filters trained longer, files with a
``_long`` suffix), ``results.json`` and the figures ``filters.png``, ``loglik.png``, ``classification.png``,
``training.png``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..config import TrainConfig
from ..datasets import downsample2x, load_mnist
from ..energies import ProductOfExperts
from ..estimators import score_matching_loss
from ..serialization import load, save
from ..parallel import map_jobs
from ..train import fit
from ..io.tables import write_csv, write_json
from .cache import Cache, read_stamp

__all__ = [
    "MnistConfig",
    "PARAMETERIZATIONS",
    "load_data",
    "train_model",
    "average_log_likelihood",
    "expert_features",
    "classification_error",
    "run",
    "plot",
    "summary",
    "report",
    "TITLE",
]

TITLE = "MNIST: log-likelihood and classification versus lambda (Figure 2a-c)"

logger = logging.getLogger(__name__)

#: Filter parameterizations: name -> ``normalize_filters``.
PARAMETERIZATIONS = {"free": False, "unit": True}

_FULL_LAMBDAS = (0.0, 1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2, 3e-2, 5e-2, 1e-1, 3e-1)


@dataclass(frozen=True)
class MnistConfig:
    """Settings of the MNIST experiment.

    Attributes
    ----------
    lambdas : tuple of float
        The regularization weights of the sweep.
    parameterizations : tuple of str
        Subset of ``("free", "unit")``.
    n_train : int
        Training digits (a seeded random subset of the 60,000) used to fit every model, and on which the
        training log-likelihood is reported.
    n_test : int
        Test digits (the first ``n_test`` of the 10,000) for the log-likelihood and the classification error.
    steps, batch_size, lr, schedule : int, int, float, str
        Adam on minibatches drawn with replacement, cosine learning-rate decay to ``lr / 100``.
    log_every : int
        Steps between rows of the training curves (loss and test log-likelihood).
    n_curve : int
        Test digits used for the log-likelihood in the training curves.
    per_class : int
        Training digits per class for the classifier.
    n_draws : int
        Independent draws of those digits.
    clf_c : float
        Inverse L2 penalty of the logistic regression (features standardized on the 1,000 training
        digits). The same value for every model and for the raw-pixel baseline.
    seed : int
        Seeds the training subset, the initial filters (the same for every lambda) and the minibatches.
    long_lambdas : tuple of float
        A convergence check: free-filter models at these lambdas are also trained for ``long_steps``
        (same schedule shape, stretched) and evaluated the same way.
    long_steps : int
    """

    lambdas: tuple[float, ...] = _FULL_LAMBDAS
    parameterizations: tuple[str, ...] = ("free", "unit")
    n_train: int = 20000
    n_test: int = 10000
    steps: int = 2000
    batch_size: int = 500
    lr: float = 1e-2
    schedule: str = "cosine"
    log_every: int = 50
    n_curve: int = 2000
    per_class: int = 100
    n_draws: int = 5
    clf_c: float = 0.1
    seed: int = 0
    long_lambdas: tuple[float, ...] = (3e-4, 1e-3, 3e-3, 1e-2, 2e-2)
    long_steps: int = 6000

    def __post_init__(self) -> None:
        if not self.lambdas or any(not lam >= 0 for lam in self.lambdas):
            raise ValueError(f"lambdas must be a non-empty tuple of values >= 0, got {self.lambdas}")
        unknown = set(self.parameterizations) - set(PARAMETERIZATIONS)
        if unknown or not self.parameterizations:
            raise ValueError(f"parameterizations must be a subset of {tuple(PARAMETERIZATIONS)}")
        if not (1 <= self.n_train <= 60000 and 1 <= self.n_test <= 10000):
            raise ValueError("n_train must be in [1, 60000] and n_test in [1, 10000]")
        if self.per_class < 1 or self.n_draws < 1 or not self.clf_c > 0:
            raise ValueError("per_class and n_draws must be >= 1 and clf_c > 0")
        if any(not lam >= 0 for lam in self.long_lambdas) or self.long_steps < 1:
            raise ValueError("long_lambdas must be >= 0 and long_steps >= 1")

    @classmethod
    def quick(cls) -> "MnistConfig":
        """A smoke-test configuration (tens of seconds): two lambdas, short training, fewer digits."""
        return cls(lambdas=(0.0, 1e-2), n_train=5000, n_test=2000, steps=400, log_every=50, n_curve=500,
                   n_draws=2, long_lambdas=(1e-2,), long_steps=800)

    def train_config(self) -> TrainConfig:
        return TrainConfig(steps=self.steps, batch_size=self.batch_size, optimizer="adam", lr=self.lr,
                           schedule=self.schedule, seed=self.seed, log_every=self.log_every, checkpoint_every=0)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["lambdas"] = list(self.lambdas)
        d["parameterizations"] = list(self.parameterizations)
        d["long_lambdas"] = list(self.long_lambdas)
        return d

    def long(self) -> "MnistConfig":
        """The configuration of the convergence check (``steps = long_steps``)."""
        return dataclasses.replace(self, steps=self.long_steps)

    def settings(self, *fields: str) -> dict[str, Any]:
        """The fields a stage's results depend on (its cache settings)."""
        d = self.to_dict()
        return {f: d[f] for f in fields}


_TRAIN_FIELDS = ("n_train", "steps", "batch_size", "lr", "schedule", "seed")


# ----------------------------------------------------------------------------------------------- data


@dataclass
class MnistData:
    """Downsampled digits: ``x_*`` of shape (N, 196) in [0, 1] (float32), ``y_*`` of shape (N,) (int64)."""

    x_train: Tensor
    y_train: np.ndarray
    x_test: Tensor
    y_test: np.ndarray


def load_data(
    *, n_train: int = 60000, n_test: int = 10000, seed: int = 0, directory: str | Path | None = None
) -> MnistData:
    """MNIST at 14x14 (2x2 block averages, [0, 1]), flattened to 196 pixels.

    Parameters
    ----------
    n_train : int
        Size of a random subset of the 60,000 training digits (drawn with ``seed``; all if 60000).
    n_test : int
        The first ``n_test`` test digits.
    seed : int
    directory : path-like, optional
        Folder with the idx files; default the bundled ``data/mnist``.

    Returns
    -------
    MnistData
    """
    images, labels = load_mnist(directory, "train")
    if n_train < images.shape[0]:
        idx = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(seed))[:n_train].numpy()
        idx.sort()
        images, labels = images[idx], labels[idx]
    test_images, test_labels = load_mnist(directory, "test")
    x_train = downsample2x(images).reshape(images.shape[0], -1)  # (N, 196)
    x_test = downsample2x(test_images[:n_test]).reshape(min(n_test, test_images.shape[0]), -1)  # (N, 196)
    return MnistData(x_train, labels.astype(np.int64), x_test, test_labels[:n_test].astype(np.int64))


# ------------------------------------------------------------------------------------- model and metrics


def _model_name(param: str, lam: float, *, long: bool = False) -> str:
    return f"{param}_lam{lam:g}" + ("_long" if long else "")


@torch.no_grad()
def average_log_likelihood(model: ProductOfExperts, x: Tensor, *, chunk: int = 5000) -> float:
    """Mean exact ``log p(x)`` in nats per image, computed in float64.

    Parameters
    ----------
    model : ProductOfExperts
        Square, ``alpha = 1``.
    x : Tensor, shape (N, D)

    Returns
    -------
    float
    """
    m64 = _as_double(model)
    total = 0.0
    for start in range(0, x.shape[0], chunk):
        total += float(m64.log_likelihood(x[start : start + chunk].double()).sum())
    return total / x.shape[0]


def _as_double(model: ProductOfExperts) -> ProductOfExperts:
    if next(model.parameters()).dtype == torch.float64:
        return model
    copy = ProductOfExperts(**model.config()).double()
    copy.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    return copy


@torch.no_grad()
def expert_features(model: ProductOfExperts, x: Tensor) -> np.ndarray:
    """The experts' outputs ``g(w_i^T x)`` used as classification features.

    Parameters
    ----------
    x : Tensor, shape (N, D)

    Returns
    -------
    numpy.ndarray, shape (N, M), float64
    """
    return model.expert(model.filter_layer(x.to(next(model.parameters()).dtype))).double().numpy()


def _class_sample(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    return np.concatenate(
        [rng.choice(np.flatnonzero(labels == k), per_class, replace=False) for k in range(10)]
    )


def classification_error(
    f_train: np.ndarray,
    y_train: np.ndarray,
    f_test: np.ndarray,
    y_test: np.ndarray,
    *,
    per_class: int = 100,
    n_draws: int = 5,
    c: float = 0.1,
    seed: int = 0,
) -> list[float]:
    """Test errors of logistic regressions fit on ``per_class`` random training examples per class.

    Each draw standardizes the features on its training sample and fits a multinomial logistic
    regression (scikit-learn, L2 penalty ``1/c``); the draws use the same seeds for every feature set.

    Parameters
    ----------
    f_train : numpy.ndarray, shape (N, F)
    y_train : numpy.ndarray, shape (N,)
    f_test : numpy.ndarray, shape (N_test, F)
    y_test : numpy.ndarray, shape (N_test,)

    Returns
    -------
    list of float
        One test error (fraction misclassified) per draw.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    errors = []
    # One BLAS thread: these problems are small, and extra threads only fight over a shared machine.
    with threadpool_limits(limits=1):
        for draw in range(n_draws):
            idx = _class_sample(y_train, per_class, np.random.default_rng([seed, draw]))
            scaler = StandardScaler().fit(f_train[idx])
            clf = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(f_train[idx]), y_train[idx])
            errors.append(float(1.0 - clf.score(scaler.transform(f_test), y_test)))
    return errors


def train_model(
    data: MnistData,
    lam: float,
    *,
    param: str = "free",
    config: MnistConfig = MnistConfig(),
    progress: bool = False,
) -> tuple[ProductOfExperts, list[dict[str, float]]]:
    """Fit one square PoE (``alpha = 1``) by regularized score matching.

    Parameters
    ----------
    data : MnistData
    lam : float
        Regularization weight (eq. 7, diagonal regularizer, exact for the PoE via Algorithm 1).
    param : {"free", "unit"}
        Filter parameterization.
    config : MnistConfig

    Returns
    -------
    model : ProductOfExperts
    history : list of dict
        Rows ``step, loss, lr, seconds, test_loglik`` (test log-likelihood on ``config.n_curve`` digits).
    """
    dim = data.x_train.shape[1]
    model = ProductOfExperts(
        dim, dim, normalize_filters=PARAMETERIZATIONS[param], learn_alpha=False,
        generator=torch.Generator().manual_seed(config.seed),
    )
    x_curve = data.x_test[: config.n_curve]
    curve: dict[int, float] = {}

    def callback(step: int, loss: float, energy: Any) -> None:
        curve[step] = average_log_likelihood(energy, x_curve)

    curve[0] = average_log_likelihood(model, x_curve)
    result = fit(model, data.x_train, functools.partial(score_matching_loss, lam=lam),
                 config=config.train_config(), progress=progress, callback=callback)
    history = [{"step": 0, "loss": math.nan, "lr": config.lr, "seconds": 0.0, "test_loglik": curve[0]}]
    history += [{**row, "test_loglik": curve.get(int(row["step"]), math.nan)} for row in result.history]
    return model, history


# --------------------------------------------------------------------------------------------- run


def _read_csv(path: Path) -> list[dict[str, Any]]:
    def conv(v: str) -> Any:
        try:
            return float(v)
        except ValueError:
            return v

    with open(path, newline="") as f:
        return [{k: conv(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _model_path(out_dir: Path, param: str, lam: float, is_long: bool) -> Path:
    return Path(out_dir) / "models" / f"{_model_name(param, lam, long=is_long)}.safetensors"


def _model_settings(param: str, lam: float, is_long: bool, config: MnistConfig) -> dict[str, Any]:
    cfg = config.long() if is_long else config
    return {**cfg.settings(*_TRAIN_FIELDS), "lam": lam, "parameterization": param}


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
    name = _model_name(param, lam, long=is_long)
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
        What may be reused (default: a new :class:`~scorematch.experiments.cache.Cache`).

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

    # 1. Training (one model file and one training curve per parameterization and lambda), then the
    #    longer runs of the convergence check; the missing runs are spread over ``jobs`` processes.
    jobs = [(p, lam, False) for p in config.parameterizations for lam in config.lambdas]
    if "free" in config.parameterizations:
        jobs += [("free", lam, True) for lam in config.long_lambdas]
    todo = [(str(out_dir), param, lam, is_long, config, progress and n_jobs == 1, cache)
            for param, lam, is_long in sorted(jobs, key=lambda j: not j[2])  # the long runs first
            if not cache.model_is_current(_model_path(out_dir, param, lam, is_long),
                                          _model_settings(param, lam, is_long, config))]
    logger.info("mnist: %d of %d models to train (%d jobs)", len(todo), len(jobs), n_jobs)
    timings: dict[str, float] = {}
    for name, seconds in map_jobs(_train_job, todo, jobs=n_jobs):
        timings[name] = seconds
        logger.info("%s trained in %.1f s", name, seconds)
    models: dict[tuple[str, float], ProductOfExperts] = {}
    long_models: dict[float, ProductOfExperts] = {}
    for param, lam, is_long in jobs:
        model = load(_model_path(out_dir, param, lam, is_long), expect=ProductOfExperts)
        if is_long:
            long_models[lam] = model
        else:
            models[(param, lam)] = model

    # 2. Exact log-likelihoods.
    ll_settings = config.settings(*_TRAIN_FIELDS, "lambdas", "parameterizations", "n_test")
    ll_file = out_dir / "loglik.json"
    if not cache.is_current(read_stamp(ll_file), ll_settings):
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
        write_csv(out_dir / "loglik.csv", rows)
        write_json(ll_file, {"stamp": cache.stamp(ll_settings), "rows": rows})

    # 3. Classification with 100 digits per class, several draws; raw pixels as the baseline.
    clf_settings = config.settings(*_TRAIN_FIELDS, "lambdas", "parameterizations", "n_test", "per_class",
                                   "n_draws", "clf_c")
    clf_file = out_dir / "classification.json"
    if not cache.is_current(read_stamp(clf_file), clf_settings):
        kw = dict(per_class=config.per_class, n_draws=config.n_draws, c=config.clf_c, seed=config.seed)
        rows = []
        feature_sets = [("raw", math.nan, None)] + [(p, lam, m) for (p, lam), m in models.items()]
        for param, lam, model in feature_sets:
            if model is None:
                f_tr, f_te = data.x_train.double().numpy(), data.x_test.double().numpy()
            else:
                f_tr, f_te = expert_features(model, data.x_train), expert_features(model, data.x_test)
            errs = classification_error(f_tr, data.y_train, f_te, data.y_test, **kw)
            rows.append({"features": param, "lam": lam, "error_mean": float(np.mean(errs)),
                         "error_std": float(np.std(errs, ddof=1)) if len(errs) > 1 else 0.0,
                         "errors": " ".join(f"{e:.4f}" for e in errs)})
            logger.info("classification %s lam=%g: %.4f", param, lam, np.mean(errs))
        write_csv(out_dir / "classification.csv", rows)
        write_json(clf_file, {"stamp": cache.stamp(clf_settings), "rows": rows})

    # 4. Convergence check: the same evaluation of the longer-trained free-filter models.
    long_settings = config.long().settings(*_TRAIN_FIELDS, "long_lambdas", "n_test", "per_class", "n_draws", "clf_c")
    long_file = out_dir / "long.json"
    if long_models and not cache.is_current(read_stamp(long_file), long_settings):
        kw = dict(per_class=config.per_class, n_draws=config.n_draws, c=config.clf_c, seed=config.seed)
        main_ll = {r["lam"]: r for r in _ll_rows(out_dir) if r["parameterization"] == "free"}
        main_err = {r["lam"]: r for r in _clf_rows(out_dir) if r["features"] == "free"}
        rows = []
        for lam, model in long_models.items():
            errs = classification_error(expert_features(model, data.x_train), data.y_train,
                                        expert_features(model, data.x_test), data.y_test, **kw)
            rows.append({
                "lam": lam, "steps": config.long_steps,
                "train_loglik": average_log_likelihood(model, data.x_train),
                "test_loglik": average_log_likelihood(model, data.x_test),
                "error_mean": float(np.mean(errs)),
                "error_std": float(np.std(errs, ddof=1)) if len(errs) > 1 else 0.0,
                "main_steps": config.steps,
                "main_test_loglik": main_ll[lam]["test_loglik"] if lam in main_ll else math.nan,
                "main_error_mean": main_err[lam]["error_mean"] if lam in main_err else math.nan,
            })
        write_csv(out_dir / "long.csv", rows)
        write_json(long_file, {"stamp": cache.stamp(long_settings), "rows": rows})

    # 5. Digits shown beside the filters.
    write_json(out_dir / "digits.json", {"digits": data.x_test[:16].tolist()})
    results = summary(out_dir)
    results["seconds"] = {"total": time.perf_counter() - t_start, "training": timings}
    write_json(out_dir / "results.json", results)
    plot(out_dir)
    return results


# ----------------------------------------------------------------------------------- summary and plots


def _ll_rows(out_dir: Path) -> list[dict[str, Any]]:
    return json.loads((Path(out_dir) / "loglik.json").read_text())["rows"]


def _clf_rows(out_dir: Path) -> list[dict[str, Any]]:
    return json.loads((Path(out_dir) / "classification.json").read_text())["rows"]


def _long_rows(out_dir: Path) -> list[dict[str, Any]]:
    path = Path(out_dir) / "long.json"
    return json.loads(path.read_text())["rows"] if path.exists() else []


def summary(out_dir: Path) -> dict[str, Any]:
    """Headline numbers from the result files.

    Returns
    -------
    dict
        Per parameterization: the lambda of the best test log-likelihood and its value, the value at
        lambda = 0, the lambda of the lowest mean test error and that error (mean, std), the error at
        lambda = 0; and the raw-pixel error. ``free_long``: the convergence check's rows, if any.
    """
    ll, clf = _ll_rows(out_dir), _clf_rows(out_dir)
    raw = next(r for r in clf if r["features"] == "raw")
    out: dict[str, Any] = {"raw_pixels_error": {"mean": raw["error_mean"], "std": raw["error_std"]}}
    for param in sorted({r["parameterization"] for r in ll}):
        lr = [r for r in ll if r["parameterization"] == param]
        cr = [r for r in clf if r["features"] == param]
        best_ll = max(lr, key=lambda r: r["test_loglik"])
        best_clf = min(cr, key=lambda r: r["error_mean"])
        zero_ll = next((r for r in lr if r["lam"] == 0), None)
        zero_clf = next((r for r in cr if r["lam"] == 0), None)
        out[param] = {
            "best_loglik_lam": best_ll["lam"],
            "best_test_loglik": best_ll["test_loglik"],
            "best_train_loglik": best_ll["train_loglik"],
            "best_test_loglik_per_pixel": best_ll["test_loglik_per_pixel"],
            "lam0_test_loglik": zero_ll["test_loglik"] if zero_ll else None,
            "best_error_lam": best_clf["lam"],
            "best_error": {"mean": best_clf["error_mean"], "std": best_clf["error_std"]},
            "lam0_error": {"mean": zero_clf["error_mean"], "std": zero_clf["error_std"]} if zero_clf else None,
        }
    long = _long_rows(out_dir)
    if long:
        out["free_long"] = {
            "steps": long[0]["steps"],
            "best_loglik_lam": max(long, key=lambda r: r["test_loglik"])["lam"],
            "best_error_lam": min(long, key=lambda r: r["error_mean"])["lam"],
            "rows": [{k: r[k] for k in ("lam", "test_loglik", "error_mean", "error_std")} for r in long],
        }
    return out


def report(out_dir: Path) -> str:
    """A markdown section: settings, the per-lambda table, the headline numbers and the figures.

    Figures are linked as ``<out_dir name>/<file>.png``, relative to the folder that holds ``out_dir``.
    """
    out_dir = Path(out_dir)
    cfg = json.loads((out_dir / "config.json").read_text())["mnist"]
    ll, clf = _ll_rows(out_dir), _clf_rows(out_dir)
    s = summary(out_dir)
    errors = {(r["features"], r["lam"]): r for r in clf if r["features"] != "raw"}
    raw = s["raw_pixels_error"]
    lines = [
        f"Square PoE (196 Student-t experts, c = e^1.5, alpha = 1) on MNIST 2x2-averaged to 14x14 in [0, 1], "
        f"trained by regularized score matching (diagonal regularizer) on {cfg['n_train']} training digits: "
        f"Adam, {cfg['steps']} steps of batch {cfg['batch_size']}, lr {cfg['lr']:g} with {cfg['schedule']} decay, "
        f"the same initial filters for every lambda. Exact log-likelihood (nats per image; per pixel = / 196) "
        f"on those training digits and on {cfg['n_test']} test digits. Classification: logistic regression "
        f"(C = {cfg['clf_c']:g}, standardized features g(w_i^T x)) on {cfg['per_class']} random training "
        f"digits per class, mean +- std over {cfg['n_draws']} draws, error on the {cfg['n_test']} test digits.",
        "",
        "Filters: *free* = unconstrained W (the scale of each filter is set by the loss; log p = log|det W| - "
        "sum_i g_n(w_i^T x) exactly); *unit* = unit-norm rows (no free scale with alpha = 1: the expert width "
        "is fixed in pixel units). Training curves (loss and test log-likelihood vs step) are in the last figure.",
        "",
        "| filters | lambda | train LL | test LL | test LL / pixel | log abs det W | test error (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(ll, key=lambda r: (r["parameterization"], r["lam"])):
        e = errors.get((r["parameterization"], r["lam"]))
        err = f"{100 * e['error_mean']:.2f} +- {100 * e['error_std']:.2f}" if e else ""
        lines.append(
            f"| {r['parameterization']} | {r['lam']:g} | {r['train_loglik']:.1f} | {r['test_loglik']:.1f} | "
            f"{r['test_loglik_per_pixel']:.3f} | {r['logabsdet']:.1f} | {err} |"
        )
    lines.append(f"| raw pixels | | | | | | {100 * raw['mean']:.2f} +- {100 * raw['std']:.2f} |")
    lines.append("")
    for param in (p for p in PARAMETERIZATIONS if p in s):
        h = s[param]
        lam0 = h["lam0_test_loglik"]
        lines.append(
            f"- **{_LABELS[param]}**: best test log-likelihood {h['best_test_loglik']:.1f} nats at lambda = "
            f"{h['best_loglik_lam']:g}"
            + (f" (lambda = 0: {lam0:.1f}, a gain of {h['best_test_loglik'] - lam0:.1f})" if lam0 is not None else "")
            + f"; lowest test error {100 * h['best_error']['mean']:.2f} +- {100 * h['best_error']['std']:.2f}% "
            f"at lambda = {h['best_error_lam']:g}"
            + (f" (lambda = 0: {100 * h['lam0_error']['mean']:.2f}%)" if h["lam0_error"] else "")
            + "."
        )
    lines.append(f"- Raw pixels: {100 * raw['mean']:.2f} +- {100 * raw['std']:.2f}% test error.")
    lines.append("")
    long = _long_rows(out_dir)
    if long:
        lines += [
            f"Convergence check: free filters trained {long[0]['steps']:.0f} steps instead of "
            f"{long[0]['main_steps']:.0f} (same schedule, stretched).",
            "",
            "| lambda | test LL, main | test LL, long | test error (%), main | test error (%), long |",
            "|---|---|---|---|---|",
        ]
        for r in sorted(long, key=lambda r: r["lam"]):
            lines.append(
                f"| {r['lam']:g} | {r['main_test_loglik']:.1f} | {r['test_loglik']:.1f} | "
                f"{100 * r['main_error_mean']:.2f} | {100 * r['error_mean']:.2f} +- {100 * r['error_std']:.2f} |"
            )
        lines.append("")
    rel = out_dir.name
    for name, caption in (("filters", "(a) digits and filters"), ("loglik", "(b) log-likelihood vs lambda"),
                          ("classification", "(c) test error vs lambda"), ("training", "training curves")):
        if (out_dir / f"{name}.png").exists():
            lines += [f"![{caption}]({rel}/{name}.png)", ""]
    return "\n".join(lines)


def _lam_axis(lams: np.ndarray) -> tuple[np.ndarray, float]:
    """Positions on a log axis, with lambda = 0 drawn one decade left of the smallest positive lambda."""
    pos = lams[lams > 0]
    zero_at = (pos.min() / 10.0) if pos.size else 1e-4
    return np.where(lams > 0, lams, zero_at), zero_at


#: The paper's reported optimum for MNIST (Figure 2b, c), marked on our plots.
PAPER_BEST_LAM = 0.01


def _set_lam_ticks(ax: Any, zero_at: float, lams: np.ndarray) -> None:
    ax.axvline(PAPER_BEST_LAM, color="0.5", ls="--", lw=1, label=f"paper's optimum ({PAPER_BEST_LAM:g})")
    ax.set_xscale("log")
    ticks = [zero_at] + [10.0**k for k in range(-6, 2) if lams[lams > 0].min() <= 10.0**k <= lams.max()]
    ax.set_xticks(ticks)
    ax.set_xticklabels(["0"] + [f"1e{int(round(math.log10(t)))}" for t in ticks[1:]])
    ax.set_xlabel("lambda")


_COLORS = {"free": "C0", "unit": "C1"}
_LABELS = {"free": "free filters", "unit": "unit-norm filters"}


def _filter_grid(w: np.ndarray, n: int = 36, side: int = 14) -> np.ndarray:
    """Tile the first ``n`` filters (each scaled to [-1, 1] by its own max |w|) into one image."""
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    grid = np.zeros((rows * (side + 1) - 1, cols * (side + 1) - 1))
    for k in range(min(n, w.shape[0])):
        f = w[k].reshape(side, side)
        f = f / max(np.abs(f).max(), 1e-12)
        r, c = divmod(k, cols)
        grid[r * (side + 1) : r * (side + 1) + side, c * (side + 1) : c * (side + 1) + side] = f
    return grid


def plot(out_dir: Path) -> list[Path]:
    """Draw the figures from the result files (no training): Figure 2a-c and the training curves.

    Returns
    -------
    list of Path
        The PNG files written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    ll, clf = _ll_rows(out_dir), _clf_rows(out_dir)
    params = [p for p in PARAMETERIZATIONS if any(r["parameterization"] == p for r in ll)]
    written = []

    # (b) log-likelihood vs lambda.
    fig, axes = plt.subplots(1, len(params), figsize=(5.2 * len(params), 4), squeeze=False)
    for ax, param in zip(axes[0], params):
        rows = sorted((r for r in ll if r["parameterization"] == param), key=lambda r: r["lam"])
        lams = np.array([r["lam"] for r in rows])
        xs, zero_at = _lam_axis(lams)
        ax.plot(xs, [r["train_loglik"] for r in rows], "o-", label="train")
        ax.plot(xs, [r["test_loglik"] for r in rows], "s--", label="test")
        long = sorted(_long_rows(out_dir), key=lambda r: r["lam"]) if param == "free" else []
        if long:
            ax.plot([r["lam"] if r["lam"] > 0 else zero_at for r in long], [r["test_loglik"] for r in long], "^:",
                    color="C3", label=f"test, {long[0]['steps']:.0f} steps")
        _set_lam_ticks(ax, zero_at, lams)
        ax.set_ylabel("average log-likelihood (nats / image)")
        ax.set_title(f"(b) {_LABELS[param]}")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    written.append(out_dir / "loglik.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    # (c) classification error vs lambda.
    fig, ax = plt.subplots(figsize=(6, 4))
    raw = next(r for r in clf if r["features"] == "raw")
    all_lams = np.array(sorted({r["lam"] for r in clf if r["features"] != "raw"}))
    _, zero_at = _lam_axis(all_lams)
    for param in params:
        rows = sorted((r for r in clf if r["features"] == param), key=lambda r: r["lam"])
        lams = np.array([r["lam"] for r in rows])
        xs = np.where(lams > 0, lams, zero_at)
        ax.errorbar(xs, [100 * r["error_mean"] for r in rows], yerr=[100 * r["error_std"] for r in rows],
                    fmt="o-", capsize=3, color=_COLORS[param], label=f"PoE features, {_LABELS[param]}")
        long = sorted(_long_rows(out_dir), key=lambda r: r["lam"]) if param == "free" else []
        if long:
            ax.errorbar([r["lam"] if r["lam"] > 0 else zero_at for r in long], [100 * r["error_mean"] for r in long],
                        yerr=[100 * r["error_std"] for r in long], fmt="^:", capsize=3, color="C3",
                        label=f"free filters, {long[0]['steps']:.0f} steps")
    ax.axhline(100 * raw["error_mean"], color="k", ls=":", label=f"raw pixels ({100 * raw['error_mean']:.1f}%)")
    _set_lam_ticks(ax, zero_at, all_lams)
    ax.set_ylabel("test error (%)")
    ax.set_ylim(bottom=0)
    ax.set_title("(c) logistic regression, 100 digits per class")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(out_dir / "classification.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    # (a) digits and filters of the unregularized and the lambda = 0.01 models.
    panels: list[tuple[str, np.ndarray]] = []
    digits_file = out_dir / "digits.json"
    if digits_file.exists():
        d = np.array(json.loads(digits_file.read_text())["digits"])
        panels.append(("MNIST 14x14 test digits", _filter_grid(d * 2 - 1, n=16)))
    lams_avail = sorted({r["lam"] for r in ll})
    reg_lam = min((lam for lam in lams_avail if lam > 0), key=lambda lam: abs(math.log(lam / 1e-2)), default=None)
    for param in params:
        for lam, what in ((0.0, "unregularized"), (reg_lam, f"lambda = {reg_lam:g}")):
            path = out_dir / "models" / f"{_model_name(param, lam)}.safetensors" if lam is not None else None
            if path is not None and path.exists():
                w = load(path, expect=ProductOfExperts).filters.detach().double().numpy()
                panels.append((f"{_LABELS[param]}, {what}", _filter_grid(w)))
    ncols = min(3, len(panels))
    nrows = int(math.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 4.4 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, img) in zip(axes.flat, panels):
        ax.imshow(img, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=10)
    fig.suptitle("(a) filters (first 36 of 196, each scaled to its own max |w|; gray = 0)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97), h_pad=2.0)
    written.append(out_dir / "filters.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    # Training curves: loss and test log-likelihood vs step.
    columns = [(p, sorted(r["lam"] for r in ll if r["parameterization"] == p), False) for p in params]
    long_lams = sorted(r["lam"] for r in _long_rows(out_dir))
    if long_lams:
        columns.append(("free", long_lams, True))
    fig, axes = plt.subplots(2, len(columns), figsize=(5.5 * len(columns), 7), squeeze=False)
    for j, (param, lams, is_long) in enumerate(columns):
        cmap = plt.get_cmap("viridis")
        label = _LABELS[param] + (", long" if is_long else "")
        for k, lam in enumerate(lams):
            f = out_dir / "training" / f"{_model_name(param, lam, long=is_long)}.csv"
            if not f.exists():
                continue
            hist = _read_csv(f)
            color = cmap(k / max(len(lams) - 1, 1))
            steps = [h["step"] for h in hist if not math.isnan(h["loss"])]
            losses = [h["loss"] for h in hist if not math.isnan(h["loss"])]
            axes[0, j].plot(steps, losses, color=color, label=f"{lam:g}")
            axes[1, j].plot([h["step"] for h in hist], [h["test_loglik"] for h in hist], color=color)
        axes[0, j].set_yscale("symlog", linthresh=100)
        axes[0, j].set_title(f"SM loss, {label}")
        axes[0, j].set_xlabel("step")
        axes[0, j].legend(title="lambda", fontsize=6, ncol=2)
        axes[1, j].set_title(f"test log-likelihood, {label}")
        axes[1, j].set_xlabel("step")
        axes[1, j].set_ylabel("nats / image")
        finite = [r["test_loglik"] for r in ll if r["parameterization"] == param]
        finite += [r["test_loglik"] for r in _long_rows(out_dir)] if is_long else []
        lo, hi = min(finite), max(finite)
        axes[1, j].set_ylim(lo - 0.3 * (hi - lo) - 10, hi + 0.1 * (hi - lo) + 10)
        for ax in axes[:, j]:
            ax.grid(alpha=0.3)
    fig.tight_layout()
    written.append(out_dir / "training.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)
    return written
