"""MCMC samplers: exact invariance of a known density, acceptance behaviour, input checks."""

import math

import pytest
import torch

from scorematch import GaussianEnergy
from scorematch.energies import FieldOfExperts
from scorematch.samplers import StepSizeController, draw_samples, hmc, langevin


def _gaussian(dtype=torch.float64):
    # A correlated 3-D Gaussian: precision A, mean mu.
    cov = torch.tensor([[1.0, 0.6, 0.0], [0.6, 2.0, -0.3], [0.0, -0.3, 0.5]], dtype=dtype)
    mu = torch.tensor([1.0, -2.0, 0.5], dtype=dtype)
    e = GaussianEnergy(3, precision=torch.linalg.inv(cov)).to(dtype)
    with torch.no_grad():
        e.mean.copy_(mu)
    return e, mu, cov


@pytest.mark.parametrize(
    "kernel",
    [
        lambda e, x, g: langevin(e, x, step_size=0.9, n_steps=20, generator=g),
        lambda e, x, g: hmc(e, x, step_size=0.4, n_leapfrog=5, n_steps=5, generator=g),
    ],
    ids=["mala", "hmc"],
)
def test_sampler_leaves_gaussian_invariant(kernel):
    """Start exactly in the target; after many transitions the sample moments must stay those of the target.

    A large step makes the plain (unadjusted) dynamics biased; only the accept/reject step keeps the
    moments exact. 20000 chains: the standard error of each mean is about 0.01, of each covariance
    entry about 0.015.
    """
    energy, mu, cov = _gaussian()
    g = torch.Generator().manual_seed(0)
    chol = torch.linalg.cholesky(cov)
    x0 = mu + torch.randn(20000, 3, generator=g, dtype=torch.float64) @ chol.T
    out = kernel(energy, x0, g)
    x = out.samples
    assert (x - x0).abs().mean() > 0.3  # the chains really moved
    assert 0.3 < float(out.acceptance.mean()) < 1.0  # and some proposals were rejected
    assert torch.allclose(x.mean(0), mu, atol=0.05)
    assert torch.allclose(torch.cov(x.T), cov, atol=0.07)


def test_unadjusted_langevin_is_biased_at_large_step():
    """The same step without the Metropolis test inflates the variance: the test above can fail."""
    energy, mu, cov = _gaussian()
    g = torch.Generator().manual_seed(0)
    x0 = mu + torch.randn(20000, 3, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    x = langevin(energy, x0, step_size=0.9, n_steps=20, metropolis=False, generator=g).samples
    assert not torch.allclose(torch.cov(x.T), cov, atol=0.07)


def test_mala_converges_from_a_bad_start():
    energy, mu, cov = _gaussian()
    g = torch.Generator().manual_seed(1)
    x = langevin(energy, torch.zeros(4000, 3, dtype=torch.float64), step_size=0.5, n_steps=300, generator=g).samples
    assert torch.allclose(x.mean(0), mu, atol=0.1)
    assert torch.allclose(torch.cov(x.T), cov, atol=0.15)


def test_tiny_hmc_step_accepts_everything():
    energy, mu, _ = _gaussian()
    g = torch.Generator().manual_seed(2)
    out = hmc(energy, torch.randn(100, 3, generator=g, dtype=torch.float64), step_size=1e-3, n_leapfrog=3,
              generator=g)
    assert float(out.acceptance.min()) == 1.0


def test_sampler_is_reproducible_and_keeps_dtype():
    energy, _, _ = _gaussian()
    x0 = torch.zeros(10, 3, dtype=torch.float64)
    a = hmc(energy, x0, step_size=0.3, generator=torch.Generator().manual_seed(5)).samples
    b = hmc(energy, x0, step_size=0.3, generator=torch.Generator().manual_seed(5)).samples
    assert torch.equal(a, b) and a.dtype == torch.float64


def test_sampler_does_not_touch_parameter_gradients():
    foe = FieldOfExperts(4, 3)
    langevin(foe, torch.randn(2, 1, 8, 8), step_size=0.1, n_steps=2)
    assert all(p.grad is None for p in foe.parameters())


def test_energy_and_grad_matches_autograd():
    foe = FieldOfExperts(4, 3).double()
    x = torch.randn(2, 1, 7, 7, dtype=torch.float64)
    e, g = foe.energy_and_grad(x)
    assert torch.allclose(g, -foe.score(x).detach())
    assert torch.allclose(e, foe.energy(x).detach())


@pytest.mark.parametrize("bad", [dict(step_size=0.0), dict(step_size=math.nan), dict(step_size=0.1, n_steps=0)])
def test_sampler_rejects_bad_settings(bad):
    energy, _, _ = _gaussian()
    with pytest.raises(ValueError):
        langevin(energy, torch.zeros(2, 3, dtype=torch.float64), **bad)


def test_step_size_controller_moves_towards_target():
    c = StepSizeController(1.0, target=0.9)
    assert c.update(0.5) < 1.0
    v = c.value
    assert c.update(1.0) > v
    with pytest.raises(ValueError):
        StepSizeController(1.0, target=1.5)


def test_draw_samples_adapts_then_samples_a_gaussian():
    g = torch.Generator().manual_seed(0)
    x0 = 3.0 + torch.zeros(4000, 2, dtype=torch.float64)
    out, step = draw_samples(GaussianEnergy(2).double(), x0, steps=60, step_size=0.01, generator=g)
    assert step > 0.01  # the burn-in grew the step towards MALA's target acceptance
    assert abs(float(out.samples.mean())) < 0.1 and abs(float(out.samples.var()) - 1.0) < 0.1
    with pytest.raises(ValueError, match="kernel"):
        draw_samples(GaussianEnergy(2), x0, kernel="gibbs")
