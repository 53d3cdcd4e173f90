"""Image collections, whitening and random patch sampling (seeded, with optional held-out images)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..io.images import list_images, read_image
from .paths import data_dir

__all__ = ["load_images", "whiten", "PatchStream", "split_images"]


def load_images(
    source: str | os.PathLike | Sequence[str | os.PathLike] = "train400",
    *,
    limit: int | None = None,
    dtype: torch.dtype = torch.float32,
    colour: bool = False,
) -> list[Tensor]:
    """Gray images in [0, 1] from a bundled set name (``"train400"``, ``"set12"``), a folder or a file list.

    ``colour=True`` keeps a colour file's channels (:func:`~scorematch.io.images.read_image`).

    Returns
    -------
    list of Tensor, each shape (H, W), or (3, H, W) for a colour file with ``colour``
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists() and (data_dir() / str(source)).is_dir():
            path = data_dir() / str(source)
        files = list_images(path)
    else:
        files = [Path(p) for p in source]
    if limit is not None:
        files = files[:limit]
    return [read_image(f, dtype=dtype, colour=colour) for f in files]


def split_images(images: Sequence[Tensor], *, holdout: float = 0.1) -> tuple[list[Tensor], list[Tensor]]:
    """Deterministic split: every ``round(1/holdout)``-th image is held out."""
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must be in (0, 1), got {holdout}")
    every = max(2, round(1 / holdout))
    train = [im for i, im in enumerate(images) if i % every != every - 1]
    held = [im for i, im in enumerate(images) if i % every == every - 1]
    return train, held


def whiten(images: Tensor, kernel: Tensor) -> Tensor:
    """Valid correlation of a batch of images with a whitening filter.

    Parameters
    ----------
    images : Tensor, shape (B, 1, H, W)
    kernel : Tensor, shape (s, s)

    Returns
    -------
    Tensor, shape (B, 1, H - s + 1, W - s + 1)
    """
    return F.conv2d(images, kernel.to(images.dtype).reshape(1, 1, *kernel.shape[-2:]))


class PatchStream:
    """Draw random square patches from a list of images: a data stream ``stream(batch_size, generator)``.

    Parameters
    ----------
    images : sequence of Tensor, each (H, W) (gray) or (C, H, W), all with the same number of channels C
    size : int
        Patch side.
    flatten : bool
        Return (B, size*size) vectors (for a PoE) instead of (B, 1, size, size) images.
    scale : float
        Multiply pixel values (e.g. 255 for the 0..255 scale).
    whitening : Tensor, optional, shape (s, s)
        Applied to each channel of each image once, up front (patches are then drawn from the whitened images).
    augment : bool
        Give each patch one of the 8 rotations and flips of the square (drawn uniformly, from the same generator).
    """

    def __init__(
        self,
        images: Sequence[Tensor],
        size: int,
        *,
        flatten: bool = False,
        scale: float = 1.0,
        whitening: Tensor | None = None,
        augment: bool = False,
    ) -> None:
        if not images:
            raise ValueError("no images to sample patches from")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        prepared = []
        channels = {1 if im.dim() == 2 else im.shape[0] for im in images}
        if len(channels) > 1:
            raise ValueError(f"the images have different numbers of channels: {sorted(channels)}")
        for im in images:
            im = im.reshape(-1, 1, *im.shape[-2:]) * scale  # (C, 1, H, W): each channel whitened alone
            if whitening is not None:
                im = whiten(im, whitening)
            if min(im.shape[-2:]) < size:
                raise ValueError(f"an image of shape {tuple(im.shape[-2:])} is smaller than the patch size {size}")
            prepared.append(im[:, 0])  # (C, H, W)
        self.images = prepared
        self.channels = channels.pop()
        self.size, self.flatten, self.augment = size, flatten, augment
        # Weight images by their number of patch positions, so every position is equally likely.
        counts = torch.tensor([(h - size + 1) * (w - size + 1) for h, w in (im.shape[-2:] for im in prepared)],
                              dtype=torch.float64)
        self._weights = counts / counts.sum()

    def __call__(self, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
        """Return (B, C, size, size) patches, or (B, C*size*size) if ``flatten``."""
        which = torch.multinomial(self._weights, batch_size, replacement=True, generator=generator)
        out = torch.empty(batch_size, self.channels, self.size, self.size, dtype=self.images[0].dtype)
        u = torch.rand(batch_size, 2, generator=generator, dtype=torch.float64)
        for b in range(batch_size):
            im = self.images[int(which[b])]  # (C, H, W)
            i = int(u[b, 0] * (im.shape[-2] - self.size + 1))
            j = int(u[b, 1] * (im.shape[-1] - self.size + 1))
            out[b] = im[:, i : i + self.size, j : j + self.size]
        if self.augment:
            _dihedral(out, torch.randint(8, (batch_size,), generator=generator))
        return out.reshape(batch_size, -1) if self.flatten else out


def _dihedral(x: Tensor, which: Tensor) -> None:
    """Apply in place to each square patch ``x[b]`` (C, s, s) the ``which[b]``-th of the 8 symmetries of the
    square: ``which % 4`` quarter turns, then a left-right flip if ``which >= 4``."""
    for b, k in enumerate(which.tolist()):
        p = torch.rot90(x[b], k % 4, dims=(-2, -1))
        x[b] = p.flip(-1) if k >= 4 else p
