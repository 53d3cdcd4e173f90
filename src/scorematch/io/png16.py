"""16-bit PNG files with zlib and struct alone: Pillow decodes a 16-bit colour PNG to 8 bits and writes none.

The reader takes grey, RGB, grey + alpha and RGBA images of 16 bits per sample (colour types 0, 2, 4, 6), every
row filter (0-4) and Adam7 interlacing; the writer uses the Sub filter on every row.

References
----------
.. [1] W3C, "Portable Network Graphics (PNG) Specification (Third Edition)", 2025, https://www.w3.org/TR/png-3/
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator

import numpy as np

__all__ = ["is_deep_colour", "read_png16", "write_png16"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Samples per pixel of each colour type: grey, RGB, grey + alpha, RGBA (3, the palette, is 8 bits at most).
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
#: The seven Adam7 passes as (x0, y0, dx, dy): pixel (y0 + i dy, x0 + j dx) is row i, column j of the pass.
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_IDAT_SIZE = 1 << 20  # bytes of compressed data per written IDAT chunk


def is_deep_colour(path: str | os.PathLike) -> bool:
    """Whether a PNG file holds 16-bit RGB, grey + alpha or RGBA pixels (colour type 2, 4 or 6)."""
    with open(path, "rb") as f:
        head = f.read(33)  # signature (8), IHDR length and type (8), IHDR body (13), CRC (4)
    png = len(head) == 33 and head[:8] == SIGNATURE and head[12:16] == b"IHDR"
    return png and head[24] == 16 and head[25] in (2, 4, 6)  # bit depth, colour type


def read_png16(path: str | os.PathLike) -> np.ndarray:
    """The levels of a 16-bit PNG file.

    Parameters
    ----------
    path : path-like
        A PNG of 16 bits per sample, colour type 0, 2, 4 or 6, interlaced or not.

    Returns
    -------
    ndarray, shape (H, W, C), dtype uint16
        ``C`` = 1 (grey), 3 (RGB), 2 (grey, alpha) or 4 (RGBA). A grey or RGB file with a ``tRNS`` chunk gets an
        alpha channel: 0 where a pixel has the transparent colour, 65535 elsewhere.

    Raises
    ------
    ValueError
        Not a PNG, another bit depth or colour type, or corrupt (bad CRC, short or excess image data).
    """
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != SIGNATURE:
        raise ValueError("not a PNG file (no PNG signature)")
    chunks = list(_chunks(data))
    if not chunks or chunks[0][0] != b"IHDR":
        raise ValueError("the PNG file does not start with an IHDR chunk")
    width, height, channels, interlaced = _header(chunks[0][1])
    stream = b"".join(body for kind, body in chunks if kind == b"IDAT")
    levels = _assemble(_inflate(stream, _raw_size(width, height, 2 * channels, interlaced)), width, height, channels,
                       interlaced)
    key = next((body for kind, body in chunks if kind == b"tRNS"), None)
    return levels if key is None or channels not in (1, 3) else _with_key_alpha(levels, key)


def write_png16(path: str | os.PathLike, levels: np.ndarray) -> None:
    """Write 16-bit levels as a PNG file (Sub filter on every row, zlib level 6).

    Parameters
    ----------
    path : path-like
    levels : ndarray, shape (H, W, C), dtype uint16
        ``C`` = 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA).
    """
    height, width, channels = levels.shape
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    bpp = 2 * channels  # bytes per pixel
    rows = np.ascontiguousarray(levels, ">u2").view(np.uint8).reshape(height, width * bpp)  # (H, W * bpp) bytes
    filtered = rows.copy()
    filtered[:, bpp:] -= rows[:, :-bpp]  # Sub: each byte minus the same byte of the pixel to its left, mod 256
    idat = zlib.compress(np.hstack([np.ones((height, 1), np.uint8), filtered]).tobytes(), 6)  # filter type 1 first
    with open(path, "wb") as f:
        f.write(SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, ctype, 0, 0, 0)))
        for start in range(0, len(idat), _IDAT_SIZE):
            f.write(_chunk(b"IDAT", idat[start:start + _IDAT_SIZE]))
        f.write(_chunk(b"IEND", b""))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, body) of each chunk up to IEND, CRCs checked."""
    pos = 8
    while True:
        if pos + 12 > len(data):
            raise ValueError("the PNG file is truncated (no IEND chunk)")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise ValueError(f"the PNG file is truncated inside its {kind!r} chunk")
        if struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] != zlib.crc32(kind + body):
            raise ValueError(f"the PNG file is corrupt (bad CRC in its {kind!r} chunk)")
        if kind == b"IEND":
            return
        yield kind, body
        pos += 12 + length


def _header(body: bytes) -> tuple[int, int, int, bool]:
    """Width, height, samples per pixel and interlacing of an IHDR chunk, checked."""
    if len(body) != 13:
        raise ValueError("the PNG file has a malformed IHDR chunk")
    width, height, depth, ctype, compression, filtering, interlace = struct.unpack(">IIBBBBB", body)
    if depth != 16 or ctype not in CHANNELS:
        raise ValueError(f"expected a 16-bit grey/RGB(A) PNG, got bit depth {depth}, colour type {ctype}")
    if width == 0 or height == 0 or compression != 0 or filtering != 0 or interlace > 1:
        raise ValueError(f"the PNG file has an invalid IHDR chunk ({width}x{height}, methods "
                         f"{compression}/{filtering}/{interlace})")
    return width, height, CHANNELS[ctype], interlace == 1


def _passes(width: int, height: int, interlaced: bool) -> Iterator[tuple[int, int, int, int, int, int]]:
    """(x0, y0, dx, dy, w, h) of each non-empty pass: the whole image, or the Adam7 passes."""
    for x0, y0, dx, dy in ADAM7 if interlaced else ((0, 0, 1, 1),):
        w, h = -(-(width - x0) // dx), -(-(height - y0) // dy)  # ceil; a pass beyond a small image is empty
        if w > 0 and h > 0:
            yield x0, y0, dx, dy, w, h


def _raw_size(width: int, height: int, bpp: int, interlaced: bool) -> int:
    """Bytes of decompressed image data: each row of each pass is a filter byte and its pixels."""
    return sum(h * (1 + w * bpp) for *_, w, h in _passes(width, height, interlaced))


def _inflate(stream: bytes, size: int) -> np.ndarray:
    """Exactly ``size`` bytes out of a zlib stream (no more are decompressed: a bomb stops there)."""
    inflater = zlib.decompressobj()
    raw = inflater.decompress(stream, size + 1)
    if len(raw) != size:
        raise ValueError(f"the PNG image data holds {'more' if len(raw) > size else len(raw)} bytes, not {size}")
    return np.frombuffer(raw, np.uint8)


def _unfilter_levels(raw: np.ndarray, width: int, height: int, channels: int) -> np.ndarray:
    """(H, W, C) uint16 levels of one pass's filtered rows ``raw`` (H rows of 1 + W * 2C bytes)."""
    bpp = 2 * channels
    rows = raw.reshape(height, 1 + width * bpp)  # (H, 1 + W * bpp): filter type, then the filtered bytes
    pixels = _unfilter(rows[:, 0], rows[:, 1:].reshape(height, width, bpp))  # (H, W, bpp)
    return pixels.view(">u2").reshape(height, width, channels).astype(np.uint16)


def _assemble(raw: np.ndarray, width: int, height: int, channels: int, interlaced: bool) -> np.ndarray:
    """(H, W, C) levels of the passes (one, or the seven of Adam7) stored one after the other in ``raw``."""
    out = np.empty((height, width, channels), np.uint16)
    start = 0
    for x0, y0, dx, dy, w, h in _passes(width, height, interlaced):
        size = h * (1 + w * 2 * channels)
        out[y0::dy, x0::dx] = _unfilter_levels(raw[start:start + size], w, h, channels)
        start += size
    return out


def _unfilter(kinds: np.ndarray, filtered: np.ndarray) -> np.ndarray:
    """Undo the PNG row filters.

    Parameters
    ----------
    kinds : ndarray, shape (H,), dtype uint8
        Each row's filter: 0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth.
    filtered : ndarray, shape (H, W, bpp), dtype uint8

    Returns
    -------
    ndarray, shape (H, W, bpp), dtype uint8

    Notes
    -----
    A byte is predicted from the same byte of the pixel to its left (a), above (b) and above-left (c), each 0 off
    the image. Every pixel on an anti-diagonal ``y + x = d`` depends only on the two diagonals before it, so the
    loop runs over the H + W - 1 diagonals, each in one vectorized step for all filter types at once.
    """
    if kinds.max(initial=0) > 4:
        raise ValueError(f"the PNG image data uses an unknown row filter {int(kinds.max())}")
    height, width, bpp = filtered.shape
    out = np.zeros((height + 1, width + 1, bpp), np.uint8)  # pixel (y, x) at [y + 1, x + 1]; row and column 0 are 0
    for d in range(height + width - 1):
        y = np.arange(max(0, d - width + 1), min(height, d + 1))  # (n,) rows on this diagonal
        x = d - y
        a, b, c = (out[i, j].astype(np.int16) for i, j in ((y + 1, x), (y, x + 1), (y, x)))  # left, up, up-left
        kind = kinds[y][:, None]  # (n, 1)
        pred = np.select([kind == 1, kind == 2, kind == 3, kind == 4], [a, b, (a + b) >> 1, _paeth(a, b, c)], 0)
        out[y + 1, x + 1] = (filtered[y, x] + pred).astype(np.uint8)  # mod 256
    return out[1:, 1:]


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The Paeth predictor: whichever of a, b, c is nearest ``a + b - c`` (ties to a, then b)."""
    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _with_key_alpha(levels: np.ndarray, key: bytes) -> np.ndarray:
    """(H, W, C + 1) levels: ``levels`` (C = 1 or 3) and an alpha of 0 where a pixel equals the tRNS colour."""
    channels = levels.shape[-1]
    if len(key) != 2 * channels:
        raise ValueError(f"the PNG file has a malformed tRNS chunk ({len(key)} bytes, expected {2 * channels})")
    opaque = (levels != np.frombuffer(key, ">u2")).any(axis=-1)  # (H, W)
    return np.dstack([levels, np.where(opaque, 65535, 0).astype(np.uint16)])
