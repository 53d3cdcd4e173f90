"""The MNIST data, the square PoE's training, and its two measures: exact log-likelihood and classification error."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from scorematch.datasets import downsample2x, load_mnist
from scorematch.energies import ProductOfExperts
from scorematch.estimators import score_matching_loss
from scorematch.train import fit
from scorematch_paper.experiments.mnist.config import PARAMETERIZATIONS, MnistConfig
from scorematch_paper.paths import data_dir


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
        Folder with the idx files; default the repository's ``data/mnist`` (:func:`~scorematch_paper.paths.data_dir`).

    Returns
    -------
    MnistData
    """
    directory = directory if directory is not None else data_dir() / "mnist"
    images, labels = load_mnist(directory, "train")
    if n_train < images.shape[0]:
        idx = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(seed))[:n_train].numpy()
        idx.sort()
        images, labels = images[idx], labels[idx]
    test_images, test_labels = load_mnist(directory, "test")
    x_train = downsample2x(images).reshape(images.shape[0], -1)  # (N, 196)
    x_test = downsample2x(test_images[:n_test]).reshape(min(n_test, test_images.shape[0]), -1)  # (N, 196)
    return MnistData(x_train, labels.astype(np.int64), x_test, test_labels[:n_test].astype(np.int64))


def model_name(param: str, lam: float, *, long: bool = False) -> str:
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
