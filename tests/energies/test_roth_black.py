"""The Roth & Black 3x3x8 FoE loads as an ordinary FieldOfExperts with the published expert form."""

import numpy as np
import pytest
import torch

import scorematch
from scorematch.datasets import data_dir, read_image
from scorematch.energies import FieldOfExperts
from scorematch.pretrained import roth_black_3x3


def _reference_energy(img: np.ndarray, filters: np.ndarray, alpha: np.ndarray) -> float:
    """Roth & Black's energy written out by hand: sum over valid 3x3 cliques of alpha_i log(1 + z^2 / 2)."""
    h, w = img.shape
    total = 0.0
    for f, a in zip(filters, alpha):
        for i in range(h - 2):
            for j in range(w - 2):
                z = float((img[i : i + 3, j : j + 3] * f).sum())  # correlation = MATLAB conv2 with rot180
                total += a * np.log1p(0.5 * z * z)
    return total


def test_roth_black_energy_matches_the_published_formula():
    raw = np.load(data_dir() / "pretrained/roth_black_2005_foe_3x3_8.npz")
    foe = roth_black_3x3(dtype=torch.float64)
    assert isinstance(foe, FieldOfExperts) and foe.c == 1.0 and not foe.normalize_filters
    assert torch.allclose(foe.filters, torch.from_numpy(raw["filters"]))
    assert torch.allclose(foe.alpha, torch.from_numpy(raw["alpha"]))
    img = 255 * read_image(data_dir() / "set12/house.png", dtype=torch.float64)[100:112, 40:50]  # 0..255 scale
    got = float(foe.energy(img[None, None]).detach())
    assert got == pytest.approx(_reference_energy(img.numpy(), raw["filters"], raw["alpha"]), rel=1e-10)


def test_roth_black_prefers_natural_images_to_shuffled_pixels():
    foe = roth_black_3x3()
    img = 255 * read_image(data_dir() / "set12/cameraman.png")[None, None]
    g = torch.Generator().manual_seed(0)
    shuffled = img.flatten()[torch.randperm(img.numel(), generator=g)].reshape(img.shape)
    assert float(foe.energy(img).detach()) < 0.5 * float(foe.energy(shuffled).detach())


def test_roth_black_round_trips_through_a_model_file(tmp_path):
    foe = roth_black_3x3()
    back = scorematch.load(scorematch.save(foe, tmp_path / "rb.safetensors"), expect=FieldOfExperts)
    x = torch.rand(1, 1, 9, 9) * 255
    assert torch.allclose(back.energy(x), foe.energy(x))


def test_roth_black_bad_file(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, filters=np.zeros((8, 3, 3)))
    with pytest.raises(ValueError, match="alpha"):
        roth_black_3x3(bad)
    with pytest.raises(FileNotFoundError):
        roth_black_3x3(tmp_path / "missing.npz")
