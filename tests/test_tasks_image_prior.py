"""ImageFoE: derivatives in float64, the whitening/scale composition, the model file, tiled evaluation."""

import torch
import torch.nn.functional as F

import scorematch
from scorematch.derivatives import input_derivatives
from scorematch.energies import FieldOfExperts, ImageFoE, laplacian_whitening_kernel
from scorematch.tasks._objective import energy_and_grad


def _prior(gen, **kw):
    p = ImageFoE(4, 3, scale=255.0, whitening_size=5, generator=gen, **kw).double()
    with torch.no_grad():
        p.layers[3].beta.normal_(0, 0.3, generator=gen)
    return p


def test_energy_equals_foe_on_scaled_whitened_image(gen):
    prior = _prior(gen)
    x = torch.rand(2, 1, 12, 12, generator=gen, dtype=torch.float64)
    kernel = laplacian_whitening_kernel(5, dtype=torch.float64)
    assert torch.allclose(prior.whitening, 255.0 * kernel, rtol=1e-6)  # stored in float32 at construction
    white = F.conv2d(x, prior.whitening.reshape(1, 1, 5, 5))
    assert torch.allclose(prior.energy(x), prior.foe.energy(white), rtol=1e-12)
    assert prior.support == 7


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
