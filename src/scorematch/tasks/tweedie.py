"""Denoising by Tweedie's formula with a noise-conditional energy: one gradient evaluation."""

from __future__ import annotations

from torch import Tensor

from ._objective import DEFAULT_BOUNDARY, image_energy_and_grad
from .denoise import _check

__all__ = ["tweedie_denoise"]


def tweedie_denoise(y: Tensor, energy, *, sigma: float, boundary: str = DEFAULT_BOUNDARY,
                    tile: int | None = None) -> Tensor:
    """The posterior mean ``E[x | y] = y - sigma^2 dE_sigma/dy`` for ``y = x + sigma eps`` (Tweedie's formula).

    ``E_sigma`` is the energy of noisy images at level ``sigma`` (``energy.at(sigma)``, e.g. a
    :class:`~scorematch.energies.DeepEnergy` trained across noise levels), so where it fits that density the
    estimate is the minimum-mean-squared-error denoiser; it needs one gradient evaluation.

    Parameters
    ----------
    y : Tensor, shape (B, C, H, W)
        Noisy images on [0, 1].
    energy : DeepEnergy
        A noise-conditional energy (with ``at(sigma)``).
    sigma : float
        The noise std on the [0, 1] scale.
    boundary, tile
        As for :func:`~scorematch.tasks.denoise` (the image is extended so border pixels are treated like
        interior ones).

    Returns
    -------
    Tensor, shaped like ``y``
    """
    if not callable(getattr(energy, "at", None)):
        raise TypeError(f"Tweedie denoising needs a noise-conditional energy (with .at(sigma)), "
                        f"got {type(energy).__name__}")
    field = energy.at(float(sigma))
    _check(y, field, sigma, 1.0)  # also the image size against the field's support
    _, g = image_energy_and_grad(field, y, boundary=boundary, tile=tile)
    return y - sigma * sigma * g
