"""Noise-contrastive estimation recovers a Gaussian and its normalizing constant."""

import functools
import math

import pytest
import torch

from scorematch import GaussianEnergy, ProductOfExperts, fit
from scorematch.estimators import GaussianNoise, LogNormalized, nce_loss


def test_nce_recovers_gaussian_parameters_and_log_normalizer():
    g = torch.Generator().manual_seed(0)
    cov = torch.tensor([[1.0, 0.4], [0.4, 0.5]], dtype=torch.float64)
    mu = torch.tensor([0.5, -1.0], dtype=torch.float64)
    data = mu + torch.randn(8000, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    # noise broader than the data, so the classification problem is informative everywhere
    noise = GaussianNoise(data.mean(0), 1.5 * torch.linalg.cholesky(torch.cov(data.T)))
    model = LogNormalized(GaussianEnergy(2).double())
    fit(model, data, functools.partial(nce_loss, noise=noise, nu=2), steps=400, batch_size=1000, lr=0.05,
        log_every=100)
    a = model.inner.precision.detach()
    assert torch.allclose(model.inner.mean.detach(), mu, atol=0.1)
    assert torch.allclose(torch.linalg.inv(a), cov, atol=0.12)
    # the learned log Z matches the Gaussian's exact normalizer for the learned precision
    exact = math.log(2 * math.pi) - 0.5 * float(torch.logdet(a))
    assert float(model.log_z.detach()) == pytest.approx(exact, abs=0.1)


def test_nce_loss_gradient_is_zero_at_the_truth_in_expectation():
    """At the true (normalized) density the NCE objective is stationary: its gradient is small."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(50000, 2, generator=g, dtype=torch.float64)
    model = LogNormalized(GaussianEnergy(2).double(), log_z=math.log(2 * math.pi))
    noise = GaussianNoise(torch.zeros(2, dtype=torch.float64), 1.3 * torch.eye(2, dtype=torch.float64))
    nce_loss(model, x, noise=noise, generator=g).backward()
    assert abs(float(model.log_z.grad)) < 0.02
    assert model.inner.mean.grad.abs().max() < 0.02
    model.zero_grad()
    with torch.no_grad():
        model.log_z += 0.5  # claims too little mass: the gradient pushes log Z back down
    nce_loss(model, x, noise=noise, generator=g).backward()
    assert float(model.log_z.grad) > 0.05


def test_nce_noise_and_errors():
    x = torch.randn(100, 1, 2, 2, dtype=torch.float64)
    noise = GaussianNoise.from_data(x)
    y = noise.sample(7, torch.Generator().manual_seed(0))
    assert y.shape == (7, 1, 2, 2) and noise.log_prob(y).shape == (7,)
    model = LogNormalized(ProductOfExperts(4, 4).double())
    with pytest.raises(ValueError):
        nce_loss(model, x.reshape(100, 4), noise=GaussianNoise.from_data(x.reshape(100, 4)), nu=0)
