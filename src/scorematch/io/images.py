"""Image I/O: 8- and 16-bit PNG/JPEG/TIFF/BMP and float ``.npy``, as float arrays in [0, 1].

By default a colour image is converted to gray with the ITU-R BT.601 luma weights
``Y = 0.299 R + 0.587 G + 0.114 B`` (computed in float, not Pillow's rounded integer "L" mode); with
``colour=True`` it keeps its three channels, shape (3, H, W). A ``.npy`` colour image is (H, W, 3).

A file's EXIF orientation is applied on reading (the image comes out upright), its alpha channel is kept beside
the image (:class:`ImageInfo`), and 16-bit colour PNG and TIFF files keep their 16 bits both ways (Pillow has no
16-bit colour mode: :mod:`.png16` and tifffile handle them).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..draws import uniform
from ..validation import check_number
from .png16 import is_deep_colour, read_png16, write_png16
from .atomic import atomic_path

__all__ = [
    "read_image", "read_image_info", "write_image", "output_bits", "list_images", "dequantize", "ImageInfo",
    "IMAGE_SUFFIXES", "BIT_DEPTHS", "ALPHA_SUFFIXES", "ORIENTATIONS", "ImageFileError",
]

logger = logging.getLogger(__name__)

#: Bit depths each image format can be written with, its default first (``.npy`` holds float64).
BIT_DEPTHS = {".png": (8, 16), ".jpg": (8,), ".jpeg": (8,), ".tif": (16, 8), ".tiff": (16, 8), ".bmp": (8,),
              ".pgm": (8, 16)}
IMAGE_SUFFIXES = tuple(BIT_DEPTHS)
#: Formats that hold an alpha channel, and 16-bit colour.
ALPHA_SUFFIXES = (".png", ".tif", ".tiff")
#: What each EXIF orientation tag value (0x0112) does to the stored image to show it upright.
ORIENTATIONS = {1: "none", 2: "mirrored left to right", 3: "rotated 180 degrees", 4: "mirrored top to bottom",
                5: "mirrored about the main diagonal", 6: "rotated 90 degrees clockwise",
                7: "mirrored about the anti-diagonal", 8: "rotated 90 degrees counter-clockwise"}
_UPRIGHT = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
            5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
            8: lambda a: np.rot90(a, 1)}  # each on (H, W) or (H, W, C), as ORIENTATIONS says
_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".png": "PNG", ".bmp": "BMP", ".pgm": "PPM"}
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # little/big-endian TIFF and BigTIFF
_LUMA = np.array([0.299, 0.587, 0.114])

#: What a decoder found: values (H, W) or (H, W, 3) as stored, alpha (H, W) or None, bits, EXIF orientation.
_Pixels = tuple[np.ndarray, "np.ndarray | None", "int | None", int]


class ImageFileError(ValueError):
    """An unreadable, empty or unsupported image file."""


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`read_image_info` found in a file besides the image it returns.

    Attributes
    ----------
    bits : int or None
        Bits per sample of an integer image (1, 8 or 16); None for float data.
    colour : bool
        The file held colour channels (converted to gray unless ``colour=True``).
    orientation : int
        The EXIF orientation (1-8, :data:`ORIENTATIONS`) applied to make the image upright; 1 = none.
    alpha : ndarray, shape (H, W), range [0, 1], or None
        The file's alpha (opacity) channel, upright like the image, float64, read-only; None without one. Left out
        of ``==`` and ``hash``, which compare the other fields.
    """

    bits: int | None
    colour: bool
    orientation: int = 1
    alpha: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def orientation_note(self) -> str:
        """``"applied EXIF orientation 6 (rotated 90 degrees clockwise)"``; ``""`` when none was applied."""
        if self.orientation == 1:
            return ""
        return f"applied EXIF orientation {self.orientation} ({ORIENTATIONS[self.orientation]})"


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
        PNG/JPEG/TIFF/BMP/PGM (8- or 16-bit, gray or colour; EXIF orientation applied) or ``.npy`` (a 2-D float
        array in [0, 1], or uint8/uint16).
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
    """:func:`read_image`, with what the file held (bit depth, colour, orientation, alpha) and options for float data.

    Parameters
    ----------
    path : path-like
    dtype : torch.dtype
    scale : float
        Float data (``.npy``, float TIFF) is on the 0..``scale`` scale and is divided by it (its alpha too).
        Integer images are always their levels over ``2**bits - 1``.
    check_range : bool
        Refuse float values outside [0, 1] (after the division). False keeps them as they are (noisy data).
        Alpha values must lie in [0, 1] either way.
    colour : bool
        Keep a colour file's three channels (``info.colour``; a file whose channels are equal stays gray).

    Returns
    -------
    image : Tensor, shape (H, W), or (3, H, W) for colour with ``colour``; range [0, 1] if ``check_range``
        Upright: a JPEG's or TIFF's EXIF orientation is applied (``info.orientation``).
    info : ImageInfo
        ``info.alpha`` holds an RGBA, grey + alpha or transparent-palette file's alpha (an ``.npy`` (H, W, 4)
        array's fourth channel), shape (H, W).
    """
    path = Path(path)
    scale = check_number("scale", scale, minimum=0, strict=True)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    unit, alpha, bits, orientation = _read_npy(path) if path.suffix.lower() == ".npy" else _read_pil(path)
    is_colour = _is_colour(unit)
    if unit.ndim == 3 and unit.shape[-1] == 3:  # (H, W, 3) RGB
        unit = unit.transpose(2, 0, 1) if colour and is_colour else unit @ _LUMA
    _check_pixels(unit, path, ndim=3 if colour and is_colour else 2)
    if bits is None:  # float data on the 0..scale scale
        unit, alpha = unit / scale, (None if alpha is None else alpha / scale)
    if check_range:
        unit = _in_unit_range(unit, path, "float pixel values", "rescale the file")
    if alpha is not None:
        alpha = _in_unit_range(alpha, path, "alpha values", "rescale the file's alpha channel")
        alpha.flags.writeable = False
    return torch.from_numpy(np.ascontiguousarray(unit)).to(dtype), ImageInfo(bits, is_colour, orientation, alpha)


def _is_colour(unit: np.ndarray) -> bool:
    """Whether (H, W, 3) values have channels that differ somewhere (an RGB file of grey content is grey)."""
    rgb = unit.ndim == 3 and unit.shape[-1] == 3
    return rgb and not (np.array_equal(unit[..., 0], unit[..., 1]) and np.array_equal(unit[..., 1], unit[..., 2]))


def _check_pixels(unit: np.ndarray, path: Path, *, ndim: int) -> None:
    """Refuse values of another dimension than ``ndim``, empty or with NaN/inf."""
    if unit.ndim != ndim:
        raise ImageFileError(f"{path}: expected a 2-D gray image, got shape {unit.shape}; save one image per file")
    if unit.size == 0:
        raise ImageFileError(f"{path}: the image is empty (0 pixels)")
    if not np.isfinite(unit).all():
        raise ImageFileError(f"{path}: the image contains NaN or inf values; fix or remove the file")


def _in_unit_range(values: np.ndarray, path: Path, what: str, fix: str) -> np.ndarray:
    """``values`` clipped to [0, 1] after refusing any NaN or value beyond [0, 1] by more than rounding error."""
    if not np.isfinite(values).all() or values.min() < -1e-6 or values.max() > 1 + 1e-6:
        raise ImageFileError(f"{path}: {what} must lie in [0, 1] (got {values.min():.3g}..{values.max():.3g}); {fix}")
    return np.clip(values, 0.0, 1.0)  # rounding error within the tolerance above


def _read_npy(path: Path) -> _Pixels:
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
    if unit.ndim == 3 and unit.shape[-1] == 4:  # (H, W, 4): RGBA
        return unit[..., :3], unit[..., 3], bits, 1
    return unit, None, bits, 1


def _read_pil(path: Path) -> _Pixels:
    """An image file's pixels, made upright (EXIF orientation)."""
    from PIL import Image, UnidentifiedImageError

    try:
        unit, alpha, bits, orientation = _read_tiff16(path) if _is_tiff16(path) else _read_with_pillow(path)
    except ImageFileError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageFileError(f"{path}: not a readable image, or truncated/corrupt ({exc})") from None
    except Image.DecompressionBombError as exc:
        raise ImageFileError(f"{path}: refused, the image is too large ({exc})") from None
    except Exception as exc:  # Pillow's decoders raise assorted types on corrupt input; all mean "bad file"
        raise ImageFileError(f"{path}: corrupt image data ({type(exc).__name__}: {exc})") from None
    upright = _UPRIGHT[orientation]
    return upright(unit), (None if alpha is None else upright(alpha)), bits, orientation


def _read_with_pillow(path: Path) -> _Pixels:
    """Pillow's pixels, except a 16-bit colour PNG's (Pillow gives 8 bits): :func:`read_png16`'s."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        orientation = _exif_orientation(im)
        if im.format == "PNG" and is_deep_colour(path):
            return (*_split_alpha(read_png16(path) / 65535.0), 16, orientation)
        return (*_pil_array(im, path), orientation)


def _exif_orientation(im) -> int:
    """The EXIF orientation tag of a Pillow image (1-8), 1 when absent or invalid (as Pillow's exif_transpose)."""
    value = im.getexif().get(0x0112, 1)
    return int(value) if value in _UPRIGHT else 1


def _split_alpha(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Values (H, W, C) with C = 1 (grey), 2 (grey, alpha), 3 (RGB), 4 (RGBA) as (H, W) or (H, W, 3), and alpha."""
    channels = unit.shape[-1]
    return (unit[..., :3] if channels >= 3 else unit[..., 0]), (unit[..., -1] if channels in (2, 4) else None)


def _pil_array(im, path: Path) -> tuple[np.ndarray, np.ndarray | None, int | None]:
    """(H, W) gray or (H, W, 3) RGB values in [0, 1], the alpha channel (H, W) or None, and the bits."""
    mode = im.mode
    if mode in ("LA", "PA", "RGBA") or ("transparency" in im.info and mode in ("L", "P", "RGB")):
        _warn_8_bit_tiff(im, path)
        with_alpha = np.asarray(im.convert("LA" if mode in ("L", "LA") else "RGBA")) / 255.0  # (H, W, 2 or 4)
        return (*_split_alpha(with_alpha), 8)
    if mode in ("1", "L"):
        unit, bits = _to_unit(np.asarray(im), path)
        return unit, None, bits
    if mode.startswith("I;16") or mode == "I":  # 16-bit gray (Pillow may open it as 32-bit "I")
        arr = np.asarray(im).astype(np.int64)
        if arr.min(initial=0) < 0 or arr.max(initial=0) > 65535:
            raise ImageFileError(f"{path}: integer image outside the 16-bit range; save it as 8- or 16-bit")
        return arr.astype(np.float64) / 65535.0, None, 16
    if mode == "F":
        return np.asarray(im).astype(np.float64), None, None
    if mode in ("P", "RGB", "CMYK", "YCbCr"):
        _warn_8_bit_tiff(im, path)
        return np.asarray(im.convert("RGB")).astype(np.float64) / 255.0, None, 8  # (H, W, 3)
    raise ImageFileError(f"{path}: unsupported image mode {mode!r}; convert it to gray or RGB")


def _warn_8_bit_tiff(im, path: Path) -> None:
    """Say so when Pillow reads a 16-bit colour TIFF (with 8 bits: tifffile, or its codec, is missing)."""
    if im.format == "TIFF" and im.tag_v2.get(258, (8,))[0] == 16:
        logger.warning("%s: 16-bit colour TIFF read with 8 bits; install tifffile (and imagecodecs for a compressed "
                       "file) to keep 16", path)


def _is_tiff16(path: Path) -> bool:
    """A TIFF of 16-bit samples, more than one per pixel (colour, grey + alpha), that tifffile can decode."""
    with open(path, "rb") as f:
        if f.read(4) not in _TIFF_MAGIC:
            return False
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            decodable = page.compression in tifffile.TIFF.DECOMPRESSORS  # LZW needs imagecodecs
            return page.dtype == np.uint16 and page.samplesperpixel > 1 and decodable
    except Exception:  # no tifffile, or a file it cannot parse: Pillow then reads it or says why not
        return False


def _read_tiff16(path: Path) -> _Pixels:
    """A 16-bit RGB(A) or grey + alpha TIFF's first page through tifffile (Pillow would give 8 bits)."""
    import tifffile
    from PIL import Image

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        if Image.MAX_IMAGE_PIXELS and page.imagelength * page.imagewidth > 2 * Image.MAX_IMAGE_PIXELS:
            raise ImageFileError(f"{path}: refused, the image is too large ({page.imagewidth}x{page.imagelength})")
        nominal = {tifffile.PHOTOMETRIC.RGB: 3, tifffile.PHOTOMETRIC.MINISBLACK: 1}.get(page.photometric)
        unit = np.moveaxis(page.asarray(), page.axes.index("S"), -1) / 65535.0  # (H, W, S)
        if nominal is None or unit.ndim != 3 or unit.shape[-1] < nominal:
            raise ImageFileError(f"{path}: unsupported 16-bit TIFF layout ({page.photometric.name}, axes "
                                 f"{page.axes}); save it as 16-bit RGB, RGBA or grey")
        extra = page.extrasamples[0] if unit.shape[-1] > nominal and page.extrasamples else 0
        tag = page.tags.get(274)
        orientation = int(tag.value) if tag is not None and tag.value in _UPRIGHT else 1
    return (*_tiff_alpha(unit, nominal, extra), 16, orientation)


def _tiff_alpha(unit: np.ndarray, nominal: int, extra: int) -> tuple[np.ndarray, np.ndarray | None]:
    """TIFF samples (H, W, S) as (H, W) grey or (H, W, 3) colour and the alpha (H, W) or None.

    ``nominal`` colour samples come first; ``extra`` is the first extra sample's kind (TIFF ExtraSamples: 0
    unspecified, not read as alpha; 1 associated alpha, by which the colour is divided; 2 unassociated alpha).
    """
    colour = unit[..., :3] if nominal == 3 else unit[..., 0]
    if extra not in (1, 2):
        return colour, None
    alpha = unit[..., nominal]
    if extra == 1:  # premultiplied colour
        over = alpha[..., None] if nominal == 3 else alpha
        colour = np.clip(np.divide(colour, over, out=np.zeros_like(colour), where=over > 0), 0.0, 1.0)
    return colour, alpha


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
    path: str | os.PathLike, image: Tensor | np.ndarray, *, bits: int | None = None, scale: float = 1.0,
    alpha: Tensor | np.ndarray | None = None,
) -> Path:
    """Write a (H, W) gray or (3, H, W) colour image in [0, 1] (clipped) atomically; the format follows the extension.

    Parameters
    ----------
    path : path-like
        ``.npy`` keeps float64 values unquantized; image formats store integer levels.
    image : Tensor or ndarray, shape (H, W) or (3, H, W), range [0, 1]
        A ``.npy`` file holds a colour image as (H, W, 3).
    bits : {8, 16}, optional
        Bits per sample of an image format (see :func:`output_bits`), gray or colour; default 16 for
        ``.tif``/``.tiff``, 8 for the others. 16-bit colour needs ``.png`` or ``.tif`` (a ``.pgm`` holds 16-bit gray).
    scale : float
        A ``.npy`` file holds the clipped values times ``scale`` (the 0..``scale`` scale, as read by
        :func:`read_image_info`); image formats hold levels ``0 .. 2**bits - 1`` whatever the scale.
    alpha : Tensor or ndarray, shape (H, W), range [0, 1], optional
        An alpha (opacity) channel, written with the image at ``bits`` (clipped): a grey + alpha or RGBA PNG or
        TIFF (:data:`ALPHA_SUFFIXES`); other formats cannot hold it.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        An extension or depth the format cannot hold (:func:`output_bits`), alpha for a format without it, 16-bit
        colour in a ``.pgm``, a wrong shape, or NaN/inf values; nothing is written then.
    """
    path = Path(path)
    bits = output_bits(path, bits)
    scale = check_number("scale", scale, minimum=0, strict=True)
    arr = _image_values(image, path)  # (H, W) or (H, W, 3)
    if alpha is not None:
        arr = np.dstack([arr, _alpha_values(alpha, arr.shape[:2], path)])  # (H, W, 2 or 4)
    if bits == 16 and arr.ndim == 3 and path.suffix.lower() not in ALPHA_SUFFIXES:
        raise ValueError(f"{path}: a {path.suffix} file holds 16-bit gray images, not colour; use .png or .tif "
                         "for 16-bit colour")
    if bits is None:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, arr * scale)
        return path
    levels = np.round(arr * (2**bits - 1)).astype(np.uint16 if bits == 16 else np.uint8)  # (H, W) or (H, W, C)
    with atomic_path(path) as tmp:
        _save_levels(tmp, levels, path.suffix.lower())
    return path


def _as_float64(values: Tensor | np.ndarray) -> np.ndarray:
    return values.detach().cpu().double().numpy() if isinstance(values, Tensor) else np.asarray(values, np.float64)


def _image_values(image: Tensor | np.ndarray, path: Path) -> np.ndarray:
    """A (H, W), (1, H, W) or (3, H, W) image as (H, W) or (H, W, 3) values clipped to [0, 1]."""
    arr = _as_float64(image)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    colour = arr.ndim == 3 and arr.shape[0] == 3
    if not (arr.ndim == 2 or colour) or arr.size == 0:
        raise ValueError(f"image must have shape (H, W) or (3, H, W) with H, W >= 1, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"image contains NaN or inf values; nothing was written to {path}")
    return np.clip(arr.transpose(1, 2, 0) if colour else arr, 0.0, 1.0)  # (H, W, 3) or (H, W)


def _alpha_values(alpha: Tensor | np.ndarray, shape: tuple[int, int], path: Path) -> np.ndarray:
    """An alpha channel of shape ``shape`` (H, W) clipped to [0, 1], for a format that holds one."""
    if path.suffix.lower() not in ALPHA_SUFFIXES:
        raise ValueError(f"{path}: a {path.suffix} file cannot hold an alpha channel; write a .png or .tif to keep "
                         "it, or pass alpha=None to drop it")
    arr = _as_float64(alpha)
    if arr.shape != shape:
        raise ValueError(f"alpha must have the image's shape (H, W) = {shape}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"alpha contains NaN or inf values; nothing was written to {path}")
    return np.clip(arr, 0.0, 1.0)


def _save_levels(tmp: Path, levels: np.ndarray, suffix: str) -> None:
    """Write levels (H, W) or (H, W, C), C = 2 (grey, alpha), 3 (RGB) or 4 (RGBA), in the format of ``suffix``.

    Pillow writes 8-bit images and 16-bit gray; 16-bit colour or grey + alpha goes to :func:`write_png16` or
    tifffile (uncompressed, unassociated alpha).
    """
    if levels.dtype == np.uint16 and levels.ndim == 3 and suffix == ".png":
        write_png16(tmp, levels)
    elif levels.dtype == np.uint16 and levels.ndim == 3:
        try:
            import tifffile
        except ImportError:
            raise ImportError("a 16-bit colour or alpha TIFF is written with tifffile: pip install tifffile, or "
                              "write a .png") from None
        channels = levels.shape[-1]
        tifffile.imwrite(tmp, levels, photometric="minisblack" if channels == 2 else "rgb",
                         extrasamples=("unassalpha",) if channels in (2, 4) else ())
    else:
        from PIL import Image

        Image.fromarray(levels).save(tmp, format=_FORMATS[suffix])


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
