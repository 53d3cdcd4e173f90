"""The FoE training recipe (scorematch.priors): filter initialization, dequantization, validation."""

import pytest
import torch

from scorematch.priors import FoERecipe, dct_filters, train_image_foe, training_patches


def test_dct_filters_orthonormal_zero_mean():
    w = dct_filters(24, 5).flatten(1).double()
    assert w.shape == (24, 25)
    assert torch.allclose(w @ w.T, torch.eye(24, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(w.sum(1), torch.zeros(24, dtype=torch.float64), atol=1e-6)  # no constant filter


def test_dct_filters_extra_random_unit_norm():
    w = dct_filters(10, 3, generator=torch.Generator().manual_seed(0)).flatten(1)
    assert w.shape == (10, 9)
    assert torch.allclose(w.norm(dim=1), torch.ones(10), atol=1e-6)


@pytest.mark.parametrize("field,value", [("init", "zca"), ("init_norm", -1.0), ("space", "fourier"), ("lam", -1.0),
                                         ("whitening_sigma", 0.0)])
def test_recipe_validation(field, value):
    with pytest.raises(ValueError):
        FoERecipe(**{field: value})


def _images():
    g = torch.Generator().manual_seed(0)
    return [torch.round(torch.rand(20, 20, generator=g) * 255) / 255 for _ in range(3)]


def test_dequantize_adds_at_most_half_a_grey_level():
    ims = _images()
    r = FoERecipe(space="pixel", patch_size=20, n_patches=3)
    plain = training_patches(ims, r)
    deq = training_patches(ims, FoERecipe(**{**r.to_dict(), "dequantize": True}))
    d = (deq - plain).abs()
    assert d.max() <= 0.5 / 255 + 1e-7 and d.max() > 0.1 / 255


def test_train_with_dct_init_and_free_norms():
    prior = train_image_foe(_images(), FoERecipe(n_experts=4, kernel_size=3, whitening_size=3, patch_size=8,
                                                   n_patches=50, steps=3, space="pixel", init="dct", init_norm=0.5,
                                                   normalize_filters=False, dequantize=True), holdout=None)
    norms = prior.filters.flatten(1).norm(dim=1)
    assert torch.isfinite(norms).all() and (norms - 0.5).abs().max() < 0.2  # three small Adam steps from 0.5


@pytest.mark.parametrize("margin", [0, 2, 4])
def test_interior_loss_matches_autograd_on_interior_pixels(margin):
    from scorematch.energies import ImageFoE
    from scorematch import score_matching_loss

    g = torch.Generator().manual_seed(1)
    e = ImageFoE(3, 3, whitening_size=3, normalize_filters=False, generator=g).double()
    x = torch.rand(2, 1, 10, 10, generator=g, dtype=torch.float64)
    lam = 1e-3
    xl = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(e.energy(xl).sum(), xl, create_graph=True)
    total = torch.zeros(2, dtype=torch.float64)
    for i in range(margin, 10 - margin):
        for j in range(margin, 10 - margin):
            (h,) = torch.autograd.grad(grad[:, 0, i, j].sum(), xl, create_graph=True)
            d = h[:, 0, i, j]
            total = total + 0.5 * grad[:, 0, i, j] ** 2 - d + lam * d * d
    got = score_matching_loss(e, x, lam=lam, margin=margin)
    assert torch.allclose(got, total.mean(), rtol=1e-10)
    # and its parameter gradient is the autograd one
    p = next(e.parameters())
    (g1,) = torch.autograd.grad(got, p)
    (g2,) = torch.autograd.grad(total.mean(), p)
    assert torch.allclose(g1, g2, rtol=1e-8, atol=1e-10)


def test_interior_loss_margin_validation():
    from scorematch.energies import ImageFoE
    from scorematch import score_matching_loss

    with pytest.raises(ValueError):
        score_matching_loss(ImageFoE(2, 3, whitening_size=3), torch.rand(1, 1, 8, 8), margin=4)


def test_whitening_sigma_is_used_and_saved(tmp_path):
    from scorematch.energies.foe import laplacian_whitening_kernel
    from scorematch.serialization import load

    prior = train_image_foe(_images(), FoERecipe(n_experts=2, kernel_size=3, whitening_size=5, whitening_sigma=0.5,
                                                   patch_size=12, n_patches=20, steps=1, space="whitened"),
                            holdout=None, run_dir=tmp_path)
    expected = 255 * laplacian_whitening_kernel(5, sigma=0.5)
    assert torch.allclose(prior.whitening, expected, atol=1e-4)
    again = load(tmp_path / "prior.safetensors")
    x = torch.rand(1, 1, 16, 16)
    assert again.whitening_sigma == 0.5
    assert torch.allclose(again.energy(x), prior.energy(x))
