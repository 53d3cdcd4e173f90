"""Denoising score matching (Vincent 2011)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..draws import gaussian
from ..energies.base import Energy
from ..validation import check_number, check_tensor
from .interior import check_margin, interior

__all__ = ["denoising_score_matching_loss"]


def denoising_score_matching_loss(
    energy: Energy,
    x: Tensor,
    *,
    sigma: float,
    generator: torch.Generator | None = None,
    margin: int = 0,
) -> Tensor:
    """Denoising score-matching loss with Gaussian noise of std ``sigma``.

    .. math::

        J = \\frac1B \\sum_b \\tfrac12 \\Big| \\nabla E(\\tilde x) - \\frac{\\tilde x - x}{\\sigma^2} \\Big|^2,
        \\qquad \\tilde x = x + \\sigma \\epsilon

    It fits the score of the noise-smoothed density; no second derivatives are needed. The loss is not
    rescaled by ``sigma^2`` (multiply by it to compare across noise levels).

    Parameters
    ----------
    energy : Energy
    x : Tensor, shape (B, ...)
    sigma : float
        Noise std, > 0.
    generator : torch.Generator, optional
    margin : int
        Leave the ``margin`` outer rows and columns of each image out of the loss (see
        :func:`~scorematch.estimators.interior.interior`); x must then be images, shape (B, ..., H, W).

    Returns
    -------
    Tensor, scalar
    """
    sigma = check_number("sigma", sigma, minimum=0, strict=True, hint=" (the noise std on the data's scale)")
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be a scorematch Energy, got {type(energy).__name__}")
    check_tensor("x", x, min_dim=2)
    margin = check_margin(margin, x)
    noise = gaussian(tuple(x.shape), like=x, generator=generator)
    grad = -energy.score(x + sigma * noise)  # dE/dx at the noisy points, with a graph
    residual = interior(grad - noise / sigma, margin)  # (x_noisy - x) / sigma^2 = noise / sigma
    return 0.5 * (residual * residual).flatten(1).sum(1).mean()
