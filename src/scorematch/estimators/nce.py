"""Noise-contrastive estimation (Gutmann & Hyvarinen 2010) with a Gaussian noise distribution."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..draws import gaussian
from ..energies.base import Energy

__all__ = ["GaussianNoise", "LogNormalized", "nce_loss"]


class GaussianNoise:
    """A fixed Gaussian noise distribution ``N(mean, L L^T)`` on flattened samples.

    Parameters
    ----------
    mean : Tensor, shape (D,)
    scale_tril : Tensor, shape (D, D)
        Lower-triangular Cholesky factor of the covariance.
    shape : tuple of int, optional
        Event shape of a sample (default ``(D,)``), e.g. ``(1, 8, 8)`` for image patches.
    """

    def __init__(self, mean: Tensor, scale_tril: Tensor, *, shape: tuple[int, ...] | None = None) -> None:
        d = mean.shape[0]
        if scale_tril.shape != (d, d):
            raise ValueError(f"scale_tril must have shape {(d, d)}, got {tuple(scale_tril.shape)}")
        self.mean, self.scale_tril = mean, scale_tril
        self.shape = tuple(shape) if shape is not None else (d,)
        if math.prod(self.shape) != d:
            raise ValueError(f"shape {self.shape} does not hold {d} values")
        self._dist = torch.distributions.MultivariateNormal(mean, scale_tril=scale_tril)

    @classmethod
    def from_data(cls, x: Tensor, *, jitter: float = 1e-6) -> "GaussianNoise":
        """The Gaussian with the data's mean and covariance (plus ``jitter`` times the mean variance)."""
        flat = x.reshape(x.shape[0], -1)  # (N, D)
        cov = torch.cov(flat.T).reshape(flat.shape[1], flat.shape[1])
        cov = cov + jitter * cov.diagonal().mean() * torch.eye(flat.shape[1], dtype=x.dtype, device=x.device)
        return cls(flat.mean(0), torch.linalg.cholesky(cov), shape=tuple(x.shape[1:]))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples, shape (n, *shape)."""
        eps = gaussian((n, self.mean.shape[0]), like=self.mean, generator=generator)
        return (self.mean + eps @ self.scale_tril.T).reshape(n, *self.shape)

    def log_prob(self, y: Tensor) -> Tensor:
        """Log density of samples of shape (B, *shape) -> (B,)."""
        return self._dist.log_prob(y.reshape(y.shape[0], -1))


class LogNormalized(Energy):
    """``E(x) + log Z``: an energy with a learned log-normalizer, so ``exp(-E(x) - log Z)`` can be a density.

    NCE learns ``log_z`` together with the energy's parameters (the model is self-normalized).

    Parameters
    ----------
    energy : Energy
    log_z : float
        Initial value.
    """

    def __init__(self, energy: Energy, *, log_z: float = 0.0) -> None:
        super().__init__()
        self.inner = energy
        p = next(energy.parameters(), None)
        dtype = p.dtype if p is not None else torch.get_default_dtype()
        self.log_z = nn.Parameter(torch.tensor(float(log_z), dtype=dtype))

    def energy(self, x: Tensor) -> Tensor:
        return self.inner.energy(x) + self.log_z

    def config(self) -> dict[str, Any]:
        return {"inner": type(self.inner).__name__, **self.inner.config()}


def nce_loss(
    energy: Energy,
    x: Tensor,
    *,
    noise: GaussianNoise,
    nu: int = 1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Noise-contrastive estimation loss, a logistic regression of data against noise samples.

    With ``G(u) = -E(u) - log p_n(u) - log nu`` (``E`` must include a learned log-normalizer, e.g.
    :class:`LogNormalized`):

    .. math::

        J = -\\frac1B \\sum_b \\log \\sigma(G(x_b)) - \\frac{\\nu}{\\nu B} \\sum_{k} \\log(1 - \\sigma(G(y_k))),
        \\qquad y_k \\sim p_n

    Parameters
    ----------
    energy : Energy
        Treated as the negative log of a normalized density.
    x : Tensor, shape (B, ...)
    noise : GaussianNoise
        The noise distribution (e.g. ``GaussianNoise.from_data(train)``).
    nu : int
        Noise samples per data sample.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, scalar (the mean over data and noise, per data sample)

    Examples
    --------
    >>> import torch, scorematch
    >>> from scorematch.estimators.nce import GaussianNoise, LogNormalized, nce_loss
    >>> x = torch.randn(64, 2)
    >>> nce_loss(LogNormalized(scorematch.GaussianEnergy(2)), x, noise=GaussianNoise.from_data(x)).shape
    torch.Size([])
    """
    if nu < 1:
        raise ValueError(f"nu must be >= 1, got {nu}")
    if x.dim() < 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch of shape (B, ...), got {tuple(x.shape)}")
    y = noise.sample(nu * x.shape[0], generator).to(x.dtype)
    log_nu = math.log(nu)
    g_data = -energy.energy(x) - noise.log_prob(x) - log_nu  # (B,)
    g_noise = -energy.energy(y) - noise.log_prob(y) - log_nu  # (nu B,)
    return -(F.logsigmoid(g_data).mean() + nu * F.logsigmoid(-g_noise).mean())
