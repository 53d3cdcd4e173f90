"""Sliced score matching (Song, Garg, Shi & Ermon 2019)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ..derivatives import grad_with_graph, hessian_vector_products
from ..draws import gaussian, rademacher
from ..energies.base import Energy
from ..validation import check_int, check_tensor
from .interior import check_margin, interior

__all__ = ["sliced_score_matching_loss"]


def sliced_score_matching_loss(
    energy: Energy,
    x: Tensor,
    *,
    n_proj: int = 1,
    variance_reduction: bool = True,
    distribution: Literal["rademacher", "gaussian"] = "rademacher",
    generator: torch.Generator | None = None,
    margin: int = 0,
) -> Tensor:
    """Sliced score-matching loss, averaged over the batch and the projections.

    .. math::

        J = \\frac1B \\sum_b \\frac1P \\sum_v \\Big[\\tfrac12 (v^T \\nabla E)^2 - v^T H v\\Big]

    With ``variance_reduction`` (SSM-VR) the first term is replaced by its expectation
    ``1/2 |grad E|^2``. For probes with ``E[v v^T] = I`` the loss is an unbiased estimate of the
    score-matching loss (eq. 2) and needs no Hessian diagonal.

    Parameters
    ----------
    energy : Energy
    x : Tensor, shape (B, ...)
    n_proj : int
        Projections per sample.
    variance_reduction : bool
    distribution : {"rademacher", "gaussian"}
        Law of the projection vectors.
    generator : torch.Generator, optional
    margin : int
        Leave the ``margin`` outer rows and columns of each image out of the loss (see
        :func:`~scorematch.estimators.interior.interior`); x must then be images, shape (B, ..., H, W).

    Returns
    -------
    Tensor, scalar
    """
    n_proj = check_int("n_proj", n_proj, minimum=1)
    if distribution not in ("rademacher", "gaussian"):
        raise ValueError(f'distribution must be "rademacher" or "gaussian", got {distribution!r}')
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be a scorematch Energy, got {type(energy).__name__}")
    check_tensor("x", x, min_dim=2)
    margin = check_margin(margin, x)
    x_leaf, grad = grad_with_graph(energy, x)
    shape = (n_proj, *x.shape)
    if distribution == "rademacher":
        v = rademacher(shape, like=x, generator=generator)
    elif distribution == "gaussian":
        v = gaussian(shape, like=x, generator=generator)
    else:
        raise ValueError(f'distribution must be "rademacher" or "gaussian", got {distribution!r}')
    hv = hessian_vector_products(x_leaf, grad, v)  # (P, B, ...)
    vhv = interior(v * hv, margin).flatten(2).sum(2)  # (P, B): E[v_i (Hv)_i] = H_ii pixel by pixel
    grad, v = interior(grad, margin), interior(v, margin)
    if variance_reduction:
        first = 0.5 * (grad * grad).flatten(1).sum(1)  # (B,)
    else:
        first = (0.5 * (v * grad).flatten(2).sum(2) ** 2).mean(0)  # (B,)
    return (first - vhv.mean(0)).mean()
