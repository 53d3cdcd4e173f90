"""One condition's patches (train and held-out test), their statistics, and one fit scored by its exact
log-likelihood."""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from scorematch.datasets import PatchStream, dequantize, load_images, split_images
from scorematch.energies import ProductOfExperts
from scorematch.estimators import score_matching_loss
from scorematch.serialization import load, save
from scorematch.train import DivergenceError, fit
from scorematch_paper.experiments.patches.conditions import N_TEST, Condition
from scorematch_paper.paths import data_path

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=8)
def _images(source: str, quantize8: bool, limit: int | None) -> tuple[Tensor, ...]:
    ims = load_images(data_path(source), limit=limit, dtype=torch.float64)
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
    x = PatchStream(train_ims, size, flatten=True)(draw, g)  # (draw, D)
    if cond.drop_flat:
        bad = ((x <= 0) | (x >= 1)).any(1) | (x.amax(1) == x.amin(1))
        x = x[~bad]
        if len(x) < cond.n_train:
            raise ValueError(f"only {len(x)} patches left after dropping flat/saturated ones")
    x = x[: cond.n_train]
    if cond.dequantize_train:
        x = dequantize(x, g)
    gt = torch.Generator().manual_seed(12345)
    test = PatchStream(test_ims, size, flatten=True)(n_test, gt)
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
    model = _initial_model(cond, data["train"], seed, init_path).to(dev)
    x = data["train"].to(dev)
    test, test_dq = data["test"].to(dev), data["test_dequantized"].to(dev)
    lbfgs = cond.optimizer == "lbfgs"
    curve: list[dict[str, float]] = []

    def record(step: int, value: float, energy: ProductOfExperts) -> None:
        with torch.no_grad():
            curve.append({"step": step, "loss": value, "ll": float(energy.log_likelihood(test).mean()),
                          "ll_dequantized": float(energy.log_likelihood(test_dq).mean())})

    t0 = time.perf_counter()
    diverged = None
    try:
        fit(model, x, _loss(estimator, lam), optimizer=cond.optimizer, steps=cond.steps, lr=cond.lr, seed=seed,
            batch_size=None if lbfgs else 100, schedule="constant" if lbfgs else "cosine",
            log_every=max(1, cond.steps // n_curve), checkpoint_every=0, callback=record)
    except DivergenceError as exc:  # reported in the results; NaN parameters give a NaN likelihood
        diverged = str(exc)
        logger.warning("%s lambda=%g: %s", cond.name, lam, exc)
    seconds = time.perf_counter() - t0
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    result = {"condition": cond.name, "estimator": estimator, "lambda": lam, "seed": seed,
              **_scores(model, x, test, test_dq, finite),
              "final_loss": curve[-1]["loss"] if curve else math.nan,
              "seconds": seconds, "diverged": diverged, "curve": curve}
    if model_path is not None and finite:
        save(model.cpu(), model_path, metadata={
            "experiment": "patches (Figure 2d)", "condition": dataclasses.asdict(cond), "lambda": lam,
            "estimator": "maximum likelihood" if estimator == "ml" else "regularized score matching",
            "seed": seed, "scale": "[0, 1]", "ll": result["ll"],
        })
    return result


def _initial_model(cond: Condition, x: Tensor, seed: int, init_path: Path | None) -> ProductOfExperts:
    """The square PoE a fit starts from (float64): another fit's filters (``init_path``, continuation), the
    ZCA matrix of the training patches ``x`` (N, D) times ``cond.init_scale``, or seeded random filters."""
    d = x.shape[1]
    model = ProductOfExperts(d, d, learn_alpha=False, normalize_filters=cond.normalize_filters,
                             generator=torch.Generator().manual_seed(seed)).double()
    if init_path is not None:
        with torch.no_grad():
            model.filter_layer.raw_weight.copy_(load(init_path).filter_layer.raw_weight.double())
    elif cond.init in ("zca", "continuation"):
        evals, evecs = torch.linalg.eigh(torch.cov(x.T))  # of the (D, D) covariance
        zca = evecs @ torch.diag(evals.clamp_min(1e-12) ** -0.5) @ evecs.T  # C^{-1/2}
        with torch.no_grad():
            model.filter_layer.raw_weight.copy_(cond.init_scale * zca)
    elif cond.init != "random":
        raise ValueError(f'init must be "random", "zca" or "continuation", got {cond.init!r}')
    return model


def _loss(estimator: str, lam: float) -> Callable[[ProductOfExperts, Tensor], Tensor]:
    """Regularized score matching (``"sm"``) or the negative log-likelihood (``"ml"``)."""
    if estimator == "sm":
        return functools.partial(score_matching_loss, lam=lam)
    if estimator == "ml":
        return lambda energy, batch: -energy.log_likelihood(batch).mean()
    raise ValueError(f'estimator must be "sm" or "ml", got {estimator!r}')


def _scores(model: ProductOfExperts, x: Tensor, test: Tensor, test_dq: Tensor, finite: bool) -> dict[str, Any]:
    """Held-out log-likelihoods (with standard errors), the SM objective on the training patches ``x``, the
    log-determinant, filter-norm statistics and the fraction of test responses inside the experts' core."""
    with torch.no_grad():
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
    (ll_mean, ll_sem), (dq_mean, dq_sem) = _stats(ll.cpu()), _stats(ll_dq.cpu())
    return {"ll": ll_mean, "ll_sem": ll_sem, "ll_dequantized": dq_mean, "ll_dequantized_sem": dq_sem,
            "sm_objective": sm_objective, "logdet": logdet, "filter_norm_median": float(norms.median()),
            "filter_norm_max": float(norms.max()), "core_fraction": core}
