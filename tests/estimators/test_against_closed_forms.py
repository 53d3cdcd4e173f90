"""Estimators against closed forms on Gaussian energies, and the regularizer's effect on quantized data."""

import functools

import pytest
import torch

import scorematch as sm

D = torch.float64


def _gaussian(gen, dim=4):
    m = torch.randn(dim, dim, generator=gen, dtype=D)
    a = m @ m.T / dim + torch.eye(dim, dtype=D)
    energy = sm.GaussianEnergy(dim, precision=a)
    return energy, a


@pytest.mark.parametrize("method", ["curvature", "exact"])
def test_sm_loss_on_gaussian_equals_closed_form(method, gen):
    energy, a = _gaussian(gen)
    x = torch.randn(50, 4, generator=gen, dtype=D)
    lam = 0.3
    # J = mean_b [ 1/2 x^T A^2 x ] - tr A + lam * sum_i A_ii^2
    closed = 0.5 * ((x @ a) ** 2).sum(1).mean() - torch.trace(a) + lam * (torch.diagonal(a) ** 2).sum()
    got = sm.score_matching_loss(energy, x, lam=lam, method=method)
    torch.testing.assert_close(got, closed, rtol=1e-12, atol=1e-12)


def test_full_regularizer_on_gaussian_equals_frobenius(gen):
    energy, a = _gaussian(gen)
    x = torch.randn(20, 4, generator=gen, dtype=D)
    lam = 0.2
    closed = 0.5 * ((x @ a) ** 2).sum(1).mean() - torch.trace(a) + lam * (a**2).sum()
    got = sm.score_matching_loss(energy, x, lam=lam, method="exact", regularizer="full")
    torch.testing.assert_close(got, closed, rtol=1e-12, atol=1e-12)
    # Hutchinson estimate of the same loss: unbiased, close with many probes.
    est = sm.score_matching_loss(energy, x, lam=lam, method="hutchinson", regularizer="full", n_probes=3000,
                                 generator=gen)
    assert abs(est - closed) < 0.05 * abs(closed)


def test_full_regularizer_differs_from_diagonal_for_a_poe(gen):
    poe = sm.ProductOfExperts(5, 5, generator=gen).double()
    x = torch.randn(10, 5, generator=gen, dtype=D)
    diag = sm.score_matching_loss(poe, x, lam=0.1, method="exact", regularizer="diagonal")
    full = sm.score_matching_loss(poe, x, lam=0.1, method="exact", regularizer="full")
    assert full > diag  # the off-diagonal squares only add
    with pytest.raises(ValueError, match="full"):
        sm.score_matching_loss(poe, x, lam=0.1, method="curvature", regularizer="full")


@pytest.mark.parametrize("distribution", ["rademacher", "gaussian"])
@pytest.mark.parametrize("variance_reduction", [True, False])
def test_sliced_sm_matches_exact_sm_on_average(distribution, variance_reduction, gen):
    poe = sm.ProductOfExperts(6, 8, generator=gen).double()
    x = torch.randn(40, 6, generator=gen, dtype=D)
    exact = sm.score_matching_loss(poe, x, method="exact")
    ssm = sm.sliced_score_matching_loss(poe, x, n_proj=2000, distribution=distribution,
                                        variance_reduction=variance_reduction, generator=gen)
    assert abs(ssm - exact) < 0.03 * abs(exact) + 0.05


def test_sliced_sm_gradients_match_exact_sm_on_average(gen):
    energy, _ = _gaussian(gen, dim=3)
    x = torch.randn(30, 3, generator=gen, dtype=D)
    params = list(energy.parameters())
    g_exact = torch.autograd.grad(sm.score_matching_loss(energy, x, method="exact"), params)
    g_ssm = torch.autograd.grad(sm.sliced_score_matching_loss(energy, x, n_proj=4000, generator=gen), params)
    for a, b in zip(g_exact, g_ssm):
        assert (a - b).abs().max() < 0.05 * a.abs().max() + 1e-3


def test_sm_minimizer_recovers_gaussian_covariance(gen):
    dim = 3
    m = torch.randn(dim, dim, generator=gen, dtype=D)
    cov = m @ m.T + 0.5 * torch.eye(dim, dtype=D)
    x = torch.randn(4000, dim, generator=gen, dtype=D) @ torch.linalg.cholesky(cov).T
    energy = sm.GaussianEnergy(dim).double()
    sm.fit(energy, x, sm.score_matching_loss, steps=30, batch_size=None, optimizer="lbfgs", lr=1.0,
           schedule="constant", log_every=5)
    xc = x - x.mean(0)
    emp = xc.T @ xc / x.shape[0]
    torch.testing.assert_close(torch.linalg.inv(energy.precision.detach()), emp, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(energy.mean.detach(), x.mean(0), rtol=1e-4, atol=1e-4)


def test_dsm_minimizer_recovers_smoothed_gaussian(gen):
    # DSM fits the score of the noise-smoothed density N(0, cov + sigma^2 I).
    dim, sigma = 2, 0.5
    cov = torch.tensor([[2.0, 0.6], [0.6, 1.0]], dtype=D)
    x = torch.randn(8000, dim, generator=gen, dtype=D) @ torch.linalg.cholesky(cov).T
    energy = sm.GaussianEnergy(dim).double()
    loss = functools.partial(sm.denoising_score_matching_loss, sigma=sigma)
    sm.fit(energy, x, loss, steps=300, batch_size=1000, lr=0.05, seed=1, log_every=100)
    want = cov + sigma**2 * torch.eye(dim, dtype=D)
    torch.testing.assert_close(torch.linalg.inv(energy.precision.detach()), want, rtol=0.08, atol=0.08)


def _quantized_data(gen, n=400, dim=6):
    """MNIST-like data: values exactly 0 or 1, and one coordinate that is always 0."""
    x = (torch.rand(n, dim, generator=gen, dtype=D) < 0.3).to(D)
    x[:, 0] = 0.0
    return x


@pytest.mark.parametrize("lam", [0.0, 0.01])
def test_regularizer_keeps_sm_bounded_on_quantized_data(lam, gen):
    x = _quantized_data(gen)
    poe = sm.ProductOfExperts(6, 6, generator=torch.Generator().manual_seed(0)).double()
    result = sm.fit(poe, x, functools.partial(sm.score_matching_loss, lam=lam), steps=400, batch_size=None,
                    lr=0.1, schedule="constant", log_every=50)
    losses = [row["loss"] for row in result.history]
    if lam == 0:
        # Unregularized SM runs away: an expert on the always-zero pixel gains -alpha c^2 per sample forever.
        assert min(losses) < -1e4  # vs. a bound of -150 with lam = 0.01 below
        assert poe.alpha.max() > 100
    else:
        # Each term 1/2 g^2 - h + lam h^2 >= -1/(4 lam): the loss is bounded below and settles.
        assert losses[-1] >= -x.shape[1] / (4 * lam)
        assert abs(losses[-1] - losses[-2]) < 0.01 * abs(losses[-1])
        assert poe.alpha.max() < 100


def test_negative_lambda_is_rejected(gen):
    poe = sm.ProductOfExperts(3, 3)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        sm.score_matching_loss(poe, torch.randn(2, 3), lam=-1.0)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        sm.denoising_score_matching_loss(poe, torch.randn(2, 3), sigma=0.0)
