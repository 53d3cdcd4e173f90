"""MNIST from the original idx files (raw or ``.gz``), with strict checks, and 2x downsampling."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .paths import data_dir

__all__ = ["read_idx", "load_mnist", "downsample2x", "MNIST_FILES", "MAX_IDX_BYTES"]

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000),
}
_IDX_UBYTE = 0x08


#: Largest idx payload :func:`read_idx` accepts (a header is not trusted to allocate more).
MAX_IDX_BYTES = 2**32


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file of unsigned bytes (MNIST's format), raw or gzip-compressed.

    The header is checked against the data before anything is allocated, and a gzip stream is
    decompressed only up to the size the header declares (no memory blow-up from a lying header).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    numpy.ndarray of uint8, shape given by the header (e.g. (N, 28, 28) or (N,))

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Bad magic number, unsupported type, a corrupt gzip stream, or a size that does not match the
        header (truncated file or trailing bytes).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"idx file not found: {path}")
    with open(path, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if compressed else open(path, "rb")) as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                raise ValueError(f"{path}: not an idx file (bad magic number); expected an MNIST-style idx file")
            if head[2] != _IDX_UBYTE:
                raise ValueError(
                    f"{path}: idx data type 0x{head[2]:02x} is not supported (only unsigned bytes, 0x08)"
                )
            ndim = head[3]
            if ndim == 0:
                raise ValueError(f"{path}: the idx header declares 0 dimensions")
            dims = f.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise ValueError(f"{path}: truncated idx header")
            shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
            n = math.prod(shape)
            expected = 4 + 4 * ndim + n
            if not compressed and path.stat().st_size != expected:
                raise ValueError(_size_message(path, path.stat().st_size, shape, expected))
            if n > MAX_IDX_BYTES:
                raise ValueError(f"{path}: the header declares {n} bytes of data, more than the {MAX_IDX_BYTES} allowed")
            payload = _read_at_most(f, n)
            if len(payload) != n:
                raise ValueError(_size_message(path, 4 + 4 * ndim + len(payload), shape, expected))
            if f.read(1):
                raise ValueError(
                    f"{path}: more data than the header's shape {shape} ({expected} bytes); the file is corrupt"
                )
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt gzip stream ({exc}); download the file again") from None
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape).copy()


def _size_message(path: Path, size: int, shape: tuple[int, ...], expected: int) -> str:
    return (
        f"{path}: size {size} bytes does not match the header's shape {shape} ({expected} bytes); "
        "the file is truncated or corrupt"
    )


def _read_at_most(f, n: int, chunk: int = 1 << 24) -> bytes:
    """Read up to ``n`` bytes in chunks (memory grows with the data actually present, not with ``n``)."""
    parts, got = [], 0
    while got < n:
        part = f.read(min(chunk, n - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"no {stem}[.gz] in {directory}")


def load_mnist(directory: str | os.PathLike | None = None, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one MNIST split.

    Parameters
    ----------
    directory : path-like, optional
        Folder with the four idx files; default the bundled ``data/mnist``.
    split : {"train", "test"}

    Returns
    -------
    images : numpy.ndarray, uint8, shape (N, 28, 28)
    labels : numpy.ndarray, uint8, shape (N,)
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    directory = Path(directory) if directory is not None else data_dir() / "mnist"
    img_stem, lab_stem, count = MNIST_FILES[split]
    images = read_idx(_find(directory, img_stem))
    labels = read_idx(_find(directory, lab_stem))
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{img_stem}: expected images of shape (N, 28, 28), got {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{lab_stem}: {labels.shape} labels for {images.shape[0]} images")
    if labels.max(initial=0) > 9:
        raise ValueError(f"{lab_stem}: labels must be digits 0-9")
    if images.shape[0] != count:
        raise ValueError(f"{img_stem}: expected {count} images for the {split} split, got {images.shape[0]}")
    return images, labels


def downsample2x(images: np.ndarray | Tensor, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """Average 2x2 blocks and scale to [0, 1]: (N, 28, 28) uint8 -> (N, 14, 14).

    Parameters
    ----------
    images : array or Tensor, shape (N, H, W) with even H and W, values 0..255

    Returns
    -------
    Tensor, shape (N, H/2, W/2), range [0, 1]
    """
    x = torch.as_tensor(np.asarray(images)).to(torch.float64)
    if x.dim() != 3 or x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f"images must have shape (N, H, W) with even H, W; got {tuple(x.shape)}")
    n, h, w = x.shape
    blocks = x.reshape(n, h // 2, 2, w // 2, 2)  # (N, H/2, 2, W/2, 2)
    return (blocks.mean(dim=(2, 4)) / 255.0).to(dtype)
