"""MNIST idx loading (magic numbers, counts, shapes, truncated/corrupted files) and 2x downsampling."""

from __future__ import annotations

import gzip
import hashlib
import shutil

import numpy as np
import pytest
import torch

from scorematch.datasets import MNIST_FILES, data_dir, downsample2x, load_mnist, read_idx


def idx_bytes(arr: np.ndarray, *, dtype_code: int = 0x08, magic: bytes = b"\0\0") -> bytes:
    header = magic + bytes([dtype_code, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_split(directory, images: np.ndarray, labels: np.ndarray, split: str = "test", *, gz: bool = True):
    img_stem, lab_stem, _ = MNIST_FILES[split]
    for stem, arr in ((img_stem, images), (lab_stem, labels)):
        raw = idx_bytes(arr)
        if gz:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / stem).write_bytes(raw)


@pytest.fixture(scope="module")
def bundled_test_split():
    return load_mnist(split="test")


# ------------------------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_reads_shape_and_values(tmp_path, gz):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = idx_bytes(arr)
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_rejects_a_bad_magic_number(tmp_path, gz):
    raw = idx_bytes(np.zeros((2, 2), np.uint8), magic=b"\x01\x00")
    path = tmp_path / "bad.idx"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(ValueError, match="magic"):
        read_idx(path)


def test_read_idx_rejects_a_png_renamed_as_idx(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(ValueError, match="magic"):
        read_idx(path)


def test_read_idx_rejects_non_byte_data(tmp_path):
    path = tmp_path / "float.idx"
    path.write_bytes(idx_bytes(np.zeros((2, 2), np.uint8), dtype_code=0x0D))  # 0x0D: float32
    with pytest.raises(ValueError, match="not supported"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_rejects_truncated_data_and_header(tmp_path, gz):
    raw = idx_bytes(np.ones((5, 28, 28), np.uint8))
    path = tmp_path / "t.idx"
    for content in (raw[:-1], raw[:-28 * 28], raw[:10]):  # one byte short, one image short, inside the header
        path.write_bytes(gzip.compress(content) if gz else content)
        with pytest.raises(ValueError, match="truncated|does not match"):
            read_idx(path)


def test_read_idx_rejects_a_cut_gzip_stream(tmp_path):
    blob = gzip.compress(idx_bytes(np.random.default_rng(0).integers(0, 256, (50, 28, 28)).astype(np.uint8)))
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="corrupt|truncated|does not match"):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.idx")


# ------------------------------------------------------------------------------------------ load_mnist


def test_bundled_mnist_has_the_official_counts_and_shapes(bundled_test_split):
    images, labels = bundled_test_split
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
    # Known facts of the official test set: the first labels and the class counts.
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert images.max() == 255 and images.min() == 0


def test_bundled_files_match_the_published_md5():
    folder = data_dir() / "mnist"
    md5 = {
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    for name, digest in md5.items():
        assert hashlib.md5((folder / name).read_bytes()).hexdigest() == digest


def test_load_mnist_from_a_user_directory_raw_files(tmp_path, bundled_test_split):
    images, labels = bundled_test_split
    write_split(tmp_path, images, labels, gz=False)
    got_images, got_labels = load_mnist(tmp_path, "test")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_load_mnist_reports_a_corrupted_copy_of_the_real_file(tmp_path):
    folder = data_dir() / "mnist"
    for stem in MNIST_FILES["test"][:2]:
        shutil.copy(folder / f"{stem}.gz", tmp_path / f"{stem}.gz")
    target = tmp_path / "t10k-images-idx3-ubyte.gz"
    blob = target.read_bytes()
    target.write_bytes(blob[: len(blob) - 1000])  # a download cut short
    with pytest.raises(ValueError, match="t10k-images"):
        load_mnist(tmp_path, "test")
    # Flip bytes inside the compressed stream: gzip's CRC (or the inflater) must catch it.
    damaged = bytearray(blob)
    damaged[len(blob) // 2 : len(blob) // 2 + 16] = bytes(16)
    target.write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="t10k-images"):
        load_mnist(tmp_path, "test")


def test_load_mnist_checks_counts_shapes_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    ok_images = rng.integers(0, 256, (10000, 28, 28)).astype(np.uint8)
    ok_labels = rng.integers(0, 10, 10000).astype(np.uint8)
    cases = [
        (ok_images[:500], ok_labels[:500], "expected 10000 images"),  # wrong count for the split
        (ok_images[:, :27, :27], ok_labels, r"shape \(N, 28, 28\)"),  # wrong image shape
        (ok_images, ok_labels[:9999], "labels for 10000 images"),  # label count mismatch
        (ok_images, np.full(10000, 12, np.uint8), "digits 0-9"),  # not digits
    ]
    for images, labels, message in cases:
        write_split(tmp_path, images, labels)
        with pytest.raises(ValueError, match=message):
            load_mnist(tmp_path, "test")


def test_load_mnist_missing_files_and_bad_split(tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        load_mnist(tmp_path, "test")
    with pytest.raises(ValueError, match="split"):
        load_mnist(tmp_path, "validation")


# ---------------------------------------------------------------------------------------- downsample2x


def test_downsample2x_averages_2x2_blocks():
    img = np.array([[0, 255, 10, 20], [255, 0, 30, 40], [1, 1, 7, 9], [1, 1, 11, 13]], np.uint8)[None]
    out = downsample2x(img, dtype=torch.float64)
    expected = np.array([[510 / 4, 100 / 4], [4 / 4, 40 / 4]]) / 255.0
    assert out.shape == (1, 2, 2) and out.dtype == torch.float64
    np.testing.assert_allclose(out[0].numpy(), expected, rtol=0, atol=1e-15)


def test_downsample2x_of_mnist_is_14x14_in_unit_range(bundled_test_split):
    images, _ = bundled_test_split
    x = downsample2x(images[:500])
    assert x.shape == (500, 14, 14) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    # Block averaging keeps the mean intensity (up to float rounding).
    assert float(x.double().mean()) == pytest.approx(images[:500].mean() / 255.0, rel=1e-6)
    # MNIST stays very non-smooth after downsampling: most pixels are exactly 0 (the paper's point).
    assert float((x == 0).double().mean()) > 0.6


def test_downsample2x_equals_avg_pool():
    images = np.random.default_rng(1).integers(0, 256, (3, 6, 8)).astype(np.uint8)
    pooled = torch.nn.functional.avg_pool2d(torch.as_tensor(images, dtype=torch.float64)[:, None], 2)[:, 0] / 255
    np.testing.assert_allclose(downsample2x(images, dtype=torch.float64).numpy(), pooled.numpy(), atol=1e-15)


@pytest.mark.parametrize("shape", [(2, 27, 28), (2, 28, 27), (28, 28), (1, 2, 2, 2)])
def test_downsample2x_rejects_odd_or_wrong_shapes(shape):
    with pytest.raises(ValueError, match="even"):
        downsample2x(np.zeros(shape, np.uint8))
