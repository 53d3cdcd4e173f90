"""What real photos trip on: EXIF orientation, 16-bit colour PNG/TIFF, alpha channels (read and written back).

The 16-bit PNGs read here are encoded by this file (every row filter, Adam7), independently of the library's
writer, and checked against Pillow's own (8-bit) decoding of the same bytes."""

from __future__ import annotations

import logging
import struct
import zlib

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image, ImageOps

from scorematch.io import images
from scorematch.io.png16 import read_png16
from scorematch.io.images import ImageFileError, ImageInfo, read_image, read_image_info, write_image

ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
RNG = np.random.default_rng(7)


def _levels(shape, bits=16) -> np.ndarray:
    """Random levels with both extremes and a smooth ramp (which the predicting filters work on)."""
    top = 2**bits - 1
    out = RNG.integers(0, top + 1, shape)
    out.flat[0], out.flat[-1] = 0, top
    out[: shape[0] // 2] = np.cumsum(out[: shape[0] // 2] % 97, axis=1) % (top + 1)
    return out.astype(np.uint16 if bits == 16 else np.uint8)


def _chw(levels: np.ndarray, top: int) -> torch.Tensor:
    return torch.from_numpy(levels / top).permute(2, 0, 1).contiguous()  # (3, H, W), as a restoration returns it


# ---- an independent 16-bit PNG encoder ---------------------------------------------------------------------------


def _filter_row(row: np.ndarray, prior: np.ndarray, kind: int, bpp: int) -> bytes:
    """One row filtered as the PNG specification writes it (``row``, ``prior``: int arrays of the raw bytes)."""
    left = np.concatenate([np.zeros(bpp, int), row[:-bpp]])
    upleft = np.concatenate([np.zeros(bpp, int), prior[:-bpp]])
    p = left + prior - upleft
    pa, pb, pc = abs(p - left), abs(p - prior), abs(p - upleft)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prior, upleft))
    pred = [np.zeros_like(row), left, prior, (left + prior) // 2, paeth][kind]
    return bytes([kind]) + ((row - pred) % 256).astype(np.uint8).tobytes()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png16(levels: np.ndarray, *, first_filter=0, interlaced=False, extra=()) -> bytes:
    """A 16-bit PNG of levels (H, W, C); row i of each pass uses filter (first_filter + i) % 5; ``extra`` chunks
    go before the image data."""
    h, w, c = levels.shape
    raw = b""
    for x0, y0, dx, dy in ADAM7 if interlaced else ((0, 0, 1, 1),):
        sub = levels[y0::dy, x0::dx]  # (h_p, w_p, C)
        if sub.size == 0:
            continue
        rows = sub.astype(">u2").view(np.uint8).reshape(sub.shape[0], -1).astype(int)  # (h_p, w_p * 2C) bytes
        for i, row in enumerate(rows):
            prior = rows[i - 1] if i else np.zeros_like(row)
            raw += _filter_row(row, prior, (first_filter + i) % 5, 2 * c)
    header = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0, int(interlaced))
    body = b"".join(_chunk(k, v) for k, v in extra) + _chunk(b"IDAT", zlib.compress(raw))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + body + _chunk(b"IEND", b"")


def _as_pillow_decodes(levels: np.ndarray) -> np.ndarray:
    """What Pillow makes of 16-bit levels (H, W, C): grey as it is, grey + alpha as 8-bit RGBA, colour 8-bit."""
    if levels.shape[-1] == 1:
        return levels
    return (levels[..., [0, 0, 0, 1]] if levels.shape[-1] == 2 else levels) >> 8  # the high bytes


@pytest.mark.parametrize("interlaced", [False, True])
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (9, 11), (16, 8)])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png16_reader_undoes_every_filter_and_adam7(tmp_path, shape, channels, interlaced):
    levels = _levels((*shape, channels))
    for first in range(5):
        path = tmp_path / f"f{first}.png"
        path.write_bytes(_png16(levels, first_filter=first, interlaced=interlaced))
        pillow = np.asarray(Image.open(path)).reshape(*shape, -1)
        assert np.array_equal(pillow, _as_pillow_decodes(levels)), "the test's encoder disagrees with Pillow's decoder"
        assert np.array_equal(read_png16(path), levels)


def test_png16_reader_reads_pillows_adaptive_filters(tmp_path):
    levels = _levels((40, 30))
    Image.fromarray(levels).save(tmp_path / "g.png")  # Pillow: mode I;16, filters chosen per row
    assert np.array_equal(read_png16(tmp_path / "g.png")[..., 0], levels)


@pytest.mark.parametrize("interlaced", [False, True])
def test_16bit_rgb_and_rgba_png_are_read_with_16_bits(tmp_path, interlaced):
    rgba = _levels((7, 10, 4))
    (tmp_path / "rgb.png").write_bytes(_png16(rgba[..., :3], interlaced=interlaced))
    (tmp_path / "rgba.png").write_bytes(_png16(rgba, first_filter=4, interlaced=interlaced))
    x, info = read_image_info(tmp_path / "rgb.png", colour=True, dtype=torch.float64)
    assert info == ImageInfo(16, True) and info.alpha is None
    assert np.array_equal(x.permute(1, 2, 0).numpy(), rgba[..., :3] / 65535)
    x, info = read_image_info(tmp_path / "rgba.png", colour=True, dtype=torch.float64)
    assert np.array_equal(x.permute(1, 2, 0).numpy(), rgba[..., :3] / 65535)
    assert info.bits == 16 and np.array_equal(info.alpha, rgba[..., 3] / 65535)
    grey = read_image(tmp_path / "rgba.png", dtype=torch.float64)  # the default still converts to gray
    assert np.allclose(grey.numpy(), rgba[..., :3] / 65535 @ [0.299, 0.587, 0.114])


def test_16bit_grey_alpha_png_and_trns_key(tmp_path):
    la = _levels((5, 6, 2))
    (tmp_path / "la.png").write_bytes(_png16(la, first_filter=3))
    x, info = read_image_info(tmp_path / "la.png", dtype=torch.float64)
    assert info == ImageInfo(16, False) and x.shape == (5, 6)
    assert np.array_equal(x.numpy(), la[..., 0] / 65535) and np.array_equal(info.alpha, la[..., 1] / 65535)
    rgb = _levels((4, 5, 3))
    key = rgb[2, 3]
    (tmp_path / "key.png").write_bytes(_png16(rgb, extra=[(b"tRNS", key.astype(">u2").tobytes())]))
    _, info = read_image_info(tmp_path / "key.png", colour=True)
    assert np.array_equal(info.alpha, np.where((rgb == key).all(axis=-1), 0.0, 1.0))


def test_corrupt_16bit_png_is_refused_cleanly(tmp_path):
    good = _png16(_levels((6, 6, 3)), first_filter=1)
    idat = good.index(b"IDAT")
    rows = (b"\x07" + bytes(6 * 6)) * 6  # filter type 7 does not exist
    cases = {
        "crc": good[: idat + 10] + bytes([good[idat + 10] ^ 1]) + good[idat + 11:],
        "short": good[: idat + 20],
        "filter": good[: idat - 4] + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b""),
        "excess": good[: idat - 4] + _chunk(b"IDAT", zlib.compress(b"\0" * 999)) + _chunk(b"IEND", b""),
    }
    for name, data in cases.items():
        (tmp_path / f"{name}.png").write_bytes(data)
        with pytest.raises(ImageFileError, match="corrupt|truncated|not a readable"):
            read_image(tmp_path / f"{name}.png")


# ---- 16-bit colour written and read back ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
def test_16bit_rgb_round_trips_exactly(tmp_path, suffix):
    levels = _levels((9, 13, 3))
    path = write_image(tmp_path / f"o{suffix}", _chw(levels, 65535), bits=16)
    x, info = read_image_info(path, colour=True, dtype=torch.float64)
    assert info == ImageInfo(16, True)
    assert np.array_equal(x.permute(1, 2, 0).numpy(), levels / 65535)
    if suffix == ".png":
        head = path.read_bytes()[:26]
        assert (head[24], head[25]) == (16, 2)  # IHDR: 16 bits, RGB
        assert np.array_equal(np.asarray(Image.open(path)), levels >> 8)  # Pillow's own decoder agrees
    else:
        assert np.array_equal(tifffile.imread(path), levels)


def test_tiff_colour_defaults_to_16_bits_and_pgm_refuses_16bit_colour(tmp_path):
    levels = _levels((4, 5, 3))
    write_image(tmp_path / "o.tif", _chw(levels, 65535))
    assert read_image_info(tmp_path / "o.tif")[1].bits == 16
    with pytest.raises(ValueError, match=r"holds 16-bit gray images, not colour; use \.png or \.tif"):
        write_image(tmp_path / "o.pgm", _chw(levels, 65535), bits=16)
    assert not (tmp_path / "o.pgm").exists()


@pytest.mark.parametrize("layout", ["contig", "separate", "rgba", "la", "associated"])
def test_16bit_tiffs_from_tifffile_are_read_with_16_bits(tmp_path, layout):
    levels = _levels((6, 7, 4))
    path = tmp_path / "t.tif"
    if layout == "contig":
        tifffile.imwrite(path, levels[..., :3], photometric="rgb")
    elif layout == "separate":
        tifffile.imwrite(path, np.moveaxis(levels[..., :3], -1, 0), photometric="rgb", planarconfig="separate")
    elif layout == "la":
        tifffile.imwrite(path, levels[..., :2], photometric="minisblack", extrasamples=["unassalpha"])
    else:
        tifffile.imwrite(path, levels, photometric="rgb",
                         extrasamples=["assocalpha" if layout == "associated" else "unassalpha"])
    x, info = read_image_info(path, colour=True, dtype=torch.float64)
    alpha = levels[..., 3 if layout != "la" else 1] / 65535
    if layout == "la":
        assert info == ImageInfo(16, False) and np.array_equal(x.numpy(), levels[..., 0] / 65535)
    elif layout == "associated":  # premultiplied: the colour is divided by alpha
        want = np.clip(levels[..., :3] / 65535 / alpha[..., None], 0, 1)
        assert info.bits == 16 and np.allclose(x.permute(1, 2, 0).numpy(), want, rtol=0, atol=1e-12)
    else:
        assert info == ImageInfo(16, True) and np.array_equal(x.permute(1, 2, 0).numpy(), levels[..., :3] / 65535)
    assert (info.alpha is None) == (layout in ("contig", "separate"))
    if info.alpha is not None:
        assert np.array_equal(info.alpha, alpha)


def test_a_16bit_tiff_pillow_must_read_says_it_keeps_8_bits(tmp_path, monkeypatch, caplog):
    levels = _levels((3, 4, 3))
    tifffile.imwrite(tmp_path / "t.tif", levels, photometric="rgb")
    monkeypatch.setattr(images, "_is_tiff16", lambda path: False)  # as without tifffile or its codec
    with caplog.at_level(logging.WARNING, logger="scorematch.io.images"):
        _, info = read_image_info(tmp_path / "t.tif", colour=True)
    assert info.bits == 8 and "16-bit colour TIFF read with 8 bits; install tifffile" in caplog.text


def test_8bit_rgb_stays_8_bits_and_16bit_grey_works_as_before(tmp_path):
    rgb = _levels((5, 6, 3), bits=8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    x, info = read_image_info(tmp_path / "c.png", colour=True, dtype=torch.float64)
    assert info == ImageInfo(8, True) and np.array_equal(x.permute(1, 2, 0).numpy(), rgb / 255)
    write_image(tmp_path / "o.png", x)
    out = Image.open(tmp_path / "o.png")
    assert out.mode == "RGB" and np.array_equal(np.asarray(out), rgb)
    grey = _levels((5, 6))
    Image.fromarray(grey).save(tmp_path / "g.png")
    g, info = read_image_info(tmp_path / "g.png", dtype=torch.float64)
    assert info == ImageInfo(16, False) and np.array_equal(g.numpy(), grey / 65535)
    write_image(tmp_path / "g16.png", g, bits=16)
    out = Image.open(tmp_path / "g16.png")
    assert out.mode == "I;16" and np.array_equal(np.asarray(out), grey)


# ---- alpha --------------------------------------------------------------------------------------------------------


def test_8bit_alpha_is_kept_for_rgba_la_and_transparent_palettes(tmp_path):
    rgba = _levels((5, 6, 4), bits=8)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    Image.fromarray(rgba[..., [0, 3]]).save(tmp_path / "la.png")
    pal = Image.fromarray(rgba[..., 0] // 64).convert("P")  # palette indices 0..3
    pal.save(tmp_path / "p.png", transparency=2)
    x, info = read_image_info(tmp_path / "rgba.png", colour=True, dtype=torch.float64)
    assert info == ImageInfo(8, True) and np.array_equal(x.permute(1, 2, 0).numpy(), rgba[..., :3] / 255)
    assert info.alpha.shape == (5, 6) and np.array_equal(info.alpha, rgba[..., 3] / 255)
    g, info = read_image_info(tmp_path / "la.png", colour=True, dtype=torch.float64)
    assert info == ImageInfo(8, False) and np.array_equal(g.numpy(), rgba[..., 0] / 255)
    assert np.array_equal(info.alpha, rgba[..., 3] / 255)
    _, info = read_image_info(tmp_path / "p.png")
    assert np.array_equal(info.alpha, np.where(rgba[..., 0] // 64 == 2, 0.0, 1.0))
    assert read_image(tmp_path / "rgba.png").shape == (5, 6)  # the default still converts to gray


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("channels", [1, 3])
def test_alpha_round_trips_at_the_output_depth(tmp_path, suffix, bits, channels):
    top = 2**bits - 1
    levels = _levels((6, 5, channels + 1), bits=bits)
    image = _chw(levels[..., :channels], top)[0 if channels == 1 else slice(None)]  # (H, W) or (3, H, W)
    path = write_image(tmp_path / f"o{suffix}", image, bits=bits, alpha=levels[..., -1] / top)
    x, info = read_image_info(path, colour=True, dtype=torch.float64)
    assert info == ImageInfo(bits, channels == 3)
    got = x.numpy() if channels == 1 else x.permute(1, 2, 0).numpy()
    assert np.array_equal(got, levels[..., :channels].squeeze(-1) / top if channels == 1 else levels[..., :3] / top)
    assert np.array_equal(info.alpha, levels[..., -1] / top)
    if bits == 8:
        assert Image.open(path).mode == ("LA" if channels == 1 else "RGBA")


@pytest.mark.parametrize("name", ["o.jpg", "o.jpeg", "o.bmp", "o.pgm", "o.npy"])
def test_alpha_for_a_format_without_it_is_refused(tmp_path, name):
    with pytest.raises(ValueError, match=r"cannot hold an alpha channel; write a \.png or \.tif to keep it"):
        write_image(tmp_path / name, np.zeros((2, 3)), alpha=np.ones((2, 3)))
    assert not (tmp_path / name).exists()


def test_bad_alpha_arrays_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"alpha must have the image's shape \(H, W\) = \(2, 3\), got \(3, 2\)"):
        write_image(tmp_path / "o.png", np.zeros((3, 2, 3)).transpose(2, 1, 0), alpha=np.ones((3, 2)))
    with pytest.raises(ValueError, match="alpha contains NaN or inf values; nothing was written"):
        write_image(tmp_path / "o.png", np.zeros((2, 3)), alpha=np.full((2, 3), np.nan))
    assert not (tmp_path / "o.png").exists()


def test_npy_rgba_alpha_and_image_info_semantics(tmp_path):
    rgba = RNG.random((3, 4, 4))
    np.save(tmp_path / "a.npy", rgba * 255)
    x, info = read_image_info(tmp_path / "a.npy", colour=True, scale=255, dtype=torch.float64)
    assert np.allclose(info.alpha, rgba[..., 3], rtol=0, atol=1e-15) and x.shape == (3, 3, 4)
    assert info == ImageInfo(None, True) and hash(info) == hash(ImageInfo(None, True))  # alpha left out of ==
    assert not info.alpha.flags.writeable
    with pytest.raises(ImageFileError, match=r"alpha values must lie in \[0, 1\]"):
        read_image_info(tmp_path / "a.npy", colour=True, check_range=False)  # alpha on 0..255 without scale


# ---- EXIF orientation ---------------------------------------------------------------------------------------------


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def test_exif_orientation_6_jpeg_comes_out_upright(tmp_path):
    rgb = np.zeros((8, 16, 3), np.uint8)
    rgb[:4, :8, 0] = 255  # a red block at the stored top-left
    Image.fromarray(rgb).save(tmp_path / "photo.jpg", exif=_exif(6), quality=95)
    x, info = read_image_info(tmp_path / "photo.jpg", colour=True)
    assert x.shape == (3, 16, 8) and info.orientation == 6  # the 16-wide stored image stands up
    assert info.orientation_note == "applied EXIF orientation 6 (rotated 90 degrees clockwise)"
    stored = np.asarray(Image.open(tmp_path / "photo.jpg")) / 255.0  # (8, 16, 3), as decoded
    assert np.allclose(x.permute(1, 2, 0).double().numpy(), np.rot90(stored, -1), atol=1e-6)
    assert x[0, :8, 4:].mean() > 0.9 and x[0, 8:, :].mean() < 0.1  # the block now at the top-right
    write_image(tmp_path / "out.png", x)
    out = Image.open(tmp_path / "out.png")
    assert out.size == (8, 16) and 0x0112 not in out.getexif()  # upright and no orientation tag
    assert read_image_info(tmp_path / "out.png")[1].orientation == 1


@pytest.mark.parametrize("orientation", range(1, 9))
def test_each_exif_orientation_matches_pillows_exif_transpose(tmp_path, orientation):
    rgba = _levels((5, 7, 4), bits=8)
    Image.fromarray(rgba).save(tmp_path / "o.png", exif=_exif(orientation))
    want = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")))  # (H', W', 4)
    x, info = read_image_info(tmp_path / "o.png", colour=True, dtype=torch.float64)
    assert info.orientation == orientation and (info.orientation_note == "") == (orientation == 1)
    assert np.array_equal(x.permute(1, 2, 0).numpy(), want[..., :3] / 255)
    assert np.array_equal(info.alpha, want[..., 3] / 255)  # the alpha turns with the image


def test_invalid_orientation_is_ignored_like_pillow(tmp_path):
    Image.fromarray(_levels((3, 5), bits=8)).save(tmp_path / "o.jpg", exif=_exif(9))
    x, info = read_image_info(tmp_path / "o.jpg")
    assert info.orientation == 1 and x.shape == (3, 5)


def test_exif_orientation_applies_to_16bit_png_and_tiff(tmp_path):
    rgba = _levels((4, 6, 4))
    exif = (b"eXIf", _exif(8).tobytes())
    (tmp_path / "o.png").write_bytes(_png16(rgba, first_filter=2, extra=[exif]))
    tifffile.imwrite(tmp_path / "o.tif", rgba, photometric="rgb", extrasamples=["unassalpha"],
                     extratags=[(274, 3, 1, 8, True)])
    for name in ("o.png", "o.tif"):
        x, info = read_image_info(tmp_path / name, colour=True, dtype=torch.float64)
        assert info.orientation == 8 and info.bits == 16, name
        assert np.array_equal(x.permute(1, 2, 0).numpy(), np.rot90(rgba[..., :3], 1) / 65535), name
        assert np.array_equal(info.alpha, np.rot90(rgba[..., 3], 1) / 65535), name


def test_a_huge_16bit_colour_file_is_refused_like_pillow_refuses_one(tmp_path, monkeypatch):
    rgba = _levels((6, 7, 4))
    (tmp_path / "o.png").write_bytes(_png16(rgba))
    tifffile.imwrite(tmp_path / "o.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20)  # 42 pixels is over twice the limit
    for name in ("o.png", "o.tif"):
        with pytest.raises(ImageFileError, match="refused, the image is too large"):
            read_image(tmp_path / name)
