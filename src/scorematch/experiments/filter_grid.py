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

    from ..io.atomic import atomic_path

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
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.0 * ncols, 1.0 * nrows + (0.4 if title else 0)), squeeze=False)
    for idx, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if idx >= m:
            continue
        v = np.abs(w[idx]).max() or 1.0
        ax.imshow(w[idx], cmap="gray", vmin=-v, vmax=v, interpolation="nearest")
        if labels is not None:
            ax.set_title(labels[idx], fontsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path
