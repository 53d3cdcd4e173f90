"""The front door: ``sm.denoise`` / ``sm.restore`` / ``sm.estimate_noise`` on NumPy images, the same pixels as the
command line, the prior's presets as the defaults, and clear errors."""

import numpy as np
import pytest
import torch
from PIL import Image

import scorematch as sm
from scorematch.cli import main
from scorematch.datasets import data_dir


def _photo(tmp_path, colour: bool) -> tuple[np.ndarray, np.ndarray]:
    """A small noisy PNG (``IN.png``) and its clean image, both (H, W[, 3]) on [0, 1]."""
    rgb = np.asarray(Image.open(data_dir() / "castle" / "102061.jpg"))[100:164, 200:264] / 255.0
    clean = rgb if colour else rgb @ np.array([0.299, 0.587, 0.114])
    noisy = np.clip(clean + 0.04 * np.random.default_rng(5).standard_normal(clean.shape), 0, 1)
    Image.fromarray(np.uint8(np.round(noisy * 255))).save(tmp_path / "IN.png")
    return np.asarray(Image.open(tmp_path / "IN.png")), clean


@pytest.mark.parametrize("colour", [False, True])
@pytest.mark.parametrize("sigma", ["0.04", "auto"])
def test_library_and_command_write_the_same_pixels(tmp_path, colour, sigma):
    levels, clean = _photo(tmp_path, colour)
    assert main(["denoise", str(tmp_path / "IN.png"), "-o", str(tmp_path / "cli.png"), "--sigma", sigma]) == 0
    out = sm.denoise(levels, None if sigma == "auto" else float(sigma), channel_axis=-1 if colour else None)
    Image.fromarray(np.uint8(np.round(np.clip(out, 0, 1) * 255))).save(tmp_path / "lib.png")
    cli, lib = np.asarray(Image.open(tmp_path / "cli.png")), np.asarray(Image.open(tmp_path / "lib.png"))
    assert cli.shape == levels.shape and np.array_equal(cli, lib)
    mse = lambda x: np.mean((x / 255.0 - clean) ** 2)  # noqa: E731
    assert mse(lib) < 0.7 * mse(levels)  # denoised (by more than 1.5 dB), not copied


def test_restore_takes_the_presets_weight(tmp_path):
    """``restore`` with a Blur and no solver uses the prior's preset weight at the noise level, as the CLI does."""
    _, clean = _photo(tmp_path, colour=False)
    blur = sm.Blur(torch.ones(3, 3) / 9)
    y = blur.A(torch.from_numpy(clean)[None, None]).numpy()[0, 0]
    prior = sm.load_prior("foe_5x5x24")
    w = prior.presets.denoising(0.02).weight
    default = sm.restore(y, blur, prior, sigma=0.02, solver=sm.MAP(iterations=5))
    explicit = sm.restore(y, blur, prior, sigma=0.02, solver=sm.MAP(weight=w, iterations=5))
    one = sm.restore(y, blur, prior, sigma=0.02, solver=sm.MAP(weight=1.0, iterations=5))
    assert w != 1.0 and np.array_equal(default, explicit) and not np.array_equal(default, one)


def test_estimate_noise_of_a_numpy_image():
    rng = np.random.default_rng(0)
    flat = 0.5 + np.zeros((128, 128))
    assert sm.estimate_noise(flat + 0.05 * rng.standard_normal(flat.shape)) == pytest.approx(0.05, rel=0.05)
    colour = np.stack([flat] * 3, axis=-1) + 0.1 * rng.standard_normal((128, 128, 3))
    assert sm.estimate_noise(colour, channel_axis=-1) == pytest.approx(0.1, rel=0.05)


@pytest.mark.parametrize("call, message", [
    (lambda: sm.denoise(np.zeros((8, 8, 3)), 0.1), "a grey image must be 2-D"),
    (lambda: sm.denoise(np.zeros((16, 16)), 1.0), "did you mean 1/255"),
    (lambda: sm.denoise(np.zeros((16, 16)), 0.1, "foe_colour_5x5x24"), "takes colour (3-channel) images"),
    (lambda: sm.denoise(np.array([["a"]]), 0.1), "uint8/uint16"),
    (lambda: sm.denoise(np.full((16, 16), np.nan), 0.1), "NaN"),
    (lambda: sm.restore(np.zeros((16, 16)), sm.Blur(torch.ones(3, 3) / 9), sigma=0.01, solver=sm.Tweedie()),
     "Tweedie's estimate is a denoiser"),
    (lambda: sm.load_prior("no_such_model"), "no model file or bundled model"),
])
def test_bad_calls_are_refused_with_a_clear_message(call, message):
    with pytest.raises((ValueError, TypeError, FileNotFoundError), match=None) as exc:
        call()
    assert message in str(exc.value)


def test_a_noise_conditional_prior_refuses_levels_beyond_its_training(tmp_path):
    with pytest.raises(ValueError, match="was trained on"):
        sm.denoise(np.zeros((16, 16)), 0.5, "deep_energy")


def test_tensor_in_tensor_out_keeps_dtype():
    y = torch.rand(1, 1, 24, 24, dtype=torch.float64)
    out = sm.denoise(y, 0.05, "foe_5x5x24", solver=sm.MAP(iterations=2))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64 and out.shape == y.shape
