"""Degradation operators ``y = A x (+ noise)`` with their adjoints."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..draws import gaussian

__all__ = ["Denoising", "Downsample"]


class Denoising:
    """The identity degradation of denoising: ``y = x + n``, ``n ~ N(0, sigma^2 I)``.

    Parameters
    ----------
    sigma : float
        Noise standard deviation on the [0, 1] pixel scale.

    Examples
    --------
    >>> import torch
    >>> op = Denoising(5 / 256)
    >>> x = torch.zeros(1, 1, 4, 4)
    >>> op.A(x).shape
    torch.Size([1, 1, 4, 4])
    """

    def __init__(self, sigma: float) -> None:
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.sigma = float(sigma)

    def A(self, x: Tensor) -> Tensor:
        """``x`` itself, shape (B, C, H, W)."""
        return x

    def A_adjoint(self, y: Tensor) -> Tensor:
        return y

    def __call__(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """A noisy observation ``x + sigma * n`` (same shape and dtype)."""
        n = gaussian(tuple(x.shape), like=x, generator=generator)
        return x + self.sigma * n


class Downsample:
    """Average ``factor x factor`` blocks: (B, C, H, W) -> (B, C, H/f, W/f).

    Parameters
    ----------
    factor : int
        Block side (2 in the paper).

    Notes
    -----
    ``A A^T = I / f^2``, so the pseudo-inverse is ``f^2 A^T`` (replicate each low-resolution pixel) and
    :meth:`project` ``x + f^2 A^T (y - A x)`` is the orthogonal projection onto ``{x : A x = y}``.

    Examples
    --------
    >>> import torch
    >>> op = Downsample(2)
    >>> op.A(torch.ones(1, 1, 4, 6)).shape
    torch.Size([1, 1, 2, 3])
    """

    def __init__(self, factor: int = 2) -> None:
        if int(factor) != factor or factor < 1:
            raise ValueError(f"factor must be a positive integer, got {factor}")
        self.factor = int(factor)

    def _check(self, x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f"expected shape (B, C, H, W), got {tuple(x.shape)}")
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"height and width must be multiples of {self.factor}, got {tuple(x.shape[-2:])}")

    def A(self, x: Tensor) -> Tensor:
        """Block averages, shape (B, C, H/f, W/f)."""
        self._check(x)
        return F.avg_pool2d(x, self.factor)

    def A_adjoint(self, y: Tensor) -> Tensor:
        """Each value spread over its block divided by ``f^2``, shape (B, C, H*f, W*f)."""
        f = self.factor
        return y.repeat_interleave(f, -2).repeat_interleave(f, -1) / (f * f)

    def project(self, x: Tensor, y: Tensor) -> Tensor:
        """The nearest image to ``x`` whose block averages equal ``y``."""
        f = self.factor
        return x + (f * f) * self.A_adjoint(y - self.A(x))
