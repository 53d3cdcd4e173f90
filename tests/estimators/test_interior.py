"""Estimators on the interior of images (``margin``): the pixels where a field's score is whole."""

import functools

import pytest
import torch

import scorematch as sm
from scorematch.derivatives import input_derivatives
from scorematch.energies import DeepEnergy
from scorematch.estimators.interior import interior

D = torch.float64


def _field(gen):
    e = DeepEnergy(3, 2, 3, generator=gen).double()  # support 5: margin 4
    with torch.no_grad():
        e.shifts.add_(0.3 * torch.randn(e.shifts.shape, generator=gen, dtype=D))
    return e.at(0.1)


def test_interior_score_of_a_patch_is_the_images_score(gen):
    field = _field(gen)
    image = torch.rand(1, 1, 20, 20, generator=gen, dtype=D)
    m = field.support - 1
    patch = image[..., 3:17, 2:15]
    whole = -field.score(image)[..., 3:17, 2:15]
    torch.testing.assert_close(interior(-field.score(patch), m), interior(whole, m))
    assert not torch.allclose(-field.score(patch), whole)  # at the border it is not


def test_dsm_with_margin_is_the_interior_sum(gen):
    field, x = _field(gen), torch.rand(3, 1, 12, 11, generator=gen, dtype=D)
    got = sm.denoising_score_matching_loss(field, x, sigma=0.2, margin=2, generator=torch.Generator().manual_seed(7))
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(7), dtype=D)
    residual = -field.score(x + 0.2 * noise) - noise / 0.2
    torch.testing.assert_close(got, 0.5 * (residual[..., 2:10, 2:9] ** 2).flatten(1).sum(1).mean())


@pytest.mark.parametrize("method", ["curvature", "exact"])
def test_sm_with_margin_is_the_interior_sum(method, gen):
    field, x = _field(gen), torch.rand(2, 1, 10, 10, generator=gen, dtype=D)
    got = sm.score_matching_loss(field, x, lam=0.1, method=method, margin=3)
    grad, diag = input_derivatives(field, x, method=method)
    per_dim = 0.5 * grad**2 - diag + 0.1 * diag**2
    torch.testing.assert_close(got, per_dim[..., 3:7, 3:7].flatten(1).sum(1).mean())


def test_sliced_and_hutchinson_with_margin_estimate_the_interior_loss(gen):
    field, x = _field(gen), torch.rand(2, 1, 10, 10, generator=gen, dtype=D)
    exact = sm.score_matching_loss(field, x, method="exact", margin=3)
    ssm = sm.sliced_score_matching_loss(field, x, n_proj=3000, variance_reduction=False, generator=gen, margin=3)
    hutch = sm.score_matching_loss(field, x, method="hutchinson", n_probes=3000, generator=gen, margin=3)
    whole = sm.score_matching_loss(field, x, method="exact")
    for estimate in (ssm, hutch):
        assert abs(estimate - exact) < 0.05 * abs(exact - whole)


@pytest.mark.parametrize("loss", [
    functools.partial(sm.denoising_score_matching_loss, sigma=0.1), sm.sliced_score_matching_loss,
    sm.score_matching_loss])
def test_margin_that_leaves_no_interior_is_refused(loss, gen):
    field, x = _field(gen), torch.rand(2, 1, 8, 9, generator=gen, dtype=D)
    with pytest.raises(ValueError, match="no interior"):
        loss(field, x, margin=4)
    with pytest.raises(ValueError, match="margin"):
        loss(field, x, margin=-1)


def test_margin_with_the_full_regularizer_is_refused(gen):
    field, x = _field(gen), torch.rand(2, 1, 10, 10, generator=gen, dtype=D)
    with pytest.raises(ValueError, match="diagonal"):
        sm.score_matching_loss(field, x, lam=0.1, method="exact", regularizer="full", margin=2)
