"""Energy values and input gradients of an image prior, whole or in tiles (bounded memory)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..energies.base import Energy

__all__ = ["energy_and_grad", "support_of"]


def support_of(energy: Energy) -> int | None:
    """Side of the window one energy term sees (``None`` if unknown, then tiling is unavailable)."""
    s = getattr(energy, "support", None)
    if s is None:
        s = getattr(energy, "kernel_size", None)
    return None if s is None else int(s)


def _whole(energy: Energy, x: Tensor) -> tuple[Tensor, Tensor]:
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        e = energy.energy(x)  # (B,)
        (g,) = torch.autograd.grad(e.sum(), x)
    return e.detach(), g


def energy_and_grad(energy: Energy, x: Tensor, *, tile: int | None = None) -> tuple[Tensor, Tensor]:
    """``E(x)`` per image and ``dE/dx``, optionally computed tile by tile.

    Parameters
    ----------
    energy : Energy
        A field energy that sums a term over every valid ``S x S`` window (``S`` = ``energy.support`` or
        ``energy.kernel_size``), such as :class:`~scorematch.FieldOfExperts` or
        :class:`~scorematch.energies.ImageFoE`.
    x : Tensor, shape (B, 1, H, W)
    tile : int, optional
        Window positions per tile side. Each tile reads an ``(tile + S - 1)``-sided crop, so the work
        memory is bounded by the tile size, not the image. The energies and gradients are sums of the
        tiles' parts: equal to the untiled ones up to floating-point summation order.

    Returns
    -------
    energy : Tensor, shape (B,)
    grad : Tensor, shape (B, 1, H, W)
    """
    if tile is None:
        return _whole(energy, x)
    s = support_of(energy)
    if s is None:
        raise ValueError(f"tiling needs a field energy with a known support; {type(energy).__name__} has none")
    if tile < 1:
        raise ValueError(f"tile must be >= 1, got {tile}")
    h, w = x.shape[-2:]
    ph, pw = h - s + 1, w - s + 1  # number of window positions per side
    if ph < 1 or pw < 1:
        raise ValueError(f"image of shape {tuple(x.shape[-2:])} is smaller than the energy's support {s}")
    e = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    g = torch.zeros_like(x)
    for i in range(0, ph, tile):
        for j in range(0, pw, tile):
            i1, j1 = min(i + tile, ph), min(j + tile, pw)
            crop = x[..., i : i1 + s - 1, j : j1 + s - 1]  # (B, 1, ti + S - 1, tj + S - 1): windows i..i1-1
            ei, gi = _whole(energy, crop)
            e += ei
            g[..., i : i1 + s - 1, j : j1 + s - 1] += gi
    return e, g
