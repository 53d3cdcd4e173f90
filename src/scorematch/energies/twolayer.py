"""A two-layer energy in the style of Koster & Hyvarinen (2010), built only from curvature layers."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ..validation import check_int
from .base import LayeredEnergy
from .layers import Linear, Log1p, Square, WeightedSum, standard_normal

__all__ = ["TwoLayerEnergy"]


class TwoLayerEnergy(LayeredEnergy):
    """``E(x) = sum_k alpha_k log(1 + sum_i v_ki (w_i^T x)^2)`` with ``v = exp(raw) >= 0``.

    Linear filters, squaring, non-negative pooling, a log nonlinearity and a weighted sum: no new
    derivative code is written for it; the curvature fast path comes from the layers.

    Parameters
    ----------
    dim : int
        D, the input dimension.
    n_filters : int
        K, first-layer filters.
    n_pools : int
        P, second-layer (pooling) units.
    normalize_filters : bool
        Unit-norm first-layer filters.
    generator : torch.Generator, optional

    Notes
    -----
    The Becker-LeCun diagonal is *not* exact here: a pooling unit mixes several squared filter
    outputs before the second nonlinearity, so the Hessian w.r.t. the squared outputs has
    off-diagonal terms that the rule drops (tests/energies/test_derivatives.py measures the gap).
    """

    def __init__(
        self,
        dim: int,
        n_filters: int,
        n_pools: int,
        *,
        normalize_filters: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        dim = check_int("dim", dim, minimum=1)
        n_filters = check_int("n_filters", n_filters, minimum=1)
        n_pools = check_int("n_pools", n_pools, minimum=1)
        w = standard_normal(n_filters, dim, generator=generator) / math.sqrt(dim)
        v = standard_normal(n_pools, n_filters, generator=generator) - math.log(n_filters)
        super().__init__(
            [
                Linear(dim, n_filters, normalize=normalize_filters, weight=w),
                Square(),
                Linear(n_filters, n_pools, weight=v, positive=True),
                Log1p(),
                WeightedSum(n_pools),
            ]
        )
        self.dim, self.n_filters, self.n_pools = dim, n_filters, n_pools
        self.normalize_filters = normalize_filters

    def config(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "n_filters": self.n_filters,
            "n_pools": self.n_pools,
            "normalize_filters": self.normalize_filters,
        }

    def energy(self, x: Tensor) -> Tensor:
        """x : Tensor, shape (B, D) -> Tensor, shape (B,)."""
        return super().energy(x)

    def _check(self, x: Tensor) -> None:
        self.check_input(x, 1)
        if x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (B, {self.dim}), got {tuple(x.shape)}")
