"""Gray image I/O: 8- and 16-bit PNG/JPEG/TIFF/BMP and float ``.npy``, as float arrays in [0, 1].

Colour images are converted to gray with the ITU-R BT.601 luma weights
``Y = 0.299 R + 0.587 G + 0.114 B`` (computed in float, not Pillow's rounded integer "L" mode).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..draws import uniform
from ..serialization import atomic_path

__all__ = ["read_image", "write_image", "list_images", "dequantize", "IMAGE_SUFFIXES", "ImageFileError"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm")
_LUMA = np.array([0.299, 0.587, 0.114])


class ImageFileError(ValueError):
    """An unreadable, empty or unsupported image file."""


def _to_unit(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float64) / 255.0
    if arr.dtype in (np.uint16, np.int32) or arr.dtype == np.dtype(">u2"):
        return arr.astype(np.float64) / 65535.0
    if arr.dtype == bool:
        return arr.astype(np.float64)
    raise ImageFileError(f"{path}: unsupported pixel type {arr.dtype}")


def read_image(path: str | os.PathLike, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """Read a gray image as a tensor of shape (H, W) in [0, 1].

    Parameters
    ----------
    path : path-like
        PNG/JPEG/TIFF/BMP/PGM (8- or 16-bit, gray or colour) or ``.npy`` (a 2-D float array in [0, 1],
        or uint8/uint16).
    dtype : torch.dtype

    Returns
    -------
    Tensor, shape (H, W), range [0, 1]

    Raises
    ------
    ImageFileError
        Unreadable, truncated, empty, non-2-D or out-of-range input.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as exc:  # numpy's header parser can raise many types on a corrupt file
            raise ImageFileError(f"{path}: not a readable .npy array ({type(exc).__name__}: {exc})") from None
        if not isinstance(arr, np.ndarray) or arr.dtype.fields is not None or arr.dtype.hasobject:
            raise ImageFileError(f"{path}: .npy images must be a plain numeric array")
        if arr.ndim == 3 and arr.shape[-1] in (3, 4):
            arr = arr[..., :3] @ _LUMA if arr.dtype.kind == "f" else _to_unit(arr[..., :3], path) @ _LUMA
        if arr.dtype.kind in "ub":
            arr = _to_unit(arr, path)
        elif arr.dtype.kind != "f":
            raise ImageFileError(f"{path}: .npy images must be float (in [0, 1]) or uint8/uint16, got {arr.dtype}")
        unit = arr.astype(np.float64)
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                im.load()
                unit = _pil_to_gray(im, path)
        except ImageFileError:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise ImageFileError(f"{path}: not a readable image, or truncated/corrupt ({exc})") from None
        except Image.DecompressionBombError as exc:
            raise ImageFileError(f"{path}: refused, the image is too large ({exc})") from None
        except Exception as exc:  # Pillow's decoders raise assorted types on corrupt input; all mean "bad file"
            raise ImageFileError(f"{path}: corrupt image data ({type(exc).__name__}: {exc})") from None
    if unit.ndim != 2:
        raise ImageFileError(f"{path}: expected a 2-D gray image, got shape {unit.shape}; save one image per file")
    if unit.size == 0:
        raise ImageFileError(f"{path}: the image is empty (0 pixels)")
    if not np.isfinite(unit).all():
        raise ImageFileError(f"{path}: the image contains NaN or inf values; fix or remove the file")
    if unit.min() < -1e-6 or unit.max() > 1 + 1e-6:
        raise ImageFileError(
            f"{path}: float pixel values must lie in [0, 1] (got {unit.min():.3g}..{unit.max():.3g}); rescale the file"
        )
    unit = np.clip(unit, 0.0, 1.0)  # rounding error within the tolerance above
    return torch.from_numpy(np.ascontiguousarray(unit)).to(dtype)


def _pil_to_gray(im, path: Path) -> np.ndarray:
    mode = im.mode
    if mode in ("1", "L"):
        return _to_unit(np.asarray(im), path)
    if mode.startswith("I;16") or mode == "I":  # 16-bit gray (Pillow may open it as 32-bit "I")
        arr = np.asarray(im).astype(np.int64)
        if arr.min(initial=0) < 0 or arr.max(initial=0) > 65535:
            raise ImageFileError(f"{path}: integer image outside the 16-bit range; save it as 8- or 16-bit")
        return arr.astype(np.float64) / 65535.0
    if mode == "F":
        return np.asarray(im).astype(np.float64)
    if mode in ("LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr"):
        rgb = np.asarray(im.convert("RGB")).astype(np.float64) / 255.0
        return rgb @ _LUMA
    raise ImageFileError(f"{path}: unsupported image mode {mode!r}; convert it to gray or RGB")


def write_image(path: str | os.PathLike, image: Tensor | np.ndarray) -> Path:
    """Write a (H, W) image in [0, 1] (clipped) atomically; the format follows the extension.

    ``.npy`` keeps float64 values unquantized, ``.tif``/``.tiff`` write 16 bits, other formats 8 bits.
    """
    path = Path(path)
    arr = image.detach().cpu().double().numpy() if isinstance(image, Tensor) else np.asarray(image, dtype=np.float64)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"image must have shape (H, W) with H, W >= 1, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"image contains NaN or inf values; nothing was written to {path}")
    arr = np.clip(arr, 0.0, 1.0)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, arr)
        return path
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"unsupported output extension {suffix!r}; use one of {IMAGE_SUFFIXES + ('.npy',)}")
    from PIL import Image

    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".png": "PNG", ".bmp": "BMP", ".pgm": "PPM"}[suffix]
    if suffix in (".tif", ".tiff"):
        im = Image.fromarray(np.round(arr * 65535).astype(np.uint16))
    else:
        im = Image.fromarray(np.round(arr * 255).astype(np.uint8))
    with atomic_path(path) as tmp:
        im.save(tmp, format=fmt)
    return path


def list_images(directory: str | os.PathLike) -> list[Path]:
    """Image files (by extension, including ``.npy``) in a folder, sorted; error if there are none."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"image folder not found: {directory}")
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES + (".npy",) and p.is_file())
    if not files:
        raise ImageFileError(f"{directory}: no image files ({', '.join(IMAGE_SUFFIXES)}, .npy)")
    return files


def dequantize(x: Tensor, generator: torch.Generator | None = None, *, levels: int = 255) -> Tensor:
    """``x`` plus uniform noise of one grey level, ``U(-1/2, 1/2) / levels`` (same shape and dtype).

    Spreads 8-bit values on [0, 1] over their quantization bins, so a density model cannot fit the grid
    of exact values.
    """
    return x + (uniform(tuple(x.shape), like=x, generator=generator) - 0.5) / levels
