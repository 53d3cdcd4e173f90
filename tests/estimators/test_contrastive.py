"""Contrastive divergence: gradient sanity on a Gaussian energy, where the ML gradient is known."""

import functools

import pytest
import torch

from scorematch import GaussianEnergy, fit
from scorematch.estimators import contrastive_divergence_loss
from scorematch.samplers import StepSizeController


def _energy(mean, dtype=torch.float64):
    e = GaussianEnergy(2).to(dtype)  # precision I
    with torch.no_grad():
        e.mean.copy_(torch.as_tensor(mean, dtype=dtype))
    return e


def _mean_grad(energy, x, **kw):
    energy.zero_grad()
    contrastive_divergence_loss(energy, x, **kw).backward()
    return energy.mean.grad.clone()


@pytest.mark.parametrize("sampler", ["langevin", "hmc"])
def test_long_chain_cd_gradient_approaches_the_likelihood_gradient(sampler):
    """For E = |x - m|^2 / 2 the negative log-likelihood gradient w.r.t. m is m - mean(data).

    CD-k with many transitions samples the model, so its gradient must approach that value.
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 2, generator=g, dtype=torch.float64) + torch.tensor([2.0, -1.0], dtype=torch.float64)
    energy = _energy([0.0, 0.0])
    kw = dict(step_size=0.8, steps=60) if sampler == "langevin" else dict(step_size=0.5, n_leapfrog=4, steps=15)
    grad = _mean_grad(energy, x, sampler=sampler, generator=g, **kw)
    expected = energy.mean.detach() - x.mean(0)
    assert torch.allclose(grad, expected, atol=0.1), (grad, expected)


def test_cd1_gradient_vanishes_at_the_data_distribution_and_points_the_right_way():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20000, 2, generator=g, dtype=torch.float64)
    at_optimum = _mean_grad(_energy([0.0, 0.0]), x, sampler="hmc", step_size=0.5, n_leapfrog=5, generator=g)
    assert at_optimum.abs().max() < 0.03
    off = _mean_grad(_energy([1.0, 0.0]), x, sampler="hmc", step_size=0.5, n_leapfrog=5, generator=g)
    assert off[0] > 0.2  # gradient descent moves the mean back towards the data


@pytest.mark.slow
def test_cd_fit_recovers_a_gaussian():
    """Training by CD-1 (HMC) through the generic loop recovers the data's mean and precision."""
    g = torch.Generator().manual_seed(2)
    cov = torch.tensor([[1.0, 0.5], [0.5, 2.0]], dtype=torch.float64)
    data = torch.randn(5000, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T + 1.0
    energy = GaussianEnergy(2).double()
    ctrl = StepSizeController(0.5, target=0.9)
    loss = functools.partial(contrastive_divergence_loss, sampler="hmc", step_size=ctrl, n_leapfrog=5)
    fit(energy, data, loss, steps=300, batch_size=250, lr=0.05, seed=0, log_every=50)
    assert torch.allclose(energy.mean.detach(), torch.ones(2, dtype=torch.float64), atol=0.15)
    assert torch.allclose(torch.linalg.inv(energy.precision.detach()), cov, atol=0.3)
    assert 0.6 < ctrl.last_acceptance <= 1.0


def test_custom_sampler_and_errors():
    energy = _energy([0.0, 0.0])
    x = torch.randn(8, 2, dtype=torch.float64)
    loss = contrastive_divergence_loss(energy, x, sampler=lambda e, x, generator=None: x + 1.0)
    expected = energy.energy(x).mean() - energy.energy(x + 1.0).mean()
    assert torch.allclose(loss, expected)
    with pytest.raises(ValueError):
        contrastive_divergence_loss(energy, x, sampler="gibbs")
    with pytest.raises(ValueError):
        contrastive_divergence_loss(energy, x, steps=0)
