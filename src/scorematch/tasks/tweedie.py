"""Tweedie's posterior mean with a noise-conditional prior: denoising in one gradient evaluation."""

from __future__ import annotations

import math

from torch import Tensor

from ..energies.base import Energy
from ..prior import ImagePrior, as_prior

__all__ = ["tweedie"]


def tweedie(y: Tensor, prior: ImagePrior | Energy, *, sigma: float) -> Tensor:
    """The posterior mean ``E[x | y] = y - sigma^2 dE_sigma/dy`` for ``y = x + sigma eps`` (Tweedie's formula).

    ``E_sigma`` is the prior's energy of noisy images at level ``sigma`` (``prior.at(sigma)``), so where it fits
    that density the estimate is the minimum-mean-squared-error denoiser; it needs one gradient evaluation. The
    score at the border is a window field's with the image extended as context
    (:meth:`~scorematch.prior.ImagePrior.score_with_context`; folding the extension's gradient back, as MAP's
    objective does, would count an edge pixel's copies as observations of it: ``paper/benchmarks/tweedie_boundary.py``).

    Parameters
    ----------
    y : Tensor, shape (B, C, H, W)
        Noisy images on [0, 1]; a grey prior acts on each of the ``C`` channels.
    prior : ImagePrior or NoiseConditionalEnergy
        A noise-conditional prior (:attr:`~scorematch.prior.ImagePrior.noise_conditional`).
    sigma : float
        The noise std on the [0, 1] scale.

    Returns
    -------
    Tensor, shaped like ``y``

    Examples
    --------
    >>> import torch
    >>> from scorematch.energies import DeepEnergy
    >>> tweedie(torch.rand(1, 1, 16, 16), DeepEnergy(4, 2), sigma=0.1).shape
    torch.Size([1, 1, 16, 16])
    """
    prior = as_prior(prior)
    if not prior.noise_conditional:
        raise TypeError(f"Tweedie's estimate needs a noise-conditional prior (such as deep_energy), got {prior.name}")
    if not isinstance(y, Tensor) or not y.is_floating_point() or y.dim() != 4:
        raise ValueError(f"y must be a floating-point tensor of shape (B, C, H, W), got "
                         f"{tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__}")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma}")
    field = prior.at(float(sigma))
    field.check(y.shape[1], tuple(y.shape[-2:]))
    return y - sigma * sigma * field.score_with_context(y)
