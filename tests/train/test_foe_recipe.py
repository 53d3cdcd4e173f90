"""The FoE training recipe (scorematch.priors): initial filter norms, dequantization, validation."""

import pytest
import torch

from scorematch.priors import FoERecipe, train_image_foe, training_patches


@pytest.mark.parametrize("field,value", [("init_norm", -1.0), ("space", "fourier"), ("lam", -1.0),
                                         ("whitening_sigma", 0.0), ("estimator", "nce")])
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


def test_train_with_free_norms_from_a_given_initial_norm():
    logged = []
    prior = train_image_foe(_images(), FoERecipe(n_experts=4, kernel_size=3, whitening_size=3, patch_size=8,
                                                   n_patches=50, steps=3, space="pixel", init_norm=0.5,
                                                   normalize_filters=False, dequantize=True), holdout=None,
                            callback=lambda step, loss, energy: logged.append((step, energy)))
    norms = prior.filters.flatten(1).norm(dim=1)
    assert torch.isfinite(norms).all() and (norms - 0.5).abs().max() < 0.2  # three small Adam steps from 0.5
    assert [step for step, _ in logged] == [1, 2, 3] and all(energy is prior for _, energy in logged)


def test_whitening_sigma_is_used_and_saved(tmp_path):
    from scorematch.energies.foe import laplacian_whitening_kernel
    from scorematch.serialization import load

    prior = train_image_foe(_images(), FoERecipe.paper(n_experts=2, kernel_size=3, whitening_size=5, whitening_sigma=0.5,
                                                   patch_size=12, n_patches=20, steps=1, space="whitened"),
                            holdout=None, run_dir=tmp_path)
    expected = 255 * laplacian_whitening_kernel(5, sigma=0.5)
    assert torch.allclose(prior.whitening, expected, atol=1e-4)
    again = load(tmp_path / "prior.safetensors")
    x = torch.rand(1, 1, 16, 16)
    assert again.whitening_sigma == 0.5
    assert torch.allclose(again.energy(x), prior.energy(x))
