"""The bundled colour prior through the restoration solvers: denoising gains PSNR, every operator keeps 3 channels."""

import pytest
import torch

import scorematch
from scorematch.datasets import data_dir, read_image
from scorematch.pretrained import load_pretrained
from scorematch.prior import DEFAULT_PRIORS, load_prior
from scorematch.tasks import MAP, Blur, Denoising, Inpaint, denoise, psnr, restore, superresolve

#: The bundled colour FoE (``scorematch_paper.experiments.restoration.colour_model``).
COLOUR_PRIOR = "foe_colour_5x5x24"


@pytest.fixture(scope="module")
def prior():
    p = load_pretrained(COLOUR_PRIOR).double()
    for q in p.parameters():
        q.requires_grad_(False)
    return p


@pytest.fixture(scope="module")
def clean():
    im = read_image(data_dir() / "castle" / "102061.jpg", colour=True, dtype=torch.float64)
    return im[:, 100:148, 200:248].reshape(1, 3, 48, 48)  # (1, 3, 48, 48)


def test_bundled_colour_prior_is_a_colour_foe(prior):
    assert isinstance(prior, scorematch.energies.ColourFoE) and prior.in_channels == 3
    assert set(load_prior(COLOUR_PRIOR).presets.denoise) >= {5 / 256, 15 / 256, 25 / 256}


@pytest.mark.parametrize("level", [5, 25])
def test_colour_denoise_improves_psnr(prior, clean, level):
    sigma = level / 256
    y = Denoising(sigma)(clean, generator=torch.Generator().manual_seed(level))
    weight = load_prior(COLOUR_PRIOR).presets.denoising(sigma).weight
    x = denoise(y, prior, sigma=sigma, solver=MAP(weight=weight, iterations=40))
    assert x.dtype == y.dtype and x.shape == y.shape
    assert psnr(x, clean) > psnr(y, clean) + 1.0


def test_colour_prior_through_every_operator_keeps_three_channels(prior, clean):
    blur = Blur(torch.ones(3, 3, dtype=torch.float64) / 9)
    assert restore(blur.A(clean), blur, prior, sigma=0.01, solver=MAP(weight=0.3, iterations=3)).shape == clean.shape
    mask = (torch.arange(48 * 48).reshape(48, 48) % 3 != 0).double()
    paint = Inpaint(mask)
    assert restore(paint.A(clean), paint, prior, sigma=0.0, solver=MAP(iterations=3)).shape == clean.shape
    small = clean[..., ::2, ::2]
    assert superresolve(small, prior, solver=MAP(iterations=3)).shape == (1, 3, 48, 48)


def test_colour_prior_refuses_grey_input(prior, clean):
    with pytest.raises(ValueError, match="takes colour .* the input is a grey image"):
        denoise(clean[:, :1], prior, sigma=0.02)
    with pytest.raises(ValueError, match="an image of 2 channels"):
        superresolve(clean[:, :2], prior)


def test_colour_card_quotes_the_beyond_stage_and_the_tuning_json():
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    card = scorematch.pretrained.resolve(COLOUR_PRIOR).with_suffix(".md").read_text()
    measured = json.loads((root / "docs" / "results" / "beyond" / "summary.json").read_text())["problems"]
    levels = [k for k in measured if k.startswith("colour_")]
    assert len(levels) == 3 and measured[levels[0]]["n_images"] == 20
    for key in levels:
        for value in measured[key]["means"].values():
            assert f"{value:.3f}" in card, key
        for c in measured[key]["comparisons"]:
            assert f"{c['diff']:+.3f} +- {c['std_of_mean']:.3f}" in card, (key, c["other"])
    for sigma, preset in load_prior(COLOUR_PRIOR).presets.denoise.items():
        assert f"{round(sigma * 256)}/256: {preset.weight:g}" in card


def test_colour_cards_quote_the_colour_deep_energy_tuning():
    """The colour FoE card and the run's README quote the colour deep energy, the default colour denoiser and colour
    BM3D on the colour tuning crops, as the tuning JSON has them; the default beat the colour-trained deep energy."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "docs" / "results" / "benchmarks"
    tuning = json.loads((root / "deep_energy_colour_map.json").read_text())
    assert tuning["colour"] and not tuning["dirty"]
    card = " ".join(scorematch.pretrained.resolve("foe_colour_5x5x24").with_suffix(".md").read_text().split())
    run = " ".join((root / "deep_energy_colour_run" / "README.md").read_text().split())
    for key in ("best", "opponent", "bm3d"):
        quoted = " / ".join(f"{e[key]['psnr'] if key == 'best' else e[key]:.3f}" for e in tuning["levels"].values())
        assert quoted in card and quoted in run, key
    assert all(e["opponent"] > e["best"]["psnr"] for e in tuning["levels"].values())
    assert DEFAULT_PRIORS[3] == "deep_energy"
