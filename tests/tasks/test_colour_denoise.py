"""Colour denoising with a grey prior on the opponent channels (``tasks.colour``) and denoising as a model file's
presets prescribe (``tasks.denoise`` with a loaded prior)."""

import math

import pytest
import torch

from scorematch.energies import DeepEnergy
from scorematch.pretrained import load_pretrained
from scorematch.prior import DenoisePreset, Presets, load_prior
from scorematch.serialization import save
from scorematch.tasks import MAP, Tweedie, denoise, tweedie
from scorematch.tasks.colour import OPPONENT_SCALES, from_opponent, opponent, opponent_denoise, opponent_sigmas
from scorematch.tasks.solvers import resolve

FOE = "foe_5x5x24"  # the paper's FoE, a weight-based MAP prior

D = torch.float64


def test_opponent_is_luminance_and_two_opponent_channels_and_inverts(gen):
    x = torch.rand(2, 3, 5, 7, generator=gen, dtype=D)
    z = opponent(x)
    r, g, b = x.unbind(1)
    torch.testing.assert_close(z[:, 0], (r + g + b) / 3)
    torch.testing.assert_close(z[:, 1], (r - b) / 2)
    torch.testing.assert_close(z[:, 2], (r - 2 * g + b) / 4)
    torch.testing.assert_close(from_opponent(z), x)
    assert opponent(x.float()).dtype == torch.float32


def test_opponent_keeps_iid_noise_independent_at_the_stated_levels(gen):
    n = opponent(torch.randn(1, 3, 400, 400, generator=gen, dtype=D) * 0.1).reshape(3, -1)
    cov = torch.cov(n)
    expected = torch.tensor(opponent_sigmas(0.1), dtype=D)
    torch.testing.assert_close(cov.diagonal().sqrt(), expected, rtol=0.02, atol=0)
    off = cov - torch.diag(cov.diagonal())
    assert off.abs().max() < 0.02 * expected.min() ** 2
    assert opponent_sigmas(0.1) == tuple(0.1 * s for s in OPPONENT_SCALES)
    assert OPPONENT_SCALES[0] == pytest.approx(1 / math.sqrt(3))


def test_opponent_denoise_hands_each_channel_its_noise_level(gen):
    y = torch.rand(1, 3, 8, 8, generator=gen, dtype=D)
    seen = []

    def grey(z, s):
        seen.append((tuple(z.shape), s))
        return z

    torch.testing.assert_close(opponent_denoise(y, 0.2, grey), y)
    assert seen == [((1, 1, 8, 8), s) for s in opponent_sigmas(0.2)]
    with pytest.raises(ValueError, match="sigma"):
        opponent_denoise(y, 0.0, grey)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        opponent_denoise(y[:, :2], 0.1, grey)


def test_denoise_of_a_colour_image_with_a_grey_prior_goes_through_the_opponent_channels(gen):
    loaded = load_prior(FOE).to(dtype=D)
    prior = load_pretrained(FOE).double()
    y = torch.rand(1, 3, 20, 20, generator=gen, dtype=D)
    x = denoise(y, loaded, sigma=15 / 256, solver=MAP(iterations=3))
    z = opponent(y)
    weights = [loaded.presets.denoising(s).weight for s in opponent_sigmas(15 / 256)]
    parts = [denoise(z[:, c : c + 1], prior, sigma=s, solver=MAP(weight=w, iterations=3))
             for c, (s, w) in enumerate(zip(opponent_sigmas(15 / 256), weights))]
    torch.testing.assert_close(x, from_opponent(torch.cat(parts, 1)))
    ran = [resolve(loaded, "denoise", s, MAP(iterations=3)) for s in opponent_sigmas(15 / 256)]
    assert ran == [MAP(weight=w, iterations=3) for w in weights]  # MAP on each channel at its level's weight
    grey = denoise(y[:, :1], loaded, sigma=15 / 256, solver=MAP(weight=0.5, iterations=3))
    torch.testing.assert_close(grey, denoise(y[:, :1], prior, sigma=15 / 256, solver=MAP(weight=0.5, iterations=3)))
    assert resolve(loaded, "denoise", 15 / 256, MAP(weight=0.5, iterations=3)) == MAP(weight=0.5, iterations=3)


def test_denoise_runs_the_field_a_noise_conditional_files_presets_prescribe(gen, tmp_path):
    e = DeepEnergy(2, 2, generator=gen).double()
    presets = Presets({15 / 256: DenoisePreset(level_ratio=0.2, weight=0.35, iterations=3, start="tweedie")})
    path = save(e, tmp_path / "m.safetensors", metadata={"presets": presets.to_json()})
    prior = load_prior(path).to(dtype=D)
    y = torch.rand(1, 1, 12, 12, generator=gen, dtype=D)
    x = denoise(y, prior, sigma=15 / 256)
    expected = denoise(y, e, sigma=15 / 256, solver=MAP(level=0.2 * 15 / 256, weight=0.35, iterations=3,
                                                        start="tweedie"))
    torch.testing.assert_close(x, expected)
    assert resolve(prior, "denoise", 15 / 256, None) == MAP(weight=0.35, level=0.2 * 15 / 256, iterations=3,
                                                             start="tweedie")
    assert resolve(prior, "denoise", 15 / 256, Tweedie()) == Tweedie()
    torch.testing.assert_close(denoise(y, prior, sigma=15 / 256, solver=Tweedie()), tweedie(y, e, sigma=15 / 256))
