"""Filter pictures (a grid of small gray tiles), shared by the natural-image experiments."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

__all__ = ["save_filter_grid"]


def save_filter_grid(
    filters: torch.Tensor | np.ndarray,
    path: str | os.PathLike,
    *,
    title: str | None = None,
    ncols: int | None = None,
    labels: list[str] | None = None,
) -> Path:
    """Draw filters as a grid of tiles, each scaled symmetrically to its own max |value| (gray = 0).

    Parameters
    ----------
    filters : Tensor or array, shape (M, k, k) or (M, k*k) with a square k*k
    path : path-like
        Output PNG.
    title : str, optional
    ncols : int, optional
        Tiles per row (default about sqrt(M)).
    labels : list of str, optional
        One short caption per filter.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scorematch.io.atomic import save_figure
    from scorematch.io.tiles import tile

    w = filters.detach().cpu().double().numpy() if isinstance(filters, torch.Tensor) else np.asarray(filters, float)
    if w.ndim == 2:
        k = math.isqrt(w.shape[1])
        if k * k != w.shape[1]:
            raise ValueError(f"flat filters need a square length, got {w.shape[1]}")
        w = w.reshape(-1, k, k)  # (M, k, k)
    if w.ndim != 3:
        raise ValueError(f"filters must have shape (M, k, k) or (M, k*k), got {w.shape}")
    m = w.shape[0]
    ncols = ncols or max(1, math.ceil(math.sqrt(m)))
    nrows = math.ceil(m / ncols)
    k, gap = w.shape[-1], 1 if labels is None else 3  # room for a caption above each tile
    scaled = w / np.maximum(np.abs(w).max(axis=(1, 2), keepdims=True), 1e-300)  # each in [-1, 1], gray = 0
    grid = tile(scaled, ncols=ncols, pad=gap, fill=np.nan)
    fig, ax = plt.subplots(figsize=(1.0 * ncols, 1.0 * nrows + (0.4 if title else 0)))
    cmap = plt.get_cmap("gray").with_extremes(bad="white")  # the gaps
    ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    for idx, label in enumerate(labels or []):
        r, c = divmod(idx, ncols)
        ax.text(c * (k + gap) + (k - 1) / 2, r * (k + gap) - 0.6, label, fontsize=6, ha="center", va="bottom")
    if title:
        ax.set_title(title, fontsize=9, pad=10 if labels else 4)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)
