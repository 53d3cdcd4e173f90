"""ImageFoE: derivatives in float64, the whitening/scale composition, the model file, tiled evaluation, boundaries."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import scorematch
from scorematch.derivatives import input_derivatives
from scorematch.energies import FieldOfExperts, ImageFoE, laplacian_whitening_kernel
from scorematch.prior.evaluation import energy_and_grad, extend, fold


def _prior(gen, **kw):
    p = ImageFoE(4, 3, scale=255.0, whitening_size=5, generator=gen, **kw).double()
    with torch.no_grad():
        p.layers[3].beta.normal_(0, 0.3, generator=gen)
    return p


def test_energy_equals_foe_on_scaled_whitened_image(gen):
    prior = _prior(gen)
    x = torch.rand(2, 1, 12, 12, generator=gen, dtype=torch.float64)
    kernel = laplacian_whitening_kernel(5, dtype=torch.float64)
    assert torch.equal(prior.whitening, 255.0 * kernel)  # recomputed in float64 by .double()
    white = F.conv2d(x, prior.whitening.reshape(1, 1, 5, 5))
    assert torch.allclose(prior.energy(x), prior.foe.energy(white), rtol=1e-12)
    assert prior.support == 7


def _float64_reference(prior, x):
    """Energy and input gradient with the whitening built here in float64: ``E_foe(conv(x, 255 L))``."""
    kernel = 255.0 * laplacian_whitening_kernel(5, dtype=torch.float64)  # (5, 5)
    x = x.detach().requires_grad_(True)
    e = prior.foe.energy(F.conv2d(x, kernel.reshape(1, 1, 5, 5)))  # (B,)
    (g,) = torch.autograd.grad(e.sum(), x)
    return e.detach(), g


@pytest.mark.parametrize("source", ["float32 prior", "float32 file", "float64 state with a float32 kernel"])
def test_double_keeps_the_whitening_in_float64(tmp_path, gen, source):
    prior = ImageFoE(4, 3, scale=255.0, whitening_size=5, generator=gen)  # float32
    if source == "float32 file":
        prior = scorematch.load(scorematch.save(prior, tmp_path / "p.safetensors"))
    prior = prior.double()
    if source == "float64 state with a float32 kernel":  # e.g. a float64 file written before this fix
        state = prior.state_dict()
        state["layers.0.raw_weight"] = state["layers.0.raw_weight"].float().double()
        prior.load_state_dict(state)
    tensors = dict(prior.named_parameters()) | dict(prior.named_buffers())
    assert "layers.0.raw_weight" in tensors and all(t.dtype == torch.float64 for t in tensors.values())
    assert torch.equal(prior.whitening, 255.0 * laplacian_whitening_kernel(5, dtype=torch.float64))
    x = torch.rand(2, 1, 12, 12, generator=gen, dtype=torch.float64)
    e, g = energy_and_grad(prior, x)
    e_ref, g_ref = _float64_reference(prior, x)
    assert torch.allclose(e, e_ref, rtol=1e-14, atol=0)  # a float32 kernel is off by about 1e-8
    assert torch.allclose(g, g_ref, rtol=1e-13, atol=1e-13 * g_ref.abs().max().item())
    assert torch.equal(prior.float().whitening, (255.0 * laplacian_whitening_kernel(5, dtype=torch.float64)).float())


def test_curvature_derivatives_match_autograd_float64(gen):
    prior = _prior(gen)
    x = torch.rand(2, 1, 9, 9, generator=gen, dtype=torch.float64)
    g, d = prior.curvature_derivatives(x)
    g2, d2 = input_derivatives(prior, x, method="exact")
    assert torch.allclose(g, g2, rtol=1e-9, atol=1e-9 * g2.abs().max().item())
    assert torch.allclose(d, d2, rtol=1e-9, atol=1e-9 * d2.abs().max().item())


def test_gradcheck_energy_input(gen):
    prior = _prior(gen, normalize_filters=False)
    x = torch.rand(1, 1, 8, 8, generator=gen, dtype=torch.float64) * 0.01
    assert torch.autograd.gradcheck(lambda t: prior.energy(t), (x.requires_grad_(),))


def test_save_load_roundtrip_keeps_scale_and_whitening(tmp_path, gen):
    prior = _prior(gen)
    path = scorematch.save(prior, tmp_path / "p.safetensors", metadata={"lam": 1e-5})
    back = scorematch.load(path)
    assert isinstance(back, ImageFoE) and back.scale == 255.0 and back.whitening_size == 5
    x = torch.rand(1, 1, 10, 10, generator=gen, dtype=torch.float64)
    assert torch.allclose(back.energy(x), prior.energy(x), rtol=1e-12)


def test_from_foe_shares_values(gen):
    foe = FieldOfExperts(3, 3, generator=gen).double()
    prior = ImageFoE.from_foe(foe, scale=1.0, whitening_size=0)
    x = torch.rand(2, 1, 8, 8, generator=gen, dtype=torch.float64)
    assert torch.allclose(prior.energy(x), foe.energy(x), rtol=1e-12)


def test_tiled_energy_and_grad_equal_untiled(gen):
    prior = _prior(gen)
    x = torch.rand(2, 1, 37, 29, generator=gen, dtype=torch.float64)
    e, g = energy_and_grad(prior, x)
    for tile in (1, 5, 16, 100):
        et, gt = energy_and_grad(prior, x, tile=tile)
        assert torch.allclose(et, e, rtol=1e-12)
        assert torch.allclose(gt, g, rtol=1e-10, atol=1e-10 * g.abs().max().item())


NUMPY_MODE = {"symmetric": "symmetric", "reflect": "reflect", "replicate": "edge"}


@pytest.mark.parametrize("boundary", sorted(NUMPY_MODE))
def test_extend_matches_numpy_pad(gen, boundary):
    x = torch.rand(2, 1, 7, 5, generator=gen, dtype=torch.float64)
    for m in (1, 3, 4):
        want = np.pad(x.numpy(), ((0, 0), (0, 0), (m, m), (m, m)), mode=NUMPY_MODE[boundary])
        assert torch.equal(extend(x, m, boundary), torch.from_numpy(want))


@pytest.mark.parametrize("boundary", sorted(NUMPY_MODE))
def test_fold_is_the_adjoint_of_extend_by_autograd(gen, boundary):
    x = torch.rand(2, 3, 7, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    for m in (1, 3, 4):
        ge = torch.randn(2, 3, 7 + 2 * m, 5 + 2 * m, generator=gen, dtype=torch.float64)
        (want,) = torch.autograd.grad(extend(x, m, boundary), x, ge)
        assert torch.allclose(fold(ge, m, boundary), want, rtol=1e-14, atol=1e-14)


def test_extend_rejects_too_small_images_and_unknown_rules(gen):
    x = torch.rand(1, 1, 4, 6, generator=gen, dtype=torch.float64)
    assert extend(x, 4, "symmetric").shape[-2:] == (12, 14)
    with pytest.raises(ValueError, match="more than 4 pixels"):
        extend(x, 4, "reflect")  # reflect never repeats the edge: it can add at most H - 1
    assert extend(x, 9, "replicate").shape[-2:] == (22, 24)
    with pytest.raises(ValueError, match="boundary"):
        extend(x, 1, "wrap")


@pytest.mark.parametrize("boundary", sorted(NUMPY_MODE))
def test_boundary_energy_is_the_extended_images_energy_with_finite_difference_gradient(gen, boundary):
    prior = _prior(gen)  # composed support 7: the image is extended by 6 on each side
    x = torch.rand(1, 1, 9, 8, generator=gen, dtype=torch.float64)
    e, g = energy_and_grad(prior, x, boundary=boundary)
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (6, 6), (6, 6)), mode=NUMPY_MODE[boundary])
    assert torch.allclose(e, prior.energy(torch.from_numpy(padded)), rtol=1e-12)
    h = 1e-6
    for i, j in [(0, 0), (0, 4), (4, 7), (8, 7), (4, 3)]:  # corners, edges, the middle
        d = torch.zeros_like(x)
        d[0, 0, i, j] = h
        up = energy_and_grad(prior, x + d, boundary=boundary)[0]
        down = energy_and_grad(prior, x - d, boundary=boundary)[0]
        fd = (up - down) / (2 * h)
        assert abs(fd.item() - g[0, 0, i, j].item()) < 1e-6 * max(1.0, abs(fd.item()))


@pytest.mark.parametrize("boundary", ["replicate", "valid"])
def test_boundary_with_tiles_equals_untiled(gen, boundary):
    prior = _prior(gen)
    x = torch.rand(2, 1, 23, 19, generator=gen, dtype=torch.float64)
    e, g = energy_and_grad(prior, x, boundary=boundary)
    et, gt = energy_and_grad(prior, x, tile=6, boundary=boundary)
    assert torch.allclose(et, e, rtol=1e-12)
    assert torch.allclose(gt, g, rtol=1e-10, atol=1e-10 * g.abs().max().item())


@pytest.mark.parametrize("boundary", sorted(NUMPY_MODE))
def test_extended_boundary_constrains_border_pixels_at_least_like_interior_ones(gen, boundary):
    """A box filter on a constant image: a pixel's gradient counts the windows that hold it (times a constant).

    With "valid" a corner pixel is in 1 of the 9 windows of an interior pixel; extended, every pixel is in all
    9 of its own (and in some twice more through the copies of it that the extension made).
    """
    foe = FieldOfExperts(1, 3, generator=gen).double()
    with torch.no_grad():
        foe.layers[0].raw_weight.fill_(1.0)
    x = torch.full((1, 1, 8, 8), 0.7, dtype=torch.float64)
    _, g_valid = energy_and_grad(foe, x)
    interior = g_valid[0, 0, 4, 4].item()
    assert g_valid[0, 0, 0, 0].item() == pytest.approx(interior / 9, rel=1e-12)
    _, g = energy_and_grad(foe, x, boundary=boundary)
    assert g[0, 0, 4, 4].item() == pytest.approx(interior, rel=1e-12)
    assert (g >= interior * (1 - 1e-12)).all()


def test_boundary_needs_a_known_support():
    class Bare(scorematch.energies.base.Energy):
        def energy(self, x):
            return (x**2).flatten(1).sum(1)

    x = torch.rand(1, 1, 5, 5, dtype=torch.float64)
    assert torch.allclose(energy_and_grad(Bare(), x)[1], 2 * x)
    with pytest.raises(ValueError, match="known support"):
        energy_and_grad(Bare(), x, boundary="replicate")
    with pytest.raises(ValueError, match="boundary must be one of"):
        energy_and_grad(Bare(), x, boundary="periodic")


def test_a_grey_prior_acts_on_each_channel_of_a_colour_batch(gen):
    prior = ImageFoE(3, 3, scale=20.0, whitening_size=3).double()
    x = torch.rand(2, 3, 12, 11, generator=gen, dtype=torch.float64)
    e, g = energy_and_grad(prior, x, boundary="replicate")
    parts = [energy_and_grad(prior, x[:, c : c + 1], boundary="replicate") for c in range(3)]
    assert torch.allclose(e, sum(p[0] for p in parts))
    assert torch.allclose(g, torch.cat([p[1] for p in parts], 1))
