"""Patch sampling, whitening, image splits and loader errors (the experiment's own data: paper/tests)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from scorematch import laplacian_whitening_kernel
from scorematch.datasets import ImageFileError, PatchStream, data_dir, read_image, split_images, whiten


def _coded_images():
    # Every pixel value is unique across both images, so a patch reveals where it came from.
    a = torch.arange(20 * 30, dtype=torch.float64).reshape(20, 30)
    b = 1000 + torch.arange(10 * 12, dtype=torch.float64).reshape(10, 12)
    return [a, b]


def test_patches_are_true_subwindows_and_positions_are_uniform():
    ims = _coded_images()
    size = 4
    sampler = PatchStream(ims, size)
    g = torch.Generator().manual_seed(0)
    patches = sampler(20000, g)  # (B, 1, 4, 4)
    assert patches.shape == (20000, 1, size, size)
    counts = {0: 0, 1: 0}
    corners = []
    for p in patches[:, 0]:
        v = float(p[0, 0])
        k = 0 if v < 1000 else 1
        im = ims[k]
        i, j = divmod(int(v - (0 if k == 0 else 1000)), im.shape[1])
        assert torch.equal(p, im[i : i + size, j : j + size])  # an exact window of the image
        counts[k] += 1
        if k == 0:
            corners.append((i, j))
    pos = [(20 - size + 1) * (30 - size + 1), (10 - size + 1) * (12 - size + 1)]
    # each image is drawn in proportion to its number of positions (every position equally likely)
    assert counts[0] / 20000 == pytest.approx(pos[0] / sum(pos), abs=0.01)
    rows = np.bincount([c[0] for c in corners], minlength=20 - size + 1)
    assert rows.min() > 0.7 * rows.mean() and rows.max() < 1.3 * rows.mean()  # all row offsets reached


def test_patch_stream_is_seeded_and_flattens_and_scales():
    ims = _coded_images()
    a = PatchStream(ims, 3, flatten=True, scale=2.0)(50, torch.Generator().manual_seed(3))
    b = PatchStream(ims, 3, flatten=True, scale=2.0)(50, torch.Generator().manual_seed(3))
    assert a.shape == (50, 9) and torch.equal(a, b)
    c = PatchStream(ims, 3, flatten=True)(50, torch.Generator().manual_seed(3))
    assert torch.equal(a, 2.0 * c)
    with pytest.raises(ValueError, match="smaller than the patch size"):
        PatchStream(ims, 11)
    with pytest.raises(ValueError, match="no images"):
        PatchStream([], 3)


def test_laplacian_whitening_kernel_and_whiten():
    k = laplacian_whitening_kernel(5, dtype=torch.float64)
    assert k.shape == (5, 5)
    assert float(k.sum()) == pytest.approx(0.0, abs=1e-12)  # a high-pass filter: constants map to 0
    assert float(k.norm()) == pytest.approx(1.0)
    assert torch.equal(k, k.flip(0)) and torch.equal(k, k.T)  # isotropic
    assert float(k[2, 2]) > 0 and float(k[0, 0]) < 0.01  # centre-surround
    img = torch.rand(1, 1, 12, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    w = whiten(img, k)
    assert w.shape == (1, 1, 8, 5)
    assert float(w[0, 0, 3, 2]) == pytest.approx(float((img[0, 0, 3:8, 2:7] * k).sum()))  # a correlation
    assert whiten(torch.full((1, 1, 7, 7), 0.3, dtype=torch.float64), k).abs().max() < 1e-12
    # on natural images the high-pass whitening removes most of the neighbour correlation (1/f spectrum)
    def corr(x):
        x = x[0, 0]
        return float(torch.corrcoef(torch.stack([x[:, :-1].flatten(), x[:, 1:].flatten()]))[0, 1])

    raw, white = [], []
    for name in ("house", "cameraman", "barbara", "boat"):
        im = read_image(data_dir() / f"set12/{name}.png", dtype=torch.float64)[None, None]
        raw.append(corr(im))
        white.append(corr(whiten(im, k)))
    assert min(raw) > 0.85
    assert np.mean(white) < np.mean(raw) - 0.3 and all(w < r for w, r in zip(white, raw))


def test_patch_stream_with_whitening_draws_from_the_whitened_images():
    ims = [torch.rand(30, 30, generator=torch.Generator().manual_seed(2), dtype=torch.float64)]
    k = laplacian_whitening_kernel(dtype=torch.float64)
    s = PatchStream(ims, 6, whitening=k, scale=255.0)
    w = whiten(255.0 * ims[0][None, None], k)[0, 0]  # (26, 26)
    p = s(5, torch.Generator().manual_seed(0))[:, 0]
    for patch in p:  # each patch is a window of the whitened, scaled image
        hits = (F.conv2d(w[None, None], patch[None, None]) ==
                F.conv2d(w[None, None], patch[None, None]).max())
        assert hits.any()
        i, j = [int(t[0]) for t in torch.nonzero(hits[0, 0], as_tuple=True)]
        assert torch.allclose(w[i : i + 6, j : j + 6], patch)


def test_split_images_is_deterministic_and_disjoint():
    ims = [torch.full((2, 2), float(i)) for i in range(20)]
    train, held = split_images(ims, holdout=0.1)
    assert len(train) == 18 and len(held) == 2
    vals = {float(t[0, 0]) for t in train} | {float(t[0, 0]) for t in held}
    assert len(vals) == 20 and not ({float(t[0, 0]) for t in train} & {float(t[0, 0]) for t in held})
    with pytest.raises(ValueError):
        split_images(ims, holdout=0.0)


def test_loaders_reject_empty_and_non_image_files(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a JPEG")
    for path in (empty, text):
        with pytest.raises(ImageFileError, match="not a readable image"):
            read_image(path)
    zero = tmp_path / "zero.npy"
    np.save(zero, np.zeros((0, 5)))
    with pytest.raises(ImageFileError, match="empty"):
        read_image(zero)


def test_colour_images_use_the_documented_luma_formula(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
    path = tmp_path / "rgb.png"
    Image.fromarray(rgb).save(path)
    expected = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255
    assert np.allclose(read_image(path, dtype=torch.float64).numpy(), expected, atol=1e-12)


def test_patch_stream_keeps_colour_channels():
    import torch
    from scorematch.datasets import PatchStream

    g = torch.Generator().manual_seed(0)
    ims = [torch.rand(3, 20, 30, generator=g), torch.rand(3, 25, 25, generator=g)]
    p = PatchStream(ims, 8, scale=2.0)(5, torch.Generator().manual_seed(1))
    assert p.shape == (5, 3, 8, 8) and p.max() <= 2.0
    grey = PatchStream([im[0] for im in ims], 8, scale=2.0)(5, torch.Generator().manual_seed(1))
    assert torch.equal(grey[:, 0], p[:, 0])  # the same draws: the grey patches are the colour ones' first channel
    with pytest.raises(ValueError, match="different numbers of channels"):
        PatchStream([ims[0], ims[1][0]], 8)


def test_colour_split_is_fixed():
    from scorematch.datasets import colour_split

    s = colour_split()
    assert [len(s[k]) for k in ("train", "tune", "heldout")] == [174, 6, 20]
    files = sorted(s["train"] + s["tune"] + s["heldout"])
    assert s["heldout"] == files[9::10] and not set(s["tune"]) & set(s["heldout"])
    assert [f.stem for f in s["tune"]] == ["105019", "145053", "181091", "227046", "277095", "370036"]
