"""A Field of Experts on [0, 1] colour images: filters that span the three channels, behind a fixed colour transform,
scale and whitening."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ..validation import check_int, check_number
from .experts import DEFAULT_C, StudentTExperts
from .image_prior import FixedFront, whitening_kernel
from .layers import Conv2d, standard_normal

__all__ = ["ColourFoE", "COLOUR_TRANSFORMS", "colour_transform"]

#: The fixed colour transforms a :class:`ColourFoE` may apply before its whitening.
COLOUR_TRANSFORMS = ("rgb", "opponent")


def colour_transform(name: str, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """The 3x3 matrix ``T`` of a colour transform (rows: output channels, columns: R, G, B).

    ``"rgb"``: the identity. ``"opponent"``: the orthonormal opponent transform ``Y = (R + G + B) / sqrt 3``,
    ``C1 = (R - B) / sqrt 2``, ``C2 = (R - 2G + B) / sqrt 6``; being orthonormal it keeps i.i.d. Gaussian noise
    i.i.d. with the same std.

    Returns
    -------
    Tensor, shape (3, 3)
    """
    if name == "rgb":
        return torch.eye(3, dtype=dtype)
    if name == "opponent":
        t = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -2.0, 1.0]], dtype=torch.float64)
        return (t / t.norm(dim=1, keepdim=True)).to(dtype)
    raise ValueError(f"colour transform must be one of {COLOUR_TRANSFORMS}, got {name!r}")


class ColourFoE(FixedFront, StudentTExperts):
    """``E(x) = sum_p sum_i alpha_i g(w_i^T (F * x)_(p))`` for colour images ``x`` on [0, 1], shape (B, 3, H, W).

    ``F`` is a fixed 3 -> 3 channel convolution: the colour transform ``T`` (:func:`colour_transform`), then the
    scale ``s`` and the Laplacian whitening filter ``L`` on each transformed channel,
    ``F[o, i] = s T[o, i] L``. The learned filters ``w_i`` (``3 x k x k``) span the three channels.

    Parameters
    ----------
    n_experts, kernel_size : int
    c, normalize_filters, learn_alpha, generator
        As for :class:`~scorematch.FieldOfExperts`.
    scale : float
        Pixel scale ``s``.
    whitening_size : int
        Side of :func:`~scorematch.laplacian_whitening_kernel`; 0 for none.
    whitening_sigma : float
        Its Gaussian width.
    transform : {"rgb", "opponent"}
        The fixed colour transform ``T``.

    Notes
    -----
    The front ``F`` is one fixed convolution, fused with the learned filters in the curvature pass, which so stays
    exact (as for :class:`~scorematch.energies.ImageFoE`). The energy sums over the valid positions of the composed
    ``(k + w - 1)``-sized filter.

    Examples
    --------
    >>> import torch
    >>> prior = ColourFoE(6, 3, scale=20.0, whitening_size=3, transform="opponent")
    >>> prior.energy(torch.rand(2, 3, 12, 12)).shape
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
        scale: float = 20.0,
        whitening_size: int = 5,
        whitening_sigma: float = 0.5,
        transform: str = "opponent",
        generator: torch.Generator | None = None,
    ) -> None:
        n_experts = check_int("n_experts", n_experts, minimum=1)
        kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        c = check_number("c", c, minimum=0, strict=True)
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        colour_transform(transform)  # validates the name
        self_scale, self_ws, self_sigma = float(scale), int(whitening_size), float(whitening_sigma)
        # (M, 3, k, k): unit-variance responses on white input, as FieldOfExperts' randn / k for one channel.
        w = standard_normal(n_experts, 3, kernel_size, kernel_size, generator=generator) / (kernel_size * math.sqrt(3))
        front = _front_kernel(self_scale, self_ws, self_sigma, transform).to(torch.get_default_dtype())
        super().__init__([Conv2d(3, 3, front.shape[-1], weight=front, trainable=False),
                          Conv2d(3, n_experts, kernel_size, normalize=normalize_filters, weight=w)], n_experts,
                         c=c, normalize_filters=normalize_filters, learn_alpha=learn_alpha)
        self.kernel_size = kernel_size
        self.scale, self.whitening_size, self.whitening_sigma = self_scale, self_ws, self_sigma
        self.transform = transform
        self._keep_front_exact()

    def config(self) -> dict[str, Any]:
        return {"n_experts": self.n_experts, "kernel_size": self.kernel_size, **super().config(),
                "scale": self.scale, "whitening_size": self.whitening_size, "whitening_sigma": self.whitening_sigma,
                "transform": self.transform}

    @property
    def in_channels(self) -> int:
        """Channels of the images this energy takes (3: colour)."""
        return 3

    @property
    def support(self) -> int:
        """Side of the composed (front + expert) filter: how far one pixel's influence reaches."""
        return self.kernel_size + self.layers[0].raw_weight.shape[-1] - 1

    @property
    def front(self) -> Tensor:
        """The fixed front convolution ``F = s T L``, shape (3, 3, w, w)."""
        return self.layers[0].raw_weight

    @property
    def filters(self) -> Tensor:
        """The learned (effective) filters on the transformed, whitened image, shape (M, 3, k, k)."""
        return self.filter_layer.weight

    def energy(self, x: Tensor) -> Tensor:
        """Energies of a batch of colour images.

        Parameters
        ----------
        x : Tensor, shape (B, 3, H, W), H and W at least :attr:`support`

        Returns
        -------
        Tensor, shape (B,)
        """
        return super().energy(x)

    def _check(self, x: Tensor) -> None:
        self.check_input(x, 3)
        if x.shape[1] != 3 or min(x.shape[2:]) < self.support:
            kind = " (a grey image: use a grey prior such as foe_5x5x24)" if x.shape[1] == 1 else ""
            raise ValueError(f"x must have shape (B, 3, H, W) with H, W >= {self.support}, got {tuple(x.shape)}{kind}")

    def _front_kernel(self) -> Tensor:
        return _front_kernel(self.scale, self.whitening_size, self.whitening_sigma, self.transform)


def _front_kernel(scale: float, whitening_size: int, whitening_sigma: float, transform: str) -> Tensor:
    """``s T[o, i] L`` in float64, shape (3, 3, w, w) (w = 1 without whitening)."""
    kernel = whitening_kernel(whitening_size, whitening_sigma)
    t = colour_transform(transform)
    return scale * t[:, :, None, None] * kernel  # (3, 3, w, w)
