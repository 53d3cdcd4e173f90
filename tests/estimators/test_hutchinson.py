"""The Hutchinson score-matching loss is an unbiased estimate of the exact one, for both regularizers.

Each check averages 2000 independent draws: 40 calls on the batch repeated 50 times (the probes of every row
are independent, so one call returns the mean of 50 draws), with a tolerance of 4 standard errors.
"""

import pytest
import torch

import scorematch as sm

D = torch.float64
CHUNKS, REPEATS, LAM = 40, 50, 1.0


def _poe_and_batch(gen):
    """A 16x16 PoE (float64) and 16 inputs of dimension 16."""
    poe = sm.ProductOfExperts(16, 16, generator=gen).double()
    return poe, torch.randn(16, 16, generator=gen, dtype=D)


def _draws(poe, x, gen, **kwargs) -> torch.Tensor:
    """(CHUNKS,) means of REPEATS independent Hutchinson draws of the loss on ``x``."""
    xr = x.repeat(REPEATS, 1)  # (REPEATS * B, D): same samples, independent probes
    return torch.stack([sm.score_matching_loss(poe, xr, lam=LAM, method="hutchinson", generator=gen, **kwargs)
                        .detach() for _ in range(CHUNKS)])


def _old_bias(poe, x, n_probes):
    """Bias of the former diagonal estimate lam * sum_i mean_p(d_pi)^2: lam * (|H|_F^2 - sum_i h_ii^2) / P."""
    full = sm.score_matching_loss(poe, x, lam=LAM, method="exact", regularizer="full")
    diag = sm.score_matching_loss(poe, x, lam=LAM, method="exact", regularizer="diagonal")
    return (full - diag) / n_probes


@pytest.mark.parametrize("n_probes", [2, 5])
def test_diagonal_regularizer_estimate_is_unbiased(n_probes, gen):
    poe, x = _poe_and_batch(gen)
    exact = sm.score_matching_loss(poe, x, lam=LAM, method="exact").detach()
    draws = _draws(poe, x, gen, n_probes=n_probes)
    tol = 4 * draws.std() / CHUNKS**0.5
    assert abs(draws.mean() - exact) < tol
    # The squared mean of the probes' diagonals (the former estimate) would miss by far more than tol.
    assert _old_bias(poe, x, n_probes) > 20 * tol


@pytest.mark.parametrize("n_probes", [1, 3])
def test_full_regularizer_estimate_is_unbiased(n_probes, gen):
    poe, x = _poe_and_batch(gen)
    exact = sm.score_matching_loss(poe, x, lam=LAM, method="exact", regularizer="full").detach()
    draws = _draws(poe, x, gen, regularizer="full", n_probes=n_probes)
    assert abs(draws.mean() - exact) < 4 * draws.std() / CHUNKS**0.5


def test_parameter_gradient_of_the_estimate_is_unbiased(gen):
    poe, x = _poe_and_batch(gen)
    params = list(poe.parameters())

    def flat_grad(loss):
        return torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)])

    exact = flat_grad(sm.score_matching_loss(poe, x, lam=LAM, method="exact"))
    xr = x.repeat(REPEATS, 1)  # (REPEATS * B, D)
    draws = torch.stack([flat_grad(sm.score_matching_loss(poe, xr, lam=LAM, method="hutchinson", generator=gen))
                         for _ in range(CHUNKS)])  # (CHUNKS, n_params)
    err = (draws.mean(0) - exact).norm()
    expected_err = (draws.var(0).sum() / CHUNKS).sqrt()  # E|err|^2 = tr Cov / CHUNKS
    assert err < 2 * expected_err
    # The former estimate's gradient is off by the gradient of its bias, far outside that.
    assert flat_grad(_old_bias(poe, x, 2)).norm() > 20 * expected_err


def test_one_probe_cannot_estimate_the_diagonal_regularizer(gen):
    poe, x = _poe_and_batch(gen)
    with pytest.raises(ValueError, match="n_probes >= 2"):
        sm.score_matching_loss(poe, x, lam=LAM, method="hutchinson", n_probes=1, generator=gen)
    # Without the regularizer, or with the full one, one probe is an unbiased estimate and is allowed.
    assert torch.isfinite(sm.score_matching_loss(poe, x, method="hutchinson", n_probes=1, generator=gen))
    assert torch.isfinite(sm.score_matching_loss(poe, x, lam=LAM, method="hutchinson", regularizer="full",
                                                 n_probes=1, generator=gen))
