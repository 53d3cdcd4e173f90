"""Colour denoising with a grey prior on the opponent channels (``tasks.colour``) and the recommended denoiser of a
model file (``tasks.recommended``)."""

import math

import pytest
import torch

from scorematch.energies import DeepEnergy
from scorematch.pretrained import DEFAULT_PRIOR, load_pretrained, recommended_weight
from scorematch.serialization import save
from scorematch.tasks import denoise, field_denoise
from scorematch.tasks.colour import OPPONENT_SCALES, from_opponent, opponent, opponent_denoise, opponent_sigmas
from scorematch.tasks.recommended import recommended_denoise

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


def test_recommended_denoise_of_a_colour_image_with_a_grey_prior_goes_through_the_opponent_channels(gen):
    prior = load_pretrained(DEFAULT_PRIOR).double()
    y = torch.rand(1, 3, 20, 20, generator=gen, dtype=D)
    x, settings = recommended_denoise(y, prior, DEFAULT_PRIOR, sigma=15 / 256, n_iter=3)
    z = opponent(y)
    parts = [denoise(z[:, c : c + 1], prior, sigma=s, weight=recommended_weight(DEFAULT_PRIOR, s), n_iter=3)
             for c, s in enumerate(opponent_sigmas(15 / 256))]
    torch.testing.assert_close(x, from_opponent(torch.cat(parts, 1)))
    assert settings["colour"] == "opponent" and [c["method"] for c in settings["channels"]] == ["lbfgs"] * 3
    grey, one = recommended_denoise(y[:, :1], prior, DEFAULT_PRIOR, sigma=15 / 256, n_iter=3, weight=0.5)
    torch.testing.assert_close(grey, denoise(y[:, :1], prior, sigma=15 / 256, weight=0.5, n_iter=3))
    assert one == {"method": "lbfgs", "weight": 0.5}


def test_recommended_denoise_runs_the_field_a_noise_conditional_file_recommends(gen, tmp_path):
    e = DeepEnergy(2, 2, generator=gen).double()
    table = {"15": {"level_ratio": 0.2, "weight": 0.35, "iterations": 3, "start": "tweedie"}}
    path = save(e, tmp_path / "m.safetensors", metadata={"denoise_map": table})
    y = torch.rand(1, 1, 12, 12, generator=gen, dtype=D)
    x, settings = recommended_denoise(y, e, path, sigma=15 / 256)
    expected = field_denoise(y, e, sigma=15 / 256, level=0.2 * 15 / 256, weight=0.35, n_iter=3, start="tweedie")
    torch.testing.assert_close(x, expected)
    assert settings == {"method": "lbfgs", "weight": 0.35, "level": 0.2 * 15 / 256, "start": "tweedie"}
    _, tweedie = recommended_denoise(y, e, path, sigma=15 / 256, method="tweedie")
    assert tweedie == {"method": "tweedie"}
