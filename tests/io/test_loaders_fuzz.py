"""Property-based and fuzz tests of the file loaders: valid files round-trip, anything else gives a clean
error (:class:`ImageFileError` / :class:`ValueError`), never another exception type."""

from __future__ import annotations

import gzip
import io
import random
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
import torch

from scorematch.datasets import ImageFileError, list_images, read_idx, read_image, write_image
from scorematch.io.images import ImageInfo, output_bits, read_image_info

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


idx_arrays = st.integers(1, 4).flatmap(
    lambda nd: arrays(np.uint8, st.tuples(*[st.integers(0, 6)] * nd))
)


@FAST
@given(arr=idx_arrays, compress=st.booleans())
def test_read_idx_round_trips(tmp_path, arr, compress):
    raw = idx_bytes(arr)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(raw) if compress else raw)
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == arr.shape and np.array_equal(out, arr)


@FAST
@given(arr=idx_arrays, compress=st.booleans(), data=st.data())
def test_read_idx_refuses_truncated_or_padded_files(tmp_path, arr, compress, data):
    raw = idx_bytes(arr)
    cut = data.draw(st.integers(0, len(raw) - 1), label="cut")
    pad = data.draw(st.binary(min_size=1, max_size=8), label="pad")
    for content in (raw[:cut], raw + pad):
        path = tmp_path / "a.idx"
        path.write_bytes(gzip.compress(content) if compress else content)
        with pytest.raises(ValueError):
            read_idx(path)
    if compress:  # a cut gzip stream
        path.write_bytes(gzip.compress(raw)[: data.draw(st.integers(2, len(gzip.compress(raw)) - 1))])
        with pytest.raises(ValueError):
            read_idx(path)


def test_read_idx_does_not_trust_a_huge_header(tmp_path):
    lie = bytes([0, 0, 8, 3]) + (60000).to_bytes(4, "big") + (2**20).to_bytes(4, "big") * 2 + b"\0" * 100
    for content, name in ((lie, "raw"), (gzip.compress(lie), "gz")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match="does not match the header|more than the"):
            read_idx(path)


def _clean_idx(path) -> None:
    try:
        out = read_idx(path)
    except ValueError:
        return
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8


@FAST
@given(blob=st.binary(max_size=300), gz=st.booleans())
def test_read_idx_on_random_bytes_fails_cleanly(tmp_path, blob, gz):
    path = tmp_path / "r.idx"
    path.write_bytes(gzip.compress(blob) if gz else blob)
    _clean_idx(path)
    path.write_bytes(b"\x1f\x8b" + blob)  # a gzip magic followed by garbage
    _clean_idx(path)


# --------------------------------------------------------------------------- images


def _encode(arr: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


gray8 = arrays(np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24)))


@FAST
@given(arr=gray8, fmt=st.sampled_from(["PNG", "BMP", "TIFF", "PPM"]))
def test_read_image_round_trips_lossless_8bit(tmp_path, arr, fmt):
    path = tmp_path / {"PNG": "a.png", "BMP": "a.bmp", "TIFF": "a.tif", "PPM": "a.pgm"}[fmt]
    path.write_bytes(_encode(arr, fmt))
    out = read_image(path)
    assert out.shape == arr.shape
    np.testing.assert_allclose(out.double().numpy(), arr / 255.0, atol=1e-7)


@FAST
@given(arr=arrays(np.uint16, st.tuples(st.integers(1, 16), st.integers(1, 16))))
def test_read_image_round_trips_16bit_png(tmp_path, arr):
    path = tmp_path / "a.png"
    Image.fromarray(arr).save(path)
    out = read_image(path)
    np.testing.assert_allclose(out.double().numpy(), arr / 65535.0, atol=1e-7)


@FAST
@given(arr=arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 8)), elements=st.floats(0, 1)))
def test_read_image_round_trips_npy(tmp_path, arr):
    path = tmp_path / "a.npy"
    np.save(path, arr)
    assert np.array_equal(read_image(path, dtype=__import__("torch").float64).numpy(), arr)


@FAST
@given(arr=arrays(np.uint16, st.tuples(st.integers(1, 16), st.integers(1, 16))), suffix=st.sampled_from([".png", ".tif", ".pgm"]))
def test_write_image_keeps_16_bits(tmp_path, arr, suffix):
    path = tmp_path / f"a{suffix}"
    Image.fromarray(arr).save(tmp_path / "in.png")  # mode "I;16"
    img, info = read_image_info(tmp_path / "in.png", dtype=__import__("torch").float64)
    assert info == ImageInfo(bits=16, colour=False)
    write_image(path, img, bits=16)
    assert np.array_equal(np.asarray(Image.open(path)).astype(np.int64), arr.astype(np.int64))
    assert read_image_info(path)[1].bits == 16


def test_read_image_info_reports_bits_and_colour(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (6, 5, 3)).astype(np.uint8)
    cases = {
        "g8.png": (Image.fromarray(rgb[..., 0]), ImageInfo(8, False)),
        "rgb.png": (Image.fromarray(rgb), ImageInfo(8, True)),
        "grey_rgb.png": (Image.fromarray(np.repeat(rgb[..., :1], 3, axis=2)), ImageInfo(8, False)),
        "bw.png": (Image.fromarray(rgb[..., 0] > 127), ImageInfo(1, False)),
        "f.tif": (Image.fromarray(rgb[..., 0].astype(np.float32) / 255), ImageInfo(None, False)),
    }
    for name, (im, want) in cases.items():
        im.save(tmp_path / name)
        assert read_image_info(tmp_path / name)[1] == want, name
    np.save(tmp_path / "rgb.npy", rgb / 255.0)
    np.save(tmp_path / "u16.npy", rgb[..., 0].astype(np.uint16))
    assert read_image_info(tmp_path / "rgb.npy")[1] == ImageInfo(None, True)
    assert read_image_info(tmp_path / "u16.npy")[1] == ImageInfo(16, False)


def test_scale_applies_to_float_data_only(tmp_path):
    np.save(tmp_path / "f.npy", np.array([[0.0, 127.5, 255.0]]))
    np.save(tmp_path / "u8.npy", np.array([[0, 255]], dtype=np.uint8))
    assert read_image_info(tmp_path / "f.npy", scale=255)[0].tolist() == [[0.0, 0.5, 1.0]]
    assert read_image_info(tmp_path / "u8.npy", scale=255)[0].tolist() == [[0.0, 1.0]]
    with pytest.raises(ImageFileError, match=r"must lie in \[0, 1\]"):
        read_image(tmp_path / "f.npy")
    raw, _ = read_image_info(tmp_path / "f.npy", check_range=False)
    assert raw.max().item() == 255.0
    with pytest.raises(ValueError, match="scale must be > 0"):
        read_image_info(tmp_path / "f.npy", scale=0)
    write_image(tmp_path / "out.npy", raw / 255, scale=255)
    assert np.array_equal(np.load(tmp_path / "out.npy"), [[0.0, 127.5, 255.0]])


@pytest.mark.parametrize("name, bits, want", [("a.png", None, 8), ("a.png", 16, 16), ("a.tif", None, 16),
                                              ("a.TIF", 8, 8), ("a.pgm", 16, 16), ("a.npy", None, None)])
def test_output_bits(name, bits, want):
    assert output_bits(name, bits) == want


@pytest.mark.parametrize("name, bits, message", [
    ("a.jpg", 16, "a .jpg file holds 8-bit images, not 16-bit; use .png or .tif for 16 bits"),
    ("a.bmp", 16, "a .bmp file holds 8-bit images"),
    ("a.png", 12, "a .png file holds 8 or 16-bit images, not 12-bit"),
    ("a.npy", 8, "a .npy file holds float64 values, not 8-bit levels"),
    ("a.gif", None, "unsupported output extension '.gif'"),
])
def test_output_bits_refuses(tmp_path, name, bits, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        output_bits(name, bits)
    with pytest.raises(ValueError, match="holds|unsupported"):
        write_image(tmp_path / name, np.zeros((2, 2)), bits=bits)
    assert not (tmp_path / name).exists()


def _clean_image(path) -> None:
    try:
        out = read_image(path)
    except ImageFileError:
        return
    assert out.dim() == 2 and out.numel() > 0
    assert bool(((out >= 0) & (out <= 1)).all())


SUFFIXES = [".png", ".jpg", ".tif", ".bmp", ".pgm", ".npy"]


@FAST
@pytest.mark.filterwarnings("ignore")
@given(blob=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES))
def test_read_image_on_random_bytes_fails_cleanly(tmp_path, blob, suffix):
    path = tmp_path / f"r{suffix}"
    path.write_bytes(blob)
    _clean_image(path)


def _valid_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    img = (rng.random((24, 20)) * 255).astype(np.uint8)
    npy = io.BytesIO()
    np.save(npy, img / 255.0)
    return {
        ".png": _encode(img, "PNG"),
        ".jpg": _encode(img, "JPEG"),
        ".tif": _encode(img, "TIFF"),
        ".bmp": _encode(img, "BMP"),
        ".pgm": _encode(img, "PPM"),
        ".npy": npy.getvalue(),
        ".png16": _encode(img.astype(np.uint16) * 257, "PNG"),
        ".png48": _encode_rgba16(img, ".png"),  # 16-bit RGBA: the library's own PNG decoder
        ".tif48": _encode_rgba16(img, ".tif"),  # 16-bit RGBA: read through tifffile
    }


def _encode_rgba16(img: np.ndarray, suffix: str) -> bytes:
    """A 16-bit RGBA file of ``img`` (H, W) in its colour and alpha channels, written by :func:`write_image`."""
    with tempfile.TemporaryDirectory() as d:
        rgb = np.stack([img, img[::-1], 255 - img]) / 255.0  # (3, H, W)
        path = write_image(Path(d) / f"a{suffix}", rgb, bits=16, alpha=img[:, ::-1] / 255.0)
        return path.read_bytes()


def fuzz_mutated_images(tmp_path, trials: int, seed: int) -> None:
    """Seeded mutations of valid files: cuts, bit flips, overwritten runs, header garbage."""
    rng = random.Random(seed)
    valid = _valid_files()
    for trial in range(trials):
        suffix = rng.choice(list(valid))
        data = bytearray(valid[suffix])
        how = rng.randrange(4)
        if how == 0:
            data = data[: rng.randrange(len(data))]
        elif how == 1:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif how == 2:
            start = rng.randrange(len(data))
            data[start : start + rng.randint(1, 16)] = bytes(rng.randrange(256) for _ in range(16))
        else:
            start = rng.randrange(min(64, len(data)))
            data[start : start + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"])
        path = tmp_path / f"m{trial % 10}{suffix[:4]}"
        path.write_bytes(bytes(data))
        _clean_image(path)


def fuzz_signatures(tmp_path, trials: int, seed: int) -> None:
    """Random bodies behind each format's real signature get past format detection into the decoders."""
    rng = random.Random(seed)
    signatures = {
        ".png": b"\x89PNG\r\n\x1a\n", ".jpg": b"\xff\xd8\xff\xe0", ".tif": b"II*\x00", ".bmp": b"BM",
        ".pgm": b"P5\n", ".npy": b"\x93NUMPY\x01\x00",
    }
    for trial in range(trials):
        suffix, sig = rng.choice(list(signatures.items()))
        body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
        path = tmp_path / f"s{suffix}"
        path.write_bytes(sig + body)
        _clean_image(path)


def fuzz_idx(tmp_path, trials: int, seed: int) -> None:
    rng = random.Random(seed)
    arr = np.arange(2 * 5 * 4, dtype=np.uint8).reshape(2, 5, 4)
    valid = [idx_bytes(arr), gzip.compress(idx_bytes(arr))]
    for trial in range(trials):
        data = bytearray(rng.choice(valid))
        if rng.random() < 0.5:
            data = data[: rng.randrange(len(data))]
        for _ in range(rng.randint(0, 6)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        path = tmp_path / "f.idx"
        path.write_bytes(bytes(data))
        _clean_idx(path)


@pytest.mark.filterwarnings("ignore")
def test_fuzz_fails_cleanly(tmp_path):
    """CI share: a few hundred mutated files of each kind (the slow variant runs 20x more, other seeds)."""
    fuzz_mutated_images(tmp_path, 600, seed=2010)
    fuzz_signatures(tmp_path, 300, seed=7)
    fuzz_idx(tmp_path, 300, seed=1998)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_fuzz_fails_cleanly_long(tmp_path):
    for seed in range(4):
        fuzz_mutated_images(tmp_path, 3000, seed=100 + seed)
        fuzz_signatures(tmp_path, 1500, seed=200 + seed)
        fuzz_idx(tmp_path, 1500, seed=300 + seed)


def test_truncated_png_and_jpeg_are_refused(tmp_path):
    valid = _valid_files()
    for suffix in (".png", ".jpg"):
        path = tmp_path / f"half{suffix}"
        path.write_bytes(valid[suffix][: len(valid[suffix]) // 2])
        with pytest.raises(ImageFileError, match="truncated|corrupt|not a readable"):
            read_image(path)


def test_wrong_modes_and_bit_depths_are_refused(tmp_path):
    f = tmp_path / "float.tif"
    Image.fromarray(np.full((4, 4), 3.0, dtype=np.float32)).save(f)
    with pytest.raises(ImageFileError, match=r"must lie in \[0, 1\]"):
        read_image(f)
    i32 = tmp_path / "int32.tif"
    Image.fromarray(np.full((4, 4), 70000, dtype=np.int32)).save(i32)
    with pytest.raises(ImageFileError, match="outside the 16-bit range"):
        read_image(i32)
    cube = tmp_path / "cube.npy"
    np.save(cube, np.zeros((2, 3, 5)))
    with pytest.raises(ImageFileError, match="expected a 2-D gray image"):
        read_image(cube)
    nan = tmp_path / "nan.npy"
    np.save(nan, np.array([[0.5, np.nan]]))
    with pytest.raises(ImageFileError, match="NaN or inf"):
        read_image(nan)
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([[None]], dtype=object), allow_pickle=True)
    with pytest.raises(ImageFileError, match="not a readable .npy"):
        read_image(obj)


def test_a_folder_without_images_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(ImageFileError, match="no image files"):
        list_images(tmp_path)


def test_colour_round_trip_png_and_npy(tmp_path):
    """``colour=True`` keeps the channels, (3, H, W); the default still converts to gray; .npy colour is (H, W, 3)."""
    rgb = np.random.default_rng(5).integers(0, 256, (6, 7, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    x = read_image(tmp_path / "c.png", colour=True, dtype=torch.float64)
    assert x.shape == (3, 6, 7) and torch.allclose(x, torch.from_numpy(rgb).permute(2, 0, 1).double() / 255)
    assert read_image(tmp_path / "c.png").shape == (6, 7)
    write_image(tmp_path / "o.png", x)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o.png")), rgb)
    write_image(tmp_path / "o.tif", x, bits=8)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o.tif")), rgb)
    write_image(tmp_path / "o16.tif", x)  # TIFF's 16-bit default holds for colour too
    assert np.array_equal(read_image(tmp_path / "o16.tif", colour=True, dtype=torch.float64), x)
    write_image(tmp_path / "o.npy", x)
    assert np.load(tmp_path / "o.npy").shape == (6, 7, 3)
    assert torch.allclose(read_image(tmp_path / "o.npy", colour=True, dtype=torch.float64), x)
