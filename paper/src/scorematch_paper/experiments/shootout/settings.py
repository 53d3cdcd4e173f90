"""What a shoot-out run is made of: the estimators (and the curvature penalty of the regularized ones) and the
levels it is scored at. The grids, budgets and architectures of a shoot-out are its :class:`~.config.ShootoutConfig`,
kept apart so that the units' code (and so their cache key) does not change with them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from torch import Tensor

from scorematch.estimators import (contrastive_divergence_loss, denoising_score_matching_loss, score_matching_loss,
                                   sliced_score_matching_loss)

#: The estimators compared: name -> loss of one noise level (run across levels by ``noise_conditional_loss``).
ESTIMATORS = {
    "dsm": denoising_score_matching_loss,
    "ssm": sliced_score_matching_loss,
    "sm-curvature": functools.partial(score_matching_loss, method="curvature"),
    "sm-hutchinson": functools.partial(score_matching_loss, method="hutchinson", n_probes=2),
    "cd-1": "contrastive",  # built by estimator_loss (it takes no margin)
}
#: The estimators that take the curvature penalty of eq. 7 (``lam``), run at lambda = 0 and at the chosen lambda > 0.
REGULARIZED = ("sm-curvature", "sm-hutchinson")
#: CD-1's transition: one Metropolis-adjusted Langevin step of this size (in units of the noise) from the data.
CD_STEP_SIZE = 0.1
#: Noise levels (1/256) of the validation and tuning PSNR.
LEVELS = (15, 25)


def estimator_loss(name: str, lam: float = 0.0) -> Callable[..., Tensor]:
    """The loss of one noise level of estimator ``name`` (:data:`ESTIMATORS`) with curvature penalty ``lam`` (only
    the :data:`REGULARIZED` take one): ``loss(field, u, *, generator, margin) -> scalar``."""
    if name not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}, got {name!r}")
    if lam and name not in REGULARIZED:
        raise ValueError(f"only {REGULARIZED} take a curvature penalty, got lam={lam} for {name!r}")
    if name == "cd-1":
        return _cd1
    return functools.partial(ESTIMATORS[name], lam=lam) if lam else ESTIMATORS[name]


def _cd1(field: Any, u: Tensor, *, generator: Any = None, margin: int = 0) -> Tensor:
    """CD-1 on the noisy patches (the whole patch: CD fits the patch's density, border windows included)."""
    return contrastive_divergence_loss(field, u, sampler="langevin", steps=1, step_size=CD_STEP_SIZE,
                                       generator=generator)
