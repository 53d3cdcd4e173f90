"""A Gaussian energy, the closed-form reference for testing estimators."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..validation import check_int
from .base import Energy

__all__ = ["GaussianEnergy"]


class GaussianEnergy(Energy):
    """``E(x) = (x - mu)^T A (x - mu) / 2`` with a learned symmetric precision ``A``.

    Parameters
    ----------
    dim : int
    precision : Tensor, optional, shape (D, D)
        Initial precision (symmetrized); default identity.
    """

    def __init__(self, dim: int, *, precision: Tensor | None = None) -> None:
        super().__init__()
        dim = check_int("dim", dim, minimum=1)
        if precision is not None and (not isinstance(precision, Tensor) or precision.shape != (dim, dim)):
            raise ValueError(f"precision must be a tensor of shape ({dim}, {dim})")
        a = torch.eye(dim) if precision is None else precision.clone()
        self.raw_precision = nn.Parameter(a)
        self.mean = nn.Parameter(torch.zeros(dim, dtype=a.dtype))
        self.dim = dim

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    @property
    def precision(self) -> Tensor:
        """Symmetric precision ``A``, shape (D, D)."""
        return 0.5 * (self.raw_precision + self.raw_precision.T)

    def energy(self, x: Tensor) -> Tensor:
        """x : Tensor, shape (B, D) -> Tensor, shape (B,)."""
        self._check(x)
        d = x - self.mean  # (B, D)
        return 0.5 * ((d @ self.precision) * d).sum(1)

    def curvature_derivatives(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Closed form: ``(A (x - mu), diag A)``."""
        self._check(x)
        d = x - self.mean
        return d @ self.precision, torch.diagonal(self.precision).expand_as(x)

    def _check(self, x: Tensor) -> None:
        self.check_input(x, 1)
        if x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (B, {self.dim}), got {tuple(x.shape)}")
