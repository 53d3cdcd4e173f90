"""Small images laid out in one grid: filter banks, digits and samples, for figures and PNG files."""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["tile"]


def tile(images: np.ndarray | torch.Tensor, *, ncols: int | None = None, pad: int = 1, fill: float = 0.0,
         border: bool = False) -> np.ndarray:
    """Lay ``images`` out row by row in one array, ``pad`` pixels of ``fill`` between them.

    Parameters
    ----------
    images : array or Tensor, shape (N, h, w)
    ncols : int, optional
        Images per row (default ``ceil(sqrt(N))``).
    pad : int
        Pixels between neighbouring images.
    fill : float
        Value of the gaps (and of the unused cells of the last row).
    border : bool
        Also put ``pad`` pixels of ``fill`` around the whole grid.

    Returns
    -------
    numpy.ndarray, shape (rows * (h + pad) - pad, ncols * (w + pad) - pad), plus ``2 pad`` with ``border``
    """
    x = images.detach().cpu().double().numpy() if isinstance(images, torch.Tensor) else np.asarray(images, float)
    if x.ndim != 3 or x.shape[0] == 0:
        raise ValueError(f"images must have shape (N, h, w) with N >= 1, got {x.shape}")
    n, h, w = x.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / ncols)
    edge = pad if border else 0
    grid = np.full((rows * (h + pad) - pad + 2 * edge, ncols * (w + pad) - pad + 2 * edge), float(fill))
    for k in range(n):
        r, c = divmod(k, ncols)
        i, j = edge + r * (h + pad), edge + c * (w + pad)
        grid[i : i + h, j : j + w] = x[k]
    return grid
