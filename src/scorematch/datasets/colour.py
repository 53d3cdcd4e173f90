"""The colour image set (``data/bsds300-train``: 200 BSDS300 training JPEGs) and its fixed split.

The split is fixed before any measurement: of the sorted file list, every 10th image (sorted indices 9, 19, ...,
199: the images :func:`split_images` holds out) is **held out** (20 images; only final reports look at them),
the images at :data:`TUNE_INDICES` are the **tuning** images (6; every choice of the colour prior is made on their
central crops), and the remaining 174 are the **training** images.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor

from ..io.images import list_images, read_image
from .paths import data_dir

__all__ = ["COLOUR_SET", "TUNE_INDICES", "HELDOUT_EVERY", "colour_split", "colour_crops"]

#: The bundled colour image folder (under :func:`~scorematch.datasets.data_dir`).
COLOUR_SET = "bsds300-train"
#: Sorted indices of the tuning images.
TUNE_INDICES = (5, 35, 65, 95, 125, 155)
#: Every ``HELDOUT_EVERY``-th image (index ``i % HELDOUT_EVERY == HELDOUT_EVERY - 1``) is held out.
HELDOUT_EVERY = 10


def colour_split(folder: str | os.PathLike | None = None) -> dict[str, list[Path]]:
    """The files of the colour set, split into ``"train"``, ``"tune"`` and ``"heldout"`` (each sorted).

    Parameters
    ----------
    folder : path, optional
        Default ``data_dir() / COLOUR_SET``.
    """
    files = list_images(Path(folder) if folder is not None else data_dir() / COLOUR_SET)
    if len(files) <= max(TUNE_INDICES):
        raise ValueError(f"the colour set needs more than {max(TUNE_INDICES)} images, found {len(files)}")
    held = [f for i, f in enumerate(files) if i % HELDOUT_EVERY == HELDOUT_EVERY - 1]
    tune = [files[i] for i in TUNE_INDICES]
    train = [f for f in files if f not in held and f not in tune]
    return {"train": train, "tune": tune, "heldout": held}


def colour_crops(files: list[Path], crop: int | None, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """Central ``crop x crop`` crops (``None``: whole images, which must share one size) of colour files.

    Returns
    -------
    Tensor, shape (N, 3, crop, crop), range [0, 1]
    """
    out = []
    for f in files:
        im = read_image(f, dtype=dtype, colour=True)  # (3, H, W)
        if im.dim() != 3:
            im = im.expand(3, *im.shape)  # a grey file: three equal channels
        if crop:
            h, w = im.shape[-2:]
            i, j = (h - crop) // 2, (w - crop) // 2
            im = im[:, i : i + crop, j : j + crop]
        out.append(im)
    return torch.stack(out)  # (N, 3, crop, crop)
