"""The noise-conditional DeepEnergy: its derivatives in float64, its conditioning, its file and its training loss."""

import functools

import pytest
import torch

from scorematch import load, save
from scorematch.derivatives import input_derivatives
from scorematch.energies import DeepEnergy, FieldOfExperts
from scorematch.energies.layers import Softplus
from scorematch.estimators import (denoising_score_matching_loss, draw_levels, noise_conditional_loss,
                                   score_matching_loss, sliced_score_matching_loss)
from scorematch.prior import ImagePrior, as_prior
from scorematch.tasks import MAP, PaperSteps, Tweedie, denoise, tweedie
from scorematch.tasks.colour import opponent_denoise
from scorematch.tasks.solvers import resolve

D = torch.float64


def _energy(gen, depth=3):
    e = DeepEnergy(4, depth, 3, generator=gen).double()
    with torch.no_grad():
        for p in (e.shifts, e.shift_slopes, e.head.beta):
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=D))
    return e


def test_softplus_is_stable_and_its_derivatives_are_autograds(gen):
    h = torch.tensor([-800.0, -30.0, -1.0, 0.5, 30.0, 800.0], dtype=D, requires_grad=True)
    f = Softplus().f(h)
    (g,) = torch.autograd.grad(f.sum(), h, create_graph=True)
    (g2,) = torch.autograd.grad(g.sum(), h)
    d1, d2 = Softplus().derivatives(h.detach())
    assert torch.isfinite(f).all() and torch.isfinite(g2).all()
    torch.testing.assert_close(g.detach(), d1, rtol=1e-13, atol=1e-300)
    torch.testing.assert_close(g2, d2, rtol=1e-12, atol=1e-300)
    wide = torch.linspace(-60, 60, 2401, dtype=D)  # the solvers' pass (no autograd) gives the same values
    torch.testing.assert_close(Softplus().f(wide), Softplus().f(wide.requires_grad_(True)).detach(), rtol=1e-15,
                               atol=1e-300)
    torch.testing.assert_close(Softplus().backward(wide.detach(), torch.ones_like(wide)), Softplus().derivatives(
        wide.detach())[0], rtol=0, atol=0)


@pytest.mark.parametrize("sigma", [0.03, [0.02, 0.3]])
def test_energy_and_grad_equal_autograd(sigma, gen):
    e = _energy(gen)
    x = torch.rand(2, 1, 11, 12, generator=gen, dtype=D)
    field = e.at(torch.tensor(sigma, dtype=D))
    energy, grad = field.energy_and_grad(x)
    xx = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(field.energy(xx).sum(), xx)
    torch.testing.assert_close(energy, field.energy(x), rtol=1e-13, atol=0)
    torch.testing.assert_close(grad, g, rtol=1e-12, atol=1e-12 * g.abs().max().item())


def test_curvature_rule_exact_for_one_layer_and_close_beyond(gen):
    x = torch.rand(2, 1, 7, 7, generator=gen, dtype=D)
    one = _energy(gen, depth=1)
    g_c, d_c = input_derivatives(one, x, method="curvature")
    g_e, d_e = input_derivatives(one, x, method="exact")
    torch.testing.assert_close(g_c, g_e, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(d_c, d_e, rtol=1e-10, atol=1e-10)
    deep = _energy(gen, depth=3)
    g_c, d_c = input_derivatives(deep, x, method="curvature")
    g_e, d_e = input_derivatives(deep, x, method="exact")
    torch.testing.assert_close(g_c, g_e, rtol=1e-12, atol=1e-12 * g_e.abs().max().item())
    assert not torch.allclose(d_c, d_e)  # Becker-LeCun drops the hidden layers' off-diagonal terms
    assert torch.corrcoef(torch.stack([d_c.flatten(), d_e.flatten()]))[0, 1] > 0.5


def test_per_sample_levels_equal_separate_ones_and_scaled_is_a_change_of_units(gen):
    e = _energy(gen)
    x = torch.rand(2, 1, 9, 9, generator=gen, dtype=D)
    s = torch.tensor([0.02, 0.2], dtype=D)
    both = e.at(s).energy(x)
    torch.testing.assert_close(both, torch.cat([e.at(float(v)).energy(x[i:i + 1]) for i, v in enumerate(s)]))
    torch.testing.assert_close(e.scaled(s).energy(x / s.view(-1, 1, 1, 1)), both)
    torch.testing.assert_close(e.energy(x), e.at(e.sigma_min).energy(x))


def test_energy_ignores_brightness(gen):
    e = _energy(gen)
    x = torch.rand(1, 1, 9, 9, generator=gen, dtype=D)
    torch.testing.assert_close(e.at(0.1).energy(x + 0.3), e.at(0.1).energy(x), rtol=1e-12, atol=1e-9)


def test_bad_levels_are_refused(gen):
    e = _energy(gen)
    for bad in (0.0, -1.0, torch.zeros(2), torch.ones(2, 2)):
        with pytest.raises(ValueError, match="sigma must be"):
            e.at(bad)
    with pytest.raises(ValueError):
        DeepEnergy(4, 2, sigma_min=0.5, sigma_max=0.1)


def test_file_round_trip(tmp_path, gen):
    e = _energy(gen)
    save(e, tmp_path / "m.safetensors")
    back = load(tmp_path / "m.safetensors").double()
    x = torch.rand(1, 1, 9, 9, generator=gen, dtype=D)
    torch.testing.assert_close(back.at(0.07).energy(x), e.at(0.07).energy(x))
    assert back.config() == e.config()


def test_draw_levels_are_log_uniform_in_range(gen):
    s = draw_levels(20000, 0.01, 0.2, like=torch.zeros(1, dtype=D), generator=gen)
    assert s.min() >= 0.01 and s.max() <= 0.2
    assert abs(s.log().mean().item() - (torch.tensor([0.01, 0.2], dtype=D).log().mean().item())) < 0.02


def test_noise_conditional_dsm_is_sigma_squared_weighted_dsm(gen):
    e = _energy(gen)
    x = torch.rand(3, 1, 15, 14, generator=gen, dtype=D)
    loss = noise_conditional_loss(e, x, generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    s = draw_levels(3, e.sigma_min, e.sigma_max, like=x, generator=g)
    eps = torch.randn(x.shape, generator=g, dtype=D)
    grad = -e.at(s).score(x + s.view(-1, 1, 1, 1) * eps)
    m = e.support - 1  # the loss covers the interior, where the score is whole
    residual = (s.view(-1, 1, 1, 1) * grad - eps)[..., m:-m, m:-m]
    expected = 0.5 * (residual**2).flatten(1).sum(1).mean()
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize("estimator", [
    denoising_score_matching_loss, sliced_score_matching_loss, functools.partial(score_matching_loss, lam=1e-3),
    functools.partial(score_matching_loss, method="hutchinson", n_probes=2)])
def test_every_estimator_trains_it_one_step(estimator, gen):
    e = _energy(gen)
    x = torch.rand(4, 1, 16, 16, generator=gen, dtype=D)
    loss = noise_conditional_loss(e, x, estimator=estimator, generator=gen)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in e.parameters())
    assert e.convs[1].raw_weight.grad.abs().sum() > 0


def test_noise_conditional_loss_refuses_a_plain_energy(gen):
    with pytest.raises(TypeError, match="NoiseConditionalEnergy"):
        noise_conditional_loss(FieldOfExperts(2, 3), torch.rand(2, 1, 8, 8))


def test_tweedie_is_one_gradient_step(gen):
    e = _energy(gen)
    y = torch.rand(1, 1, 12, 12, generator=gen, dtype=D)
    out = tweedie(y, ImagePrior(e, boundary="valid"), sigma=0.1)
    _, g = e.at(0.1).energy_and_grad(y)
    torch.testing.assert_close(out, y - 0.01 * g)
    assert tweedie(y, e, sigma=0.1).shape == y.shape
    with pytest.raises(TypeError, match="noise-conditional"):
        tweedie(y.float(), FieldOfExperts(2, 3), sigma=0.1)


def test_denoise_auto_is_tweedie_for_a_noise_conditional_energy(gen):
    e = _energy(gen)
    y = torch.rand(1, 3, 16, 16, generator=gen, dtype=D)  # colour: the grey energy acts on each channel
    torch.testing.assert_close(denoise(y[:, :1], e, sigma=0.1), tweedie(y[:, :1], e, sigma=0.1))
    per_channel = torch.cat([tweedie(y[:, c:c + 1], e, sigma=0.1) for c in range(3)], 1)
    torch.testing.assert_close(tweedie(y, e, sigma=0.1), per_channel)
    opponent = opponent_denoise(y, 0.1, lambda z, s: tweedie(z, e, sigma=s))  # denoise: the opponent channels
    torch.testing.assert_close(denoise(y, e, sigma=0.1), opponent)
    assert resolve(as_prior(e), "denoise", 0.1, None) == Tweedie()
    assert resolve(as_prior(FieldOfExperts(2, 3)), "denoise", 0.1, None) == MAP()
    assert resolve(as_prior(e), "denoise", 0.1, PaperSteps()) == PaperSteps()
    assert not torch.allclose(denoise(y, e, sigma=0.1, solver=MAP(iterations=3)), denoise(y, e, sigma=0.1))


def test_map_with_a_level_is_map_with_the_field_from_the_chosen_start(gen):
    from scorematch.tasks import Denoising, restore

    e = _energy(gen)
    y = torch.rand(1, 1, 16, 16, generator=gen, dtype=D)
    smooth = denoise(y, e, sigma=0.1, solver=MAP(level=0.03, weight=0.5, iterations=4))
    torch.testing.assert_close(smooth, denoise(y, e.at(0.03), sigma=0.1, solver=MAP(weight=0.5, iterations=4)))
    from_tweedie = denoise(y, e, sigma=0.1, solver=MAP(level=0.03, weight=0.5, iterations=4, start="tweedie"))
    expected = restore(y, Denoising(0.1), e.at(0.03), sigma=0.1,
                       solver=MAP(weight=0.5, iterations=4, start=tweedie(y, e, sigma=0.1), rtol=3e-5))
    torch.testing.assert_close(from_tweedie, expected)
    assert not torch.allclose(from_tweedie, smooth)
    with pytest.raises(ValueError, match="start"):
        denoise(y, e, sigma=0.1, solver=MAP(level=0.03, start="noisy"))
    with pytest.raises(ValueError, match="level"):
        denoise(y, e, sigma=0.1, solver=MAP(level=0.0))
    with pytest.raises(TypeError, match="noise-conditional"):
        denoise(y, FieldOfExperts(2, 3).double(), sigma=0.1, solver=MAP(level=0.03))


def test_colour_energy_gradient_curvature_and_file_in_float64(tmp_path, gen):
    e = DeepEnergy(4, 2, 3, in_channels=3, generator=gen).double()
    x = torch.rand(2, 3, 8, 9, generator=gen, dtype=D)
    field = e.at(0.05)
    energy, grad = field.energy_and_grad(x)
    xx = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(field.energy(xx).sum(), xx)
    torch.testing.assert_close(grad, g, rtol=1e-12, atol=1e-12 * g.abs().max().item())
    g_c, d_c = input_derivatives(e, x, method="curvature")
    g_e, d_e = input_derivatives(e, x, method="exact")
    torch.testing.assert_close(g_c, g_e, rtol=1e-12, atol=1e-12 * g_e.abs().max().item())
    torch.testing.assert_close(field.energy(x + 0.3), energy, rtol=1e-12, atol=1e-9)  # grey brightness ignored
    assert not torch.allclose(field.energy(x + torch.tensor([0.3, 0, 0], dtype=D).view(1, 3, 1, 1)), energy)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        field.energy(x[:, :1])
    save(e, tmp_path / "c.safetensors")
    back = load(tmp_path / "c.safetensors").double()
    assert back.in_channels == 3
    torch.testing.assert_close(back.at(0.05).energy(x), energy)
