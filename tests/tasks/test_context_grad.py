"""The score of a field at the image border (``context_grad``), and Tweedie's estimate that uses it."""

import pytest
import torch

from scorematch.energies import DeepEnergy, FieldOfExperts
from scorematch.prior import ImagePrior
from scorematch.prior.evaluation import (BOUNDARIES, PADDED_MARGIN, context_grad, energy_and_grad,
                                        energy_with_boundary, extend, margin)
from scorematch.tasks import tweedie

D = torch.float64


def _foe(gen):
    e = FieldOfExperts(3, 3).double()
    with torch.no_grad():
        for p in e.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=D))
    return e


@pytest.mark.parametrize("boundary", BOUNDARIES[1:])
def test_context_grad_is_autograds_gradient_with_the_extension_held_fixed(gen, boundary):
    e = _foe(gen)
    x = torch.rand(2, 1, 9, 10, generator=gen, dtype=D, requires_grad=True)
    m = e.kernel_size - 1
    context = extend(x.detach(), m, boundary)
    inside = torch.zeros_like(context, dtype=torch.bool)
    inside[..., m:-m, m:-m] = True
    ext = context.masked_scatter(inside, x)  # the image's own pixels, the copies constant
    (expected,) = torch.autograd.grad(e(ext).sum(), x)
    torch.testing.assert_close(context_grad(e, x.detach(), boundary=boundary), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(context_grad(e, x.detach(), boundary=boundary, tile=3), expected, rtol=1e-12,
                               atol=1e-12)


def test_context_grad_sums_as_many_windows_at_the_border_as_inside(gen):
    e = _foe(gen)
    flat = torch.full((1, 1, 8, 8), 0.3, dtype=D)  # every window sees the same values, as do the copies
    g = context_grad(e, flat, boundary="replicate")
    torch.testing.assert_close(g, torch.full_like(g, g[0, 0, 4, 4].item()), rtol=1e-12, atol=1e-12)
    folded = energy_and_grad(e, flat, boundary="replicate")[1]  # the copies' gradients added to the edges
    torch.testing.assert_close(folded[..., 2:-2, 2:-2], g[..., 2:-2, 2:-2])
    assert not torch.allclose(folded[..., 0, 0], g[..., 0, 0])


def test_context_grad_without_context_and_per_channel(gen):
    e = _foe(gen)
    x = torch.rand(1, 3, 8, 8, generator=gen, dtype=D)
    torch.testing.assert_close(context_grad(e, x, boundary="valid"), energy_and_grad(e, x)[1])
    per_channel = torch.cat([context_grad(e, x[:, c : c + 1], boundary="symmetric") for c in range(3)], 1)
    torch.testing.assert_close(context_grad(e, x, boundary="symmetric"), per_channel)
    with pytest.raises(ValueError, match="boundary"):
        context_grad(e, x, boundary="wrap")


def test_tweedie_takes_the_score_with_the_extension_as_context(gen):
    e = DeepEnergy(4, 2, 3, generator=gen).double()
    y = torch.rand(1, 1, 12, 12, generator=gen, dtype=D)
    for boundary in BOUNDARIES:
        expected = y - 0.01 * context_grad(e.at(0.1), y, boundary=boundary)
        torch.testing.assert_close(tweedie(y, ImagePrior(e, boundary=boundary), sigma=0.1), expected)


def _unet(gen):
    from scorematch.energies import UNetEnergy

    return UNetEnergy(widths=(4, 8), experts=3, generator=gen).double().at(0.1)


@pytest.mark.parametrize("boundary", BOUNDARIES[1:])
def test_a_padded_network_takes_the_extended_image_as_context(gen, boundary):
    e = _unet(gen)
    x = torch.rand(1, 1, 40, 37, generator=gen, dtype=D, requires_grad=True)
    m = margin(e, boundary, (40, 37))
    assert m == min(PADDED_MARGIN, 36)
    context = extend(x.detach(), m, boundary)
    inside = torch.zeros_like(context, dtype=torch.bool)
    inside[..., m:-m, m:-m] = True
    (expected,) = torch.autograd.grad(e(context.masked_scatter(inside, x)).sum(), x)
    torch.testing.assert_close(context_grad(e, x.detach(), boundary=boundary), expected, rtol=1e-10, atol=1e-12)
    own = e.energy_map(extend(x, m, boundary))[..., m:-m, m:-m].sum((-2, -1))  # MAP's objective: the image's terms
    (folded,) = torch.autograd.grad(own.sum(), x)
    energy, grad = energy_and_grad(e, x.detach(), boundary=boundary)
    torch.testing.assert_close(energy, own.detach())
    torch.testing.assert_close(grad, folded, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(energy_with_boundary(e, x, boundary), own)  # the differentiable form (deepinv's)
    tiled = energy_and_grad(e, x.detach(), boundary=boundary, tile=16)  # tiles with the network's context around
    torch.testing.assert_close(tiled[0], energy, rtol=1e-2, atol=0)


def test_a_padded_prior_extends_symmetrically_unless_told_and_valid_is_the_networks_padding(gen):
    e = _unet(gen)
    assert ImagePrior(e).boundary == "symmetric"
    x = torch.rand(1, 1, 24, 24, generator=gen, dtype=D)
    assert margin(e, "valid", (24, 24)) is None
    torch.testing.assert_close(ImagePrior(e, boundary="valid").energy_and_grad(x)[1], e.energy_and_grad(x)[1])
    assert margin(e, "replicate", (1, 30)) is None  # a one-pixel side: nothing to mirror
