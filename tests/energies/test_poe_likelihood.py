"""The exact square-PoE likelihood (SPEC section 3) against numerical integration of exp(-E) in 1-D and 2-D."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from scorematch import ProductOfExperts
from scorematch.energies.poe import DEFAULT_C, student_t_log_normalizer


def _poe_2d(weight, *, c=DEFAULT_C, normalize=False):
    poe = ProductOfExperts(2, 2, c=c, normalize_filters=normalize, learn_alpha=False).double()
    with torch.no_grad():
        poe.layers[0].raw_weight.copy_(torch.as_tensor(weight, dtype=torch.float64))
    return poe


def _log_z_2d(w: np.ndarray, c: float) -> float:
    """``log integral_{R^2} exp(-sum_i log(1 + (c w_i^T x)^2 / 2)) dx`` by nested adaptive quadrature.

    The inner integral over x2 is split at the two ridges ``w_i^T x = 0`` so every piece has at most one
    peak at an end; both integrals run over the whole real line (QUADPACK's infinite-range rule).
    """
    (a, b), (d, e) = w

    def unnormalized(x2: float, x1: float) -> float:
        z1, z2 = a * x1 + b * x2, d * x1 + e * x2
        return 1.0 / ((1.0 + 0.5 * (c * z1) ** 2) * (1.0 + 0.5 * (c * z2) ** 2))

    def inner(x1: float) -> float:
        ridges = sorted({-a * x1 / b, -d * x1 / e})
        edges = [-np.inf, *ridges, np.inf]
        return sum(
            integrate.quad(unnormalized, lo, hi, args=(x1,), epsabs=0, epsrel=1e-11, limit=200)[0]
            for lo, hi in zip(edges[:-1], edges[1:])
        )

    z = sum(integrate.quad(inner, lo, hi, epsabs=0, epsrel=1e-10, limit=200)[0] for lo, hi in ((-np.inf, 0), (0, np.inf)))
    return math.log(z)


def test_student_t_normalizer_matches_quadrature():
    for c in (0.7, 1.0, DEFAULT_C):
        z, _ = integrate.quad(lambda t: 1.0 / (1.0 + 0.5 * (c * t) ** 2), -np.inf, np.inf, epsrel=1e-12)
        assert math.log(z) == pytest.approx(student_t_log_normalizer(c), abs=1e-10)


@pytest.mark.parametrize(
    "weight, c, normalize",
    [
        ([[1.3, -0.4], [0.5, 0.9]], DEFAULT_C, False),  # free filters, the paper's c
        ([[2.0, 0.7], [-0.3, 0.6]], 1.0, False),  # another c, |det W| far from 1
        ([[0.8, -1.1], [0.4, 0.3]], DEFAULT_C, False),  # |det W| < 1
        ([[1.0, 1.0], [1.0, -0.2]], DEFAULT_C, True),  # unit-norm, non-orthogonal filters
    ],
)
def test_log_likelihood_matches_numerical_integration_in_2d(weight, c, normalize):
    poe = _poe_2d(weight, c=c, normalize=normalize)
    w = poe.filters.detach().numpy()
    x = torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2.0
    with torch.no_grad():
        energy = poe.energy(x)
        # The quadrature integrates exp(-E) written out from the filters: check it is the model's E.
        z = x.numpy() @ w.T  # (50, 2)
        reference = np.log1p(0.5 * (c * z) ** 2).sum(1)
        np.testing.assert_allclose(energy.numpy(), reference, rtol=1e-13, atol=1e-13)
        log_z = _log_z_2d(w, c)
        # log p(x) = -E(x) - log Z with Z from numerical integration, at every test point.
        np.testing.assert_allclose(poe.log_likelihood(x).numpy(), (-energy - log_z).numpy(), rtol=0, atol=1e-8)
    # ... which is the closed form Z = |det W|^-1 (pi sqrt(2) / c)^2.
    assert log_z == pytest.approx(-math.log(abs(np.linalg.det(w))) + 2 * student_t_log_normalizer(c), abs=1e-8)


def test_log_likelihood_is_wrong_for_a_wrong_normalizer():
    """The comparison above can fail: a model whose log_likelihood ignored det W would be caught."""
    poe = _poe_2d([[2.0, 0.7], [-0.3, 0.6]], c=1.0)
    w = poe.filters.detach().numpy()
    x = torch.zeros(1, 2, dtype=torch.float64)
    with torch.no_grad():
        without_det = float(-poe.energy(x)) - 2 * student_t_log_normalizer(1.0)
        assert abs(without_det - (-float(poe.energy(x)) - _log_z_2d(w, 1.0))) > 0.1


def test_log_likelihood_moves_by_log_det_when_free_filters_are_scaled():
    """Scaling free filters by s moves log p(0) by exactly D log s (the energy at 0 is 0)."""
    poe1 = _poe_2d([[1.0, 0.2], [0.1, 1.0]])
    poe3 = _poe_2d([[3.0, 0.6], [0.3, 3.0]])
    zero = torch.zeros(1, 2, dtype=torch.float64)
    with torch.no_grad():
        diff = float(poe3.log_likelihood(zero) - poe1.log_likelihood(zero))
    assert diff == pytest.approx(2 * math.log(3.0), abs=1e-12)


def test_log_likelihood_refuses_models_without_a_closed_form():
    with pytest.raises(ValueError, match="square"):
        ProductOfExperts(3, 4, learn_alpha=False).log_likelihood(torch.zeros(1, 3))
    poe = ProductOfExperts(2, 2, learn_alpha=True)
    with torch.no_grad():
        poe.layers[2].beta.fill_(0.5)
    with pytest.raises(ValueError, match="alpha"):
        poe.log_likelihood(torch.zeros(1, 2))
