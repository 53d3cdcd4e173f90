"""Algorithm 1 (curvature backpropagation) against autograd, closed forms and an independent hand computation."""

import math

import pytest
import torch

import scorematch as sm
from scorematch.derivatives import exact_hessian

D = torch.float64


def _perturb(energy, gen):
    """Random parameters, including non-trivial alpha."""
    with torch.no_grad():
        for p in energy.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * (0.3 if p.dim() == 1 else 1.0))
    return energy


def _models(gen):
    poe = _perturb(sm.ProductOfExperts(6, 9, generator=gen).double(), gen)
    foe = _perturb(sm.FieldOfExperts(4, 3, generator=gen).double(), gen)
    return [
        (poe, torch.randn(5, 6, generator=gen, dtype=D)),
        (foe, torch.randn(3, 1, 7, 8, generator=gen, dtype=D)),
        (foe.whitened(sm.laplacian_whitening_kernel(5, dtype=D)), torch.randn(2, 1, 8, 7, generator=gen, dtype=D)),
    ]


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("which", [0, 1, 2], ids=["poe", "foe", "whitened-foe"])
def test_curvature_equals_exact_values(which, gen):
    energy, x = _models(gen)[which]
    g1, h1 = sm.input_derivatives(energy, x, method="curvature")
    g2, h2 = sm.input_derivatives(energy, x, method="exact")
    assert g1.shape == x.shape and h1.shape == x.shape
    assert _rel(g1, g2) < 1e-10
    assert _rel(h1, h2) < 1e-10


@pytest.mark.parametrize("which", [0, 1, 2], ids=["poe", "foe", "whitened-foe"])
@pytest.mark.parametrize("lam", [0.0, 0.1])
def test_curvature_equals_exact_parameter_gradients(which, lam, gen):
    energy, x = _models(gen)[which]
    params = [p for p in energy.parameters() if p.requires_grad]
    grads = {}
    for method in ("curvature", "exact"):
        loss = sm.score_matching_loss(energy, x, lam=lam, method=method)
        grads[method] = (loss.detach(), torch.autograd.grad(loss, params))
    assert abs(grads["curvature"][0] - grads["exact"][0]) <= 1e-10 * abs(grads["exact"][0])
    for a, b in zip(grads["curvature"][1], grads["exact"][1]):
        assert _rel(a, b) < 1e-10


def test_poe_matches_hand_derived_closed_form(gen):
    energy, x = _models(gen)[0]
    c = math.exp(1.5)
    w, alpha = energy.filters, energy.alpha
    z = x @ w.T
    u = 0.5 * (c * z) ** 2
    g1 = c**2 * z / (1 + u)
    g2 = c**2 * (1 - u) / (1 + u) ** 2
    grad = (alpha * g1) @ w
    diag = (alpha * g2) @ (w * w)
    got_g, got_h = sm.input_derivatives(energy, x)
    assert _rel(got_g, grad) < 1e-12 and _rel(got_h, diag) < 1e-12
    energy_closed = (alpha * torch.log1p(u)).sum(1)
    assert _rel(energy.energy(x), energy_closed) < 1e-12


def test_foe_matches_hand_derived_closed_form(gen):
    import torch.nn.functional as F

    energy, x = _models(gen)[1]
    c = math.exp(1.5)
    w = energy.filters.unsqueeze(1)  # (M, 1, k, k)
    a = energy.alpha.view(1, -1, 1, 1)
    z = F.conv2d(x, w)
    u = 0.5 * (c * z) ** 2
    grad = F.conv_transpose2d(a * c**2 * z / (1 + u), w)
    diag = F.conv_transpose2d(a * c**2 * (1 - u) / (1 + u) ** 2, w * w)
    got_g, got_h = sm.input_derivatives(energy, x)
    assert _rel(got_g, grad) < 1e-12 and _rel(got_h, diag) < 1e-12


def _becker_lecun_two_layer(energy, x):
    """Independent hand computation of the Becker-LeCun diagonal for TwoLayerEnergy."""
    w = energy.layers[0].weight
    v = energy.layers[2].weight
    a = energy.layers[4].alpha
    z = x @ w.T  # (B, K)
    s = (z * z) @ v.T  # (B, P)
    d_s, d2_s = a / (1 + s), -a / (1 + s) ** 2
    d_q, d2_q = d_s @ v, d2_s @ (v * v)  # q = z^2
    d_z, d2_z = 2 * z * d_q, (2 * z) ** 2 * d2_q + 2 * d_q
    return d_z @ w, d2_z @ (w * w)


def test_two_layer_curvature_is_becker_lecun_and_differs_from_exact(gen):
    energy = _perturb(sm.TwoLayerEnergy(6, 8, 4, generator=gen).double(), gen)
    x = torch.randn(7, 6, generator=gen, dtype=D)
    g, h = sm.input_derivatives(energy, x, method="curvature")
    g_hand, h_hand = _becker_lecun_two_layer(energy, x)
    assert _rel(g, g_hand) < 1e-12 and _rel(h, h_hand) < 1e-12
    g_ex, h_ex = sm.input_derivatives(energy, x, method="exact")
    assert _rel(g, g_ex) < 1e-12  # the gradient is always exact
    gap = _rel(h, h_ex)
    assert gap > 1e-3  # the diagonal is an approximation for a two-layer net (gap recorded in the README)


def test_hutchinson_is_unbiased(gen):
    energy, x = _models(gen)[0]
    _, h_exact = sm.input_derivatives(energy, x, method="exact")
    _, h_est = sm.input_derivatives(energy, x, method="hutchinson", n_probes=4000, generator=gen)
    # Rademacher variance per entry is sum_{j != i} H_ij^2; 4000 probes give a few-percent error.
    _, hess = exact_hessian(energy, x, create_graph=False)
    off = (hess**2).sum(-1) - torch.diagonal(hess, dim1=1, dim2=2) ** 2  # (B, D)
    tol = 5 * (off / 4000).sqrt() + 1e-12
    assert bool(((h_est - h_exact).abs() <= tol).all())


def test_exact_works_for_a_plain_module(gen):
    class Quartic(sm.Energy):
        def energy(self, x):
            return (x**4).sum(1) / 4

    x = torch.randn(3, 5, generator=gen, dtype=D)
    g, h = sm.input_derivatives(Quartic(), x, method="exact")
    torch.testing.assert_close(g, x**3)
    torch.testing.assert_close(h, 3 * x**2)
    with pytest.raises(TypeError, match="no curvature rule"):
        sm.input_derivatives(Quartic(), x, method="curvature")
    with pytest.raises(ValueError, match="method must be one of"):
        sm.input_derivatives(Quartic(), x, method="nope")


def test_curvature_gradients_are_double_differentiable(gen):
    # The curvature outputs are built from differentiable ops: gradgradcheck through the whole pass.
    energy = _perturb(sm.ProductOfExperts(3, 4, generator=gen).double(), gen)
    x = torch.randn(2, 3, generator=gen, dtype=D, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda x: sm.input_derivatives(energy, x), (x,))


def _layered_energies(gen):
    """Every layered energy shape: the models above, an ImageFoE (fixed whitening in front), a two-layer
    energy (Square, positive pooling, Log1p) and a PoE with a fixed linear layer prepended."""
    two = _perturb(sm.TwoLayerEnergy(6, 5, 3).double(), gen)
    prior = _perturb(sm.energies.ImageFoE(3, 3, scale=20.0, whitening_size=5, whitening_sigma=0.5).double(), gen)
    poe, x_poe = _models(gen)[0]
    fixed = sm.energies.layers.Linear(6, 6, weight=torch.randn(6, 6, generator=gen, dtype=D), trainable=False)
    return [*_models(gen), (two, torch.randn(4, 6, generator=gen, dtype=D)),
            (prior, torch.rand(2, 1, 10, 9, generator=gen, dtype=D)), (poe.prepend(fixed), x_poe)]


@pytest.mark.parametrize("which", range(6), ids=["poe", "foe", "whitened-foe", "two-layer", "image-foe", "prepended"])
def test_layered_energy_and_grad_equals_autograd(which, gen):
    """The layers' own gradient pass (no autograd) against autograd, float64."""
    energy, x = _layered_energies(gen)[which]
    e, g = energy.energy_and_grad(x)
    e_ref, g_ref = sm.Energy.energy_and_grad(energy, x)  # the base class's autograd pass
    assert e.shape == e_ref.shape and g.shape == x.shape
    assert _rel(e, e_ref) < 1e-12
    assert _rel(g, g_ref) < 1e-10
    assert not g.requires_grad and all(p.grad is None for p in energy.parameters())


def test_layered_energy_and_grad_checks_its_input(gen):
    foe = sm.FieldOfExperts(4, 5).double()
    with pytest.raises(ValueError, match="H, W >= 5"):
        foe.energy_and_grad(torch.zeros(1, 1, 3, 3, dtype=D))
