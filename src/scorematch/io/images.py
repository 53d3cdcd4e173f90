"""Image I/O: 8- and 16-bit PNG/JPEG/TIFF/BMP and float ``.npy``, as float arrays in [0, 1].

By default a colour image is converted to gray with the ITU-R BT.601 luma weights
``Y = 0.299 R + 0.587 G + 0.114 B`` (computed in float, not Pillow's rounded integer "L" mode); with
``colour=True`` it keeps its three channels, shape (3, H, W). A ``.npy`` colour image is (H, W, 3).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..draws import uniform
from ..validation import check_number
from .atomic import atomic_path

__all__ = [
    "read_image", "read_image_info", "write_image", "output_bits", "list_images", "dequantize", "ImageInfo",
    "IMAGE_SUFFIXES", "BIT_DEPTHS", "ImageFileError",
]

#: Bit depths each image format can be written with, its default first (``.npy`` holds float64).
BIT_DEPTHS = {".png": (8, 16), ".jpg": (8,), ".jpeg": (8,), ".tif": (16, 8), ".tiff": (16, 8), ".bmp": (8,),
              ".pgm": (8, 16)}
IMAGE_SUFFIXES = tuple(BIT_DEPTHS)
_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".png": "PNG", ".bmp": "BMP", ".pgm": "PPM"}
_LUMA = np.array([0.299, 0.587, 0.114])


class ImageFileError(ValueError):
    """An unreadable, empty or unsupported image file."""


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`read_image_info` found in a file before making it a gray image.

    Attributes
    ----------
    bits : int or None
        Bits per sample of an integer image (1, 8 or 16); None for float data.
    colour : bool
        The file held colour channels, converted to gray.
    """

    bits: int | None
    colour: bool


def _to_unit(arr: np.ndarray, path: Path) -> tuple[np.ndarray, int]:
    if arr.dtype == np.uint8:
        return arr.astype(np.float64) / 255.0, 8
    if arr.dtype in (np.uint16, np.int32) or arr.dtype == np.dtype(">u2"):
        return arr.astype(np.float64) / 65535.0, 16
    if arr.dtype == bool:
        return arr.astype(np.float64), 1
    raise ImageFileError(f"{path}: unsupported pixel type {arr.dtype}")


def read_image(path: str | os.PathLike, *, dtype: torch.dtype = torch.float32, colour: bool = False) -> Tensor:
    """Read an image as a tensor of shape (H, W) in [0, 1] (gray), or (3, H, W) for a colour file with ``colour``.

    Parameters
    ----------
    path : path-like
        PNG/JPEG/TIFF/BMP/PGM (8- or 16-bit, gray or colour) or ``.npy`` (a 2-D float array in [0, 1],
        or uint8/uint16).
    dtype : torch.dtype
    colour : bool
        Keep a colour file's channels (default: convert it to gray).

    Returns
    -------
    Tensor, shape (H, W) or (3, H, W), range [0, 1]

    Raises
    ------
    ImageFileError
        Unreadable, truncated, empty, non-2-D or out-of-range input.
    """
    return read_image_info(path, dtype=dtype, colour=colour)[0]


def read_image_info(
    path: str | os.PathLike, *, dtype: torch.dtype = torch.float32, scale: float = 1.0, check_range: bool = True,
    colour: bool = False,
) -> tuple[Tensor, ImageInfo]:
    """:func:`read_image`, with what the file held (bit depth, colour) and options for float data.

    Parameters
    ----------
    path : path-like
    dtype : torch.dtype
    scale : float
        Float data (``.npy``, float TIFF) is on the 0..``scale`` scale and is divided by it. Integer images
        are always their levels over ``2**bits - 1``.
    check_range : bool
        Refuse float values outside [0, 1] (after the division). False keeps them as they are (noisy data).
    colour : bool
        Keep a colour file's three channels (``info.colour``; a file whose channels are equal stays gray).

    Returns
    -------
    image : Tensor, shape (H, W), or (3, H, W) for colour with ``colour``; range [0, 1] if ``check_range``
    info : ImageInfo
    """
    path = Path(path)
    scale = check_number("scale", scale, minimum=0, strict=True)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    unit, info = _read_npy(path) if path.suffix.lower() == ".npy" else _read_pil(path)
    if unit.ndim == 3 and unit.shape[-1] == 3:  # (H, W, 3) RGB
        unit = unit.transpose(2, 0, 1) if colour and info.colour else unit @ _LUMA
    if unit.ndim != (3 if colour and info.colour else 2):
        raise ImageFileError(f"{path}: expected a 2-D gray image, got shape {unit.shape}; save one image per file")
    if unit.size == 0:
        raise ImageFileError(f"{path}: the image is empty (0 pixels)")
    if not np.isfinite(unit).all():
        raise ImageFileError(f"{path}: the image contains NaN or inf values; fix or remove the file")
    if info.bits is None:
        unit = unit / scale
    if check_range:
        if unit.min() < -1e-6 or unit.max() > 1 + 1e-6:
            raise ImageFileError(
                f"{path}: float pixel values must lie in [0, 1] (got {unit.min():.3g}..{unit.max():.3g}); rescale the file"
            )
        unit = np.clip(unit, 0.0, 1.0)  # rounding error within the tolerance above
    return torch.from_numpy(np.ascontiguousarray(unit)).to(dtype), info


def _read_npy(path: Path) -> tuple[np.ndarray, ImageInfo]:
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy's header parser can raise many types on a corrupt file
        raise ImageFileError(f"{path}: not a readable .npy array ({type(exc).__name__}: {exc})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.fields is not None or arr.dtype.hasobject:
        raise ImageFileError(f"{path}: .npy images must be a plain numeric array")
    if arr.dtype.kind == "f":
        unit, bits = arr.astype(np.float64), None
    elif arr.dtype.kind in "ub":
        unit, bits = _to_unit(arr, path)
    else:
        raise ImageFileError(f"{path}: .npy images must be float (in [0, 1]) or uint8/uint16, got {arr.dtype}")
    if unit.ndim == 3 and unit.shape[-1] in (3, 4):  # (H, W, 3 or 4): RGB(A), the alpha dropped
        return _rgb(unit[..., :3], bits)
    return unit, ImageInfo(bits, colour=False)


def _read_pil(path: Path) -> tuple[np.ndarray, ImageInfo]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            return _pil_array(im, path)
    except ImageFileError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageFileError(f"{path}: not a readable image, or truncated/corrupt ({exc})") from None
    except Image.DecompressionBombError as exc:
        raise ImageFileError(f"{path}: refused, the image is too large ({exc})") from None
    except Exception as exc:  # Pillow's decoders raise assorted types on corrupt input; all mean "bad file"
        raise ImageFileError(f"{path}: corrupt image data ({type(exc).__name__}: {exc})") from None


def _pil_array(im, path: Path) -> tuple[np.ndarray, ImageInfo]:
    """(H, W) gray or (H, W, 3) RGB values in [0, 1], and what the file held."""
    mode = im.mode
    if mode in ("1", "L"):
        unit, bits = _to_unit(np.asarray(im), path)
        return unit, ImageInfo(bits, colour=False)
    if mode.startswith("I;16") or mode == "I":  # 16-bit gray (Pillow may open it as 32-bit "I")
        arr = np.asarray(im).astype(np.int64)
        if arr.min(initial=0) < 0 or arr.max(initial=0) > 65535:
            raise ImageFileError(f"{path}: integer image outside the 16-bit range; save it as 8- or 16-bit")
        return arr.astype(np.float64) / 65535.0, ImageInfo(16, colour=False)
    if mode == "F":
        return np.asarray(im).astype(np.float64), ImageInfo(None, colour=False)
    if mode in ("LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr"):
        return _rgb(np.asarray(im.convert("RGB")).astype(np.float64) / 255.0, 8)  # (H, W, 3)
    raise ImageFileError(f"{path}: unsupported image mode {mode!r}; convert it to gray or RGB")


def _rgb(rgb: np.ndarray, bits: int | None) -> tuple[np.ndarray, ImageInfo]:
    """(H, W, 3) values and their info; ``colour`` is False when the three channels are equal (a gray image)."""
    colour = not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))
    return rgb, ImageInfo(bits, colour)


def output_bits(path: str | os.PathLike, bits: int | None = None) -> int | None:
    """The bit depth :func:`write_image` gives ``path``: ``bits``, else its format's default; None for ``.npy``.

    Raises
    ------
    ValueError
        An unsupported extension, or a depth the format cannot hold (16 bits in a JPEG or BMP; any in ``.npy``).
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".npy":
        if bits is not None:
            raise ValueError(f"{path}: a .npy file holds float64 values, not {bits}-bit levels; use .png or .tif")
        return None
    if suffix not in BIT_DEPTHS:
        raise ValueError(f"unsupported output extension {suffix!r}; use one of {IMAGE_SUFFIXES + ('.npy',)}")
    depths = BIT_DEPTHS[suffix]
    if bits is None:
        return depths[0]
    if bits not in depths:
        held = " or ".join(str(b) for b in sorted(depths))
        raise ValueError(f"{path}: a {suffix} file holds {held}-bit images, not {bits}-bit; use .png or .tif for 16 bits")
    return bits


def write_image(
    path: str | os.PathLike, image: Tensor | np.ndarray, *, bits: int | None = None, scale: float = 1.0
) -> Path:
    """Write a (H, W) gray or (3, H, W) colour image in [0, 1] (clipped) atomically; the format follows the extension.

    Parameters
    ----------
    path : path-like
        ``.npy`` keeps float64 values unquantized; image formats store integer levels.
    image : Tensor or ndarray, shape (H, W) or (3, H, W), range [0, 1]
        A ``.npy`` file holds a colour image as (H, W, 3).
    bits : {8, 16}, optional
        Bits per pixel of an image format (see :func:`output_bits`); default 16 for ``.tif``/``.tiff``,
        8 for the others. Colour image files are 8-bit (Pillow writes no 16-bit RGB).
    scale : float
        A ``.npy`` file holds the clipped values times ``scale`` (the 0..``scale`` scale, as read by
        :func:`read_image_info`); image formats hold levels ``0 .. 2**bits - 1`` whatever the scale.

    Returns
    -------
    Path
    """
    path = Path(path)
    requested, bits = bits, output_bits(path, bits)
    scale = check_number("scale", scale, minimum=0, strict=True)
    arr = image.detach().cpu().double().numpy() if isinstance(image, Tensor) else np.asarray(image, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    colour = arr.ndim == 3 and arr.shape[0] == 3
    if not (arr.ndim == 2 or colour) or arr.size == 0:
        raise ValueError(f"image must have shape (H, W) or (3, H, W) with H, W >= 1, got {arr.shape}")
    if colour:
        arr = arr.transpose(1, 2, 0)  # (H, W, 3)
        if bits == 16 and requested is not None:
            raise ValueError(f"{path}: colour images are written with 8 bits (or as .npy), not 16")
        bits = 8 if bits == 16 else bits
    if not np.isfinite(arr).all():
        raise ValueError(f"image contains NaN or inf values; nothing was written to {path}")
    arr = np.clip(arr, 0.0, 1.0)
    if bits is None:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, arr * scale)
        return path
    from PIL import Image

    levels = np.round(arr * (2**bits - 1)).astype(np.uint16 if bits == 16 else np.uint8)
    with atomic_path(path) as tmp:
        Image.fromarray(levels).save(tmp, format=_FORMATS[path.suffix.lower()])
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
