"""Colour denoising with a grey prior: the channels decorrelated by a fixed opponent transform, each denoised as a
grey image at its own noise level, then transformed back."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..energies.colour_prior import colour_transform

__all__ = ["OPPONENT_SCALES", "opponent", "from_opponent", "opponent_sigmas", "opponent_denoise"]

#: Row scales of the decorrelating transform ``D O`` (``O`` the orthonormal opponent transform of
#: :func:`~scorematch.energies.colour_transform`): luminance ``(R + G + B) / 3`` on [0, 1] like a grey image, and the
#: opponent channels ``(R - B) / 2`` and ``(R - 2G + B) / 4`` on [-1/2, 1/2].
OPPONENT_SCALES = (1 / math.sqrt(3), 1 / math.sqrt(2), math.sqrt(6) / 4)


def _matrix(like: Tensor) -> Tensor:
    """``D O``, shape (3, 3), in ``like``'s dtype and device."""
    scales = torch.tensor(OPPONENT_SCALES, dtype=torch.float64)
    return (scales[:, None] * colour_transform("opponent")).to(dtype=like.dtype, device=like.device)


def _check_colour(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() != 4 or x.shape[1] != 3:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a floating-point tensor of shape (B, 3, H, W), got {shape}")


def opponent(x: Tensor) -> Tensor:
    """RGB images (B, 3, H, W) -> their luminance and two opponent channels (B, 3, H, W), decorrelated: i.i.d.
    Gaussian noise of std ``sigma`` becomes independent noise of std :func:`opponent_sigmas` per channel."""
    _check_colour(x, "x")
    return torch.einsum("oc,bchw->bohw", _matrix(x), x)


def from_opponent(z: Tensor) -> Tensor:
    """The inverse of :func:`opponent`: (B, 3, H, W) -> RGB."""
    _check_colour(z, "z")
    return torch.einsum("oc,bchw->bohw", torch.linalg.inv(_matrix(z).double()).to(z.dtype), z)


def opponent_sigmas(sigma: float) -> tuple[float, float, float]:
    """The noise std of each :func:`opponent` channel when every RGB channel has i.i.d. noise of std ``sigma``
    (the rows of the transform are orthogonal, so the channels' noise stays independent)."""
    return tuple(sigma * s for s in OPPONENT_SCALES)


def opponent_denoise(y: Tensor, sigma: float, denoise_grey: Callable[[Tensor, float], Tensor]) -> Tensor:
    """Denoise colour images with a grey denoiser, channel by channel in the :func:`opponent` space.

    Parameters
    ----------
    y : Tensor, shape (B, 3, H, W)
        Noisy RGB images on [0, 1], i.i.d. Gaussian noise of std ``sigma`` per pixel and channel.
    sigma : float
        The noise std.
    denoise_grey : callable
        ``denoise_grey(z, s) -> x``: one channel ``z`` (B, 1, H, W) with noise of std ``s`` -> its estimate; e.g.
        ``lambda z, s: scorematch.tasks.denoise(z, prior, sigma=s)``.

    Returns
    -------
    Tensor, shaped like ``y``

    Examples
    --------
    >>> import torch
    >>> y = torch.rand(1, 3, 8, 8)
    >>> torch.allclose(opponent_denoise(y, 0.1, lambda z, s: z), y, atol=1e-6)
    True
    """
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma}")
    z = opponent(y)
    parts = [denoise_grey(z[:, c : c + 1], s) for c, s in enumerate(opponent_sigmas(sigma))]
    return from_opponent(torch.cat(parts, 1))
