"""ColourFoE: derivatives in float64 against autograd, the fixed colour front, the model file, channel checks."""

import pytest
import torch
import torch.nn.functional as F

import scorematch
from scorematch.derivatives import input_derivatives
from scorematch.energies import ColourFoE, FieldOfExperts, laplacian_whitening_kernel
from scorematch.energies.colour_prior import colour_transform
from scorematch.prior import DenoisePreset, ImagePrior, Presets
from scorematch.prior.evaluation import energy_and_grad, per_channel


def _prior(gen, transform="opponent", **kw):
    p = ColourFoE(4, 3, scale=20.0, whitening_size=5, whitening_sigma=0.5, transform=transform, generator=gen,
                  **kw).double()
    with torch.no_grad():
        p.weighting.beta.normal_(0, 0.3, generator=gen)
    return p


def test_opponent_transform_is_orthonormal():
    t = colour_transform("opponent")
    assert torch.allclose(t @ t.T, torch.eye(3, dtype=torch.float64), atol=1e-15)
    assert torch.allclose(t[0], torch.full((3,), 3 ** -0.5, dtype=torch.float64))
    with pytest.raises(ValueError, match="colour transform"):
        colour_transform("lab")


@pytest.mark.parametrize("transform", ["rgb", "opponent"])
def test_energy_is_a_grey_foe_bank_on_the_transformed_whitened_image(gen, transform):
    prior = _prior(gen, transform)
    x = torch.rand(2, 3, 12, 12, generator=gen, dtype=torch.float64)
    t = colour_transform(transform)
    kernel = 20.0 * laplacian_whitening_kernel(5, sigma=0.5, dtype=torch.float64)  # (5, 5)
    z = torch.einsum("oi,bihw->bohw", t, x)  # (B, 3, H, W): the transformed image
    white = F.conv2d(z.reshape(-1, 1, 12, 12), kernel[None, None]).reshape(2, 3, 8, 8)  # each channel whitened
    resp = F.conv2d(white, prior.filters)  # (B, M, 6, 6)
    e = (prior.alpha[None, :, None, None] * torch.log1p(0.5 * (prior.c * resp) ** 2)).sum((1, 2, 3))
    assert torch.allclose(prior.energy(x), e, rtol=1e-12)
    assert prior.support == 7 and prior.in_channels == 3 and ImagePrior(prior).in_channels == 3


@pytest.mark.parametrize("normalize", [True, False])
def test_energy_and_grad_and_curvature_match_autograd_float64(gen, normalize):
    prior = _prior(gen, normalize_filters=normalize)
    x = torch.rand(2, 3, 9, 9, generator=gen, dtype=torch.float64)
    e, g = prior.energy_and_grad(x)
    xr = x.clone().requires_grad_(True)
    e_ref = prior.energy(xr)
    (g_ref,) = torch.autograd.grad(e_ref.sum(), xr)
    assert torch.allclose(e, e_ref.detach(), rtol=1e-12)
    assert torch.allclose(g, g_ref, rtol=1e-10, atol=1e-10 * g_ref.abs().max().item())
    g1, d1 = prior.curvature_derivatives(x)  # Algorithm 1: exact for one linear map before the experts
    g2, d2 = input_derivatives(prior, x, method="exact")
    assert torch.allclose(g1, g2, rtol=1e-9, atol=1e-9 * g2.abs().max().item())
    assert torch.allclose(d1, d2, rtol=1e-9, atol=1e-9 * d2.abs().max().item())


def test_curvature_score_matching_parameter_gradients_match_exact(gen):
    prior = _prior(gen, normalize_filters=False)
    x = torch.rand(3, 3, 9, 9, generator=gen, dtype=torch.float64)
    grads = {}
    for method in ("curvature", "exact"):
        loss = scorematch.score_matching_loss(prior, x, lam=1e-5, method=method)
        grads[method] = (loss.item(), torch.autograd.grad(loss, [p for p in prior.parameters()]))
    assert abs(grads["curvature"][0] - grads["exact"][0]) <= 1e-10 * abs(grads["exact"][0])
    for a, b in zip(grads["curvature"][1], grads["exact"][1]):
        assert torch.allclose(a, b, rtol=1e-8, atol=1e-10 * b.abs().max().item())


def test_gradcheck_energy_input(gen):
    prior = _prior(gen, normalize_filters=False)
    x = torch.rand(1, 3, 8, 8, generator=gen, dtype=torch.float64) * 0.05
    assert torch.autograd.gradcheck(lambda t: prior.energy(t), (x.requires_grad_(),))


def test_colour_input_is_not_folded_into_channels(gen):
    prior = _prior(gen)
    x = torch.rand(1, 3, 10, 10, generator=gen, dtype=torch.float64)
    flat, c = per_channel(prior, x)
    assert c == 1 and flat is x
    e, g = energy_and_grad(prior, x, boundary="replicate")
    assert e.shape == (1,) and g.shape == x.shape


def test_save_load_roundtrip(tmp_path, gen):
    prior = _prior(gen, "rgb", normalize_filters=False)
    presets = Presets({15 / 256: DenoisePreset(weight=0.3)})
    path = scorematch.save(prior, tmp_path / "c.safetensors", metadata={"presets": presets.to_json()})
    back = scorematch.load(path)
    assert isinstance(back, ColourFoE) and back.transform == "rgb" and back.scale == 20.0
    assert back.config() == prior.config()
    x = torch.rand(2, 3, 10, 10, generator=gen, dtype=torch.float64)
    assert torch.allclose(back.double().energy(x), prior.energy(x), rtol=1e-6)
    assert torch.equal(back.double().front, prior.front)  # the fixed front is recomputed in float64


def test_refuses_wrong_channel_counts(gen):
    prior = _prior(gen)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\).*grey prior"):
        prior.energy(torch.rand(1, 1, 10, 10, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        prior.energy(torch.rand(1, 4, 10, 10, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"H, W >= 7"):
        prior.energy(torch.rand(1, 3, 6, 6, dtype=torch.float64))
    assert isinstance(FieldOfExperts(2, 3), FieldOfExperts)  # the grey class is unchanged
