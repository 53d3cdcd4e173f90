"""The U-Net energy in gradient-step form: its derivatives in float64, its conditioning, its file, its recipe."""

import os
import signal

import pytest
import torch

from scorematch import load, save
from scorematch.datasets import PatchStream
from scorematch.energies import UNetEnergy
from scorematch.estimators import noise_conditional_loss
from scorematch import TrainingInterrupted, unet_training
from scorematch.unet_training import UNetRecipe, train_unet_energy, tweedie_psnr

D = torch.float64


def _energy(gen, widths=(3, 5, 6), blocks=1, channels=1):
    e = UNetEnergy(widths, blocks, 4, in_channels=channels, generator=gen).double()
    with torch.no_grad():  # biases and expert weights away from their initial values: every term matters
        for m in e.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                m.bias.normal_(0, 0.3, generator=gen)
        e.weights.beta.normal_(0, 0.5, generator=gen)
    return e


@pytest.mark.parametrize("shape", [(2, 1, 12, 16), (1, 1, 13, 10), (2, 3, 9, 11)])
def test_gradient_and_second_derivatives_are_autograds_in_float64(shape, gen):
    e = _energy(gen, channels=shape[1])
    x = torch.rand(*shape, generator=gen, dtype=D, requires_grad=True)
    sigma = torch.tensor([0.05, 0.2][: shape[0]], dtype=D)
    field = e.at(sigma)
    assert torch.autograd.gradcheck(lambda z: field.energy(z), (x,))
    assert torch.autograd.gradgradcheck(lambda z: field.energy(z), (x,))


def test_energy_is_the_weighted_student_t_sum_of_the_responses(gen):
    e = _energy(gen)
    x = torch.rand(2, 1, 8, 8, generator=gen, dtype=D)
    s = torch.tensor([0.1, 0.3], dtype=D)
    h = e.responses(x / s.view(-1, 1, 1, 1), s.view(-1, 1, 1, 1))  # (2, 4, 8, 8)
    f = torch.log1p(0.5 * (e.c * h) ** 2)
    torch.testing.assert_close(e.at(s).energy(x), (e.weights.beta.exp().view(1, -1, 1, 1) * f).sum((1, 2, 3)))


@pytest.mark.parametrize("channels", [1, 3])
def test_energy_ignores_brightness(channels, gen):
    e = _energy(gen, channels=channels)
    x = torch.rand(2, channels, 8, 8, generator=gen, dtype=D)
    torch.testing.assert_close(e.at(0.1).energy(x + 0.3), e.at(0.1).energy(x))


def test_per_sample_levels_equal_separate_ones_and_scaled_is_a_change_of_units(gen):
    e = _energy(gen)
    x = torch.rand(2, 1, 8, 12, generator=gen, dtype=D)
    s = torch.tensor([0.02, 0.2], dtype=D)
    both = e.at(s).energy(x)
    torch.testing.assert_close(both, torch.cat([e.at(float(v)).energy(x[i:i + 1]) for i, v in enumerate(s)]))
    torch.testing.assert_close(e.scaled(s).energy(x / s.view(-1, 1, 1, 1)), both)
    torch.testing.assert_close(e.energy(x), e.at(e.sigma_min).energy(x))


def test_odd_sizes_are_extended_for_the_network_and_cropped_back(gen):
    e = _energy(gen)
    x = torch.rand(1, 1, 13, 9, generator=gen, dtype=D)
    assert e.responses(x, torch.full((1, 1, 1, 1), 0.1, dtype=D)).shape == (1, 4, 13, 9)
    tiny = torch.rand(1, 1, 2, 3, generator=gen, dtype=D)  # smaller than the extension: replicated
    assert torch.isfinite(e.at(0.1).energy(tiny)).all()


def test_receptive_field(gen):
    e = _energy(gen, widths=(2, 2, 2), blocks=1)
    x = torch.zeros(1, 1, 64, 64, dtype=D, requires_grad=True)
    r = e.responses(x, torch.full((1, 1, 1, 1), 0.1, dtype=D))
    (g,) = torch.autograd.grad(r[0, 0, 32, 32], x)
    rows = torch.nonzero(g[0, 0].abs().sum(1)).flatten()
    assert int(rows.max() - rows.min()) + 1 <= e.receptive_field


def test_refuses_bad_settings_and_inputs(gen):
    with pytest.raises(ValueError, match="at least one level"):
        UNetEnergy(())
    with pytest.raises(ValueError, match="sigma"):
        UNetEnergy((2,)).at(-0.1)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        UNetEnergy((2,)).at(0.1).energy(torch.rand(1, 3, 8, 8))


def test_file_round_trip(tmp_path, gen):
    e = _energy(gen).float()
    save(e, tmp_path / "u.safetensors")
    back = load(tmp_path / "u.safetensors")
    assert isinstance(back, UNetEnergy) and back.widths == e.widths
    x = torch.rand(1, 1, 8, 8, generator=gen)
    torch.testing.assert_close(back.at(0.1).energy(x), e.at(0.1).energy(x))


def test_augmented_patches_are_symmetries_of_the_plain_ones(gen):
    im = torch.arange(64.0).reshape(8, 8)
    plain = PatchStream([im], 8)(4, torch.Generator().manual_seed(1))
    aug = PatchStream([im], 8, augment=True)(4, torch.Generator().manual_seed(1))
    for a in aug:
        assert any(torch.equal(a, s) for k in range(4) for s in (torch.rot90(plain[0], k, (-2, -1)),
                                                               torch.rot90(plain[0], k, (-2, -1)).flip(-1)))


def test_recipe_trains_resumes_and_lowers_the_loss(tmp_path, monkeypatch):
    smooth = torch.nn.functional.avg_pool2d  # smooth images: there is something to learn in 30 steps
    images = [smooth(torch.rand(1, 44, 44, generator=torch.Generator().manual_seed(i)), 5, 1)[0] for i in range(3)]
    recipe = UNetRecipe(widths=(4, 8), experts=4, patch=16, batch=4, steps=30, lr=1e-2, validate_every=10)
    val = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(9))
    whole = train_unet_energy(images, tmp_path / "a", recipe, validation=val)
    calls = []

    def interrupt_once(*args, **kwargs):  # a Ctrl-C during the first validation (step 10)
        if not calls:
            os.kill(os.getpid(), signal.SIGINT)
        calls.append(1)
        return tweedie_psnr(*args, **kwargs)

    monkeypatch.setattr(unet_training, "tweedie_psnr", interrupt_once)
    with pytest.raises(TrainingInterrupted):
        train_unet_energy(images, tmp_path / "b", recipe, validation=val)
    monkeypatch.undo()
    resumed = train_unet_energy(images, tmp_path / "b", recipe, validation=val, resume=True)
    for p, q in zip(whole.energy.parameters(), resumed.energy.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    rows = (tmp_path / "b" / "validation.csv").read_text().splitlines()
    assert rows[0].startswith("step,hours,loss,psnr_15") and [r.split(",")[0] for r in rows[1:]] == ["10", "20", "30"]
    batch = PatchStream(images, 16)(64, torch.Generator().manual_seed(3))
    fresh = UNetEnergy((4, 8), experts=4, generator=torch.Generator().manual_seed(recipe.seed))

    def loss(e):  # the same patches, levels and noise for both
        return noise_conditional_loss(e, batch, margin=0, generator=torch.Generator().manual_seed(4)).item()

    assert loss(whole.energy) < 0.95 * loss(fresh)
    assert 0 < tweedie_psnr(whole.energy, val, 0.1, seed=0) < 100


def test_noise_conditional_loss_starts_near_the_no_model_loss(gen):
    e = UNetEnergy((8, 8), experts=8, generator=gen)
    x = torch.rand(8, 1, 16, 16, generator=gen)
    loss = noise_conditional_loss(e, x, margin=0, generator=gen).item()
    assert 0.5 * 0.5 * 256 < loss < 1.5 * 0.5 * 256  # 1/2 |eps|^2 per patch: a small initial score
