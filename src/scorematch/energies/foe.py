"""Fields of Experts (Kingma & LeCun 2010, eq. 9) and the paper's Laplacian whitening filter."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..validation import check_int, check_number
from .base import LayeredEnergy
from .experts import DEFAULT_C, StudentTExperts
from .layers import Conv2d, standard_normal

__all__ = ["FieldOfExperts", "laplacian_whitening_kernel"]


def laplacian_whitening_kernel(size: int = 5, *, sigma: float = 1.0, dtype: torch.dtype = torch.float32) -> Tensor:
    """A ``size x size`` Laplacian-of-Gaussian high-pass filter (zero sum, unit L2 norm).

    The paper whitens images "with a 5x5 Laplacian kernel", close to ZCA whitening of natural images,
    whose spectrum is approximately proportional to frequency. We use the negated Laplacian of a
    Gaussian of std ``sigma`` sampled on the grid, made zero-mean and scaled to unit norm.

    Returns
    -------
    Tensor, shape (size, size)
    """
    if size < 3 or size % 2 == 0:
        raise ValueError(f"size must be an odd integer >= 3, got {size}")
    r = torch.arange(size, dtype=torch.float64) - size // 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    q = (xx**2 + yy**2) / (2 * sigma**2)
    k = (1 - q) * torch.exp(-q)  # -Laplacian of a Gaussian, up to a constant
    k = k - k.mean()
    return (k / k.norm()).to(dtype)


class FieldOfExperts(StudentTExperts):
    """``E(x) = sum_p sum_i alpha_i g(w_i^T x_(p))`` over all valid ``k x k`` patches ``x_(p)``.

    Parameters
    ----------
    n_experts : int
        M, the number of filters (24 in the paper).
    kernel_size : int
        k (5 in the paper).
    c, normalize_filters, learn_alpha, generator
        As for :class:`~scorematch.ProductOfExperts`.

    Notes
    -----
    Boundary handling: the sum runs over the valid positions only (``(H-k+1) (W-k+1)`` of them), so
    no padding assumption enters the model (the restoration solvers choose one: their ``boundary``
    argument). A prior on un-whitened images is
    ``foe.whitened(laplacian_whitening_kernel())``; its curvature pass stays exact because the fixed
    whitening and the learned filters are fused into one filter.

    Examples
    --------
    >>> import torch, scorematch
    >>> foe = scorematch.FieldOfExperts(8, 3)
    >>> foe.energy(torch.rand(2, 1, 16, 16)).shape
    torch.Size([2])
    """

    def __init__(
        self,
        n_experts: int = 24,
        kernel_size: int = 5,
        *,
        c: float = DEFAULT_C,
        normalize_filters: bool = True,
        learn_alpha: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        n_experts = check_int("n_experts", n_experts, minimum=1)
        kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        c = check_number("c", c, minimum=0, strict=True)
        w = standard_normal(n_experts, 1, kernel_size, kernel_size, generator=generator) / kernel_size
        super().__init__([Conv2d(1, n_experts, kernel_size, normalize=normalize_filters, weight=w)], n_experts,
                         c=c, normalize_filters=normalize_filters, learn_alpha=learn_alpha)
        self.kernel_size = kernel_size

    def config(self) -> dict[str, Any]:
        return {"n_experts": self.n_experts, "kernel_size": self.kernel_size, **super().config()}

    @property
    def in_channels(self) -> int:
        """Channels of the images this energy takes (1: grey)."""
        return int(self.layers[0].raw_weight.shape[1])

    @property
    def support(self) -> int:
        """Side of the window one expert term sees: the filter size."""
        return self.kernel_size

    @property
    def filters(self) -> Tensor:
        """The learned (effective) filters, shape (M, k, k); an ImageFoE's act on the whitened image."""
        return self.filter_layer.weight[:, 0]

    def energy(self, x: Tensor) -> Tensor:
        """Energies of a batch of gray images.

        Parameters
        ----------
        x : Tensor, shape (B, 1, H, W), H and W at least ``kernel_size``

        Returns
        -------
        Tensor, shape (B,)
        """
        return super().energy(x)

    def _check(self, x: Tensor) -> None:
        self.check_input(x, 3)
        if x.shape[1] != 1 or min(x.shape[2:]) < self.kernel_size:
            raise ValueError(
                f"x must have shape (B, 1, H, W) with H, W >= {self.kernel_size}, got {tuple(x.shape)}"
            )

    def whitened(self, kernel: Tensor) -> LayeredEnergy:
        """The prior ``E(L x)`` on un-whitened images, sharing this model's parameters.

        Parameters
        ----------
        kernel : Tensor, shape (s, s)
            The whitening filter ``L`` (e.g. :func:`laplacian_whitening_kernel`).
        """
        k = kernel.to(self.layers[0].raw_weight.dtype).reshape(1, 1, *kernel.shape[-2:])
        return self.prepend(Conv2d(1, 1, k.shape[-1], weight=k, trainable=False))

