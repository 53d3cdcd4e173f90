"""gradcheck / gradgradcheck of every layer's forward and curvature rule, in float64."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck, gradgradcheck

from scorematch.energies import LayeredEnergy
from scorematch.energies.layers import (
    Conv2d,
    ConvChain,
    ConvOp,
    Linear,
    Affine,
    Log1p,
    Softplus,
    Square,
    StudentT,
    WeightedSum,
    bank_adjoint,
    compose_kernels,
)

D = torch.float64


def _layer_cases(gen):
    return [
        (Linear(4, 3, normalize=True, weight=torch.randn(3, 4, generator=gen, dtype=D)), (5, 4)),
        (Linear(4, 3, positive=True, bias=True, weight=torch.randn(3, 4, generator=gen, dtype=D)), (5, 4)),
        (Conv2d(1, 2, 3, normalize=True, weight=torch.randn(2, 1, 3, 3, generator=gen, dtype=D)), (2, 1, 5, 6)),
        (StudentT(), (5, 3)),
        (StudentT(c=0.7), (2, 3, 4, 4)),
        (Square(), (5, 3)),
        (Log1p(), (5, 3)),
        (Softplus(), (2, 3, 4, 4)),
        (Affine(scale=torch.rand(2, 1, 1, 1, generator=gen, dtype=D) + 0.5,
                shift=torch.randn(2, 3, 1, 1, generator=gen, dtype=D)), (2, 3, 4, 4)),
        (Conv2d(2, 3, 3, zero_mean=True, weight=torch.randn(3, 2, 3, 3, generator=gen, dtype=D)), (2, 2, 5, 5)),
    ]


@pytest.mark.parametrize("case", range(10))
def test_forward_and_curvature_rule_gradcheck(case, gen):
    layer, shape = _layer_cases(gen)[case]
    layer = layer.double()
    h = torch.rand(shape, generator=gen, dtype=D) + 0.1  # positive inputs keep Log1p in its domain
    h.requires_grad_(True)
    out = layer(h)
    delta = torch.randn(out.shape, generator=gen, dtype=D, requires_grad=True)
    delta2 = torch.randn(out.shape, generator=gen, dtype=D, requires_grad=True)
    params = [p for p in layer.parameters()]
    assert gradcheck(lambda h, *ps: layer(h), (h, *params))
    assert gradgradcheck(lambda h, *ps: layer(h), (h, *params))

    def rule(h, delta, delta2, *ps):
        d, d2 = layer.backward_curvature(h, delta, delta2)
        return d, d2

    assert gradcheck(rule, (h, delta, delta2, *params))
    assert gradgradcheck(rule, (h, delta, delta2, *params))


def test_weighted_sum_rule_matches_definition(gen):
    layer = WeightedSum(3).double()
    with torch.no_grad():
        layer.beta.copy_(torch.randn(3, generator=gen, dtype=D))
    h = torch.randn(2, 3, 4, 4, generator=gen, dtype=D)
    delta = torch.randn(2, generator=gen, dtype=D)
    delta2 = torch.randn(2, generator=gen, dtype=D)
    d, d2 = layer.backward_curvature(h, delta, delta2)
    a = layer.alpha.view(1, 3, 1, 1)
    torch.testing.assert_close(d, delta.view(2, 1, 1, 1) * a.expand(2, 3, 4, 4), rtol=0, atol=0)
    torch.testing.assert_close(d2, delta2.view(2, 1, 1, 1) * (a * a).expand(2, 3, 4, 4), rtol=1e-15, atol=1e-15)


def test_student_t_derivatives_closed_form(gen):
    c = math.exp(1.5)
    z = torch.randn(50, generator=gen, dtype=D)
    d1, d2 = StudentT(c).derivatives(z)
    zz = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(StudentT(c).f(zz).sum(), zz, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), zz)
    torch.testing.assert_close(d1, g.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(d2, h, rtol=1e-12, atol=1e-12)


def test_linear_rule_with_none_curvature_is_zero(gen):
    layer = Linear(4, 3, weight=torch.randn(3, 4, generator=gen, dtype=D))
    d, d2 = layer.backward_curvature(torch.zeros(2, 4, dtype=D), torch.ones(2, 3, dtype=D), None)
    assert d2 is None
    torch.testing.assert_close(d, torch.ones(2, 3, dtype=D) @ layer.weight)


def test_composed_kernel_equals_two_convolutions(gen):
    import torch.nn.functional as F

    k1 = torch.randn(3, 2, 3, 3, generator=gen, dtype=D)
    k2 = torch.randn(4, 3, 5, 5, generator=gen, dtype=D)
    x = torch.randn(2, 2, 12, 11, generator=gen, dtype=D)
    both = F.conv2d(F.conv2d(x, k1), k2)
    once = F.conv2d(x, compose_kernels(k1, k2))
    torch.testing.assert_close(once, both, rtol=1e-12, atol=1e-12)


def test_fused_correlations_keep_their_factors_and_the_composed_kernel_for_the_curvature(gen):
    k1 = torch.randn(1, 1, 3, 3, generator=gen, dtype=D)
    k2 = torch.randn(4, 1, 5, 5, generator=gen, dtype=D)
    h = torch.randn(2, 1, 12, 11, generator=gen, dtype=D)
    chain, composed = ConvOp(k1).fuse(ConvOp(k2)), ConvOp(compose_kernels(k1, k2))
    assert isinstance(chain, ConvChain) and chain.ops[1].weight is k2
    torch.testing.assert_close(chain(h), composed(h), rtol=1e-12, atol=1e-12)
    delta, delta2 = (torch.randn(2, 4, 6, 5, generator=gen, dtype=D) for _ in range(2))
    for got, want in zip(chain.backward_curvature(h, delta, delta2), composed.backward_curvature(h, delta, delta2)):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    third = ConvOp(torch.randn(2, 4, 3, 3, generator=gen, dtype=D))
    torch.testing.assert_close(chain.fuse(third)(h), F.conv2d(composed(h), third.weight), rtol=1e-12, atol=1e-12)
    assert chain.fuse(Softplus()) is None


def test_bad_weight_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="weight must have shape"):
        Linear(4, 3, weight=torch.zeros(4, 3))
    with pytest.raises(ValueError, match="c must be positive"):
        StudentT(c=0.0)


def test_conv_op_flushes_subnormal_weights_outside_autograd_only():
    """A filter that decayed to subnormal numbers is zeroed in no-grad passes (4x faster on the CPU, the same
    energy and gradient); with autograd on, the weights stay as they are so that they can still learn."""
    torch.manual_seed(0)
    w = torch.randn(3, 1, 3, 3)
    w[1] = 1e-41  # a dead filter, subnormal in float32
    conv = Conv2d(1, 3, 3, weight=w)
    assert torch.equal(conv.frozen().weight, w)
    with torch.no_grad():
        flushed = conv.frozen().weight
    assert torch.all(flushed[1] == 0) and torch.equal(flushed[[0, 2]], w[[0, 2]])
    energy = LayeredEnergy([conv, StudentT(), WeightedSum(3)])
    x = torch.rand(2, 1, 8, 8)
    e, g = energy.energy_and_grad(x)
    x_ref = x.clone().requires_grad_()
    e_ref = energy(x_ref)
    (g_ref,) = torch.autograd.grad(e_ref.sum(), x_ref)
    assert torch.allclose(e, e_ref.detach(), rtol=1e-6) and torch.allclose(g, g_ref, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(3, 1, 5), (4, 2, 3), (1, 3, 2)], ids=["bank", "two-channel", "single"])
def test_no_grad_adjoints_equal_conv_transpose2d(shape):
    """The restoration pass's forms of the adjoint (one matrix product over the bank; the flipped full
    correlation for a single filter) against F.conv_transpose2d, float64."""
    c_out, c_in, k = shape
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(c_out, c_in, k, k, generator=gen, dtype=torch.float64)
    h = torch.randn(2, c_in, 9, 7, generator=gen, dtype=torch.float64)
    delta = torch.randn(2, c_out, 10 - k, 8 - k, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(bank_adjoint(delta, w), F.conv_transpose2d(delta, w), rtol=1e-12, atol=1e-12)
    op = ConvOp(w)
    with torch.no_grad():
        torch.testing.assert_close(op(h), F.conv2d(h, w), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(op.backward(h, delta), F.conv_transpose2d(delta, w), rtol=1e-12, atol=1e-12)
