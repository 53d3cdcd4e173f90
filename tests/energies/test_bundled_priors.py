"""The bundled priors (RSM FoE 5x5x24 and 8x8x64, the deep energy): listed by ``scorematch models``, usable as
``--model NAME``."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from scorematch.cli import main
from scorematch.datasets import data_dir, read_image
from scorematch.energies import ImageFoE
from scorematch.pretrained import available, load_pretrained
from scorematch.prior import DenoisePreset, Presets, TaskPreset, load_prior
from scorematch.serialization import load_info
from scorematch.tasks import MAP, Tweedie
from scorematch.tasks.solvers import resolve as resolve_solver


@pytest.mark.parametrize("name, k, m", [("foe_5x5x24", 5, 24), ("foe_8x8x64", 8, 64)])
def test_bundled_foe_is_an_image_prior_with_its_recipe_and_weights(name, k, m):
    prior = load_pretrained(name)
    assert isinstance(prior, ImageFoE) and prior.kernel_size == k and prior.n_experts == m
    extra = {m_["name"]: m_ for m_ in available()}[name]
    assert extra["card"] is not None and extra["energy"] == "ImageFoE"
    info = load_info(extra["path"])["extra"]
    assert info["recipe"]["kernel_size"] == k and info["recipe"]["n_experts"] == m
    weights = {round(entry["sigma"] * 256): entry["weight"] for entry in info["presets"]["denoise"]}
    assert set(weights) == {1, 5, 15, 25}
    presets = load_prior(name).presets
    assert set(presets.denoise) == {lv / 256 for lv in (1, 5, 15, 25)}
    assert presets.denoising(5 / 256).weight == weights[5]


def test_models_cli_lists_the_8x8x64(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "foe_8x8x64" in out and "foe_5x5x24" in out


def test_denoise_cli_with_the_bundled_8x8x64(tmp_path, capsys):
    im = read_image(data_dir() / "set12" / "house.png", dtype=torch.float64)[96:144, 96:144]  # (48, 48)
    noisy = im.numpy() + (5 / 256) * np.random.default_rng(0).standard_normal(im.shape)
    np.save(tmp_path / "noisy.npy", noisy)
    np.save(tmp_path / "clean.npy", im.numpy())
    rc = main(["denoise", str(tmp_path / "noisy.npy"), "-o", str(tmp_path / "out.npy"), "--sigma", "5/256",
               "--model", "foe_8x8x64", "--reference", str(tmp_path / "clean.npy"), "--iters", "40"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["psnr"] > out["psnr_input"] + 1


def test_recipe_whitening_sigma_reaches_the_patches_and_the_prior():
    from scorematch.energies.foe import laplacian_whitening_kernel
    from scorematch.priors import FoERecipe, train_image_foe, training_patches

    ims = [read_image(data_dir() / "set12" / "house.png")[:64, :64]]
    base = dict(n_experts=2, kernel_size=3, patch_size=8, n_patches=16, steps=2, batch_size=8)
    a = training_patches(ims, FoERecipe.paper(**base))
    b = training_patches(ims, FoERecipe.paper(**base, whitening_sigma=0.5))
    assert not torch.allclose(a, b)
    for space in ("whitened", "pixel"):
        prior = train_image_foe(ims, FoERecipe.paper(**base, whitening_sigma=0.5, space=space), holdout=None)
        assert prior.whitening_sigma == 0.5
        assert torch.allclose(prior.whitening, 255 * laplacian_whitening_kernel(5, sigma=0.5))
    with pytest.raises(ValueError, match="whitening_sigma"):
        FoERecipe(whitening_sigma=0)


def test_bundled_deep_energy_denoises_by_its_conditioning_at_the_presets_its_benchmark_chose(tmp_path, capsys):
    """The file's denoising presets are the settings ``paper/benchmarks/deep_energy_map.py`` chose (its card, generated
    from that file, shows the figures), and ``scorematch denoise --model deep_energy`` runs them."""
    from scorematch.energies import DeepEnergy

    root = Path(__file__).resolve().parents[2]
    prior = load_pretrained("deep_energy")
    assert isinstance(prior, DeepEnergy)
    chosen = json.loads((root / "docs" / "results" / "benchmarks" / "deep_energy_map.json").read_text())
    assert chosen["model"] == "deep_energy"
    recorded = load_prior("deep_energy").presets.denoise
    for level, row in chosen["levels"].items():
        best = {k: row["best"][k] for k in ("level_ratio", "weight", "iterations", "start")}
        assert recorded[int(level) / 256] == DenoisePreset(**best), level
    im = read_image(data_dir() / "set12" / "house.png", dtype=torch.float64)[96:160, 96:160]
    noisy = im.numpy() + (15 / 256) * np.random.default_rng(0).standard_normal(im.shape)
    np.save(tmp_path / "noisy.npy", noisy)
    np.save(tmp_path / "clean.npy", im.numpy())
    assert main(["denoise", str(tmp_path / "noisy.npy"), "-o", str(tmp_path / "out.npy"), "--sigma", "15/256",
                 "--model", "deep_energy", "--reference", str(tmp_path / "clean.npy")]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["solver"]["method"] == "map" and "level" in out["solver"]  # its MAP denoiser
    assert out["psnr"] > out["psnr_input"] + 3


def test_task_presets_give_the_level_and_take_the_nearest_factor(tmp_path):
    from scorematch.energies import DeepEnergy
    from scorematch.serialization import save

    tasks = {"deblur": 8, "inpaint": 3, "superres_3x": 5, "superres_4x": 8}
    presets = Presets(tasks={k: TaskPreset(level=lv / 256) for k, lv in tasks.items()})
    path = save(DeepEnergy(2, 1), tmp_path / "m.safetensors", metadata={"presets": presets.to_json()})
    loaded = load_prior(path).presets
    assert loaded.task("deblur").level == 8 / 256 and loaded.task("inpaint").level == 3 / 256
    assert loaded.task("superres_2x").level == 5 / 256  # the nearest tuned factor, 3
    assert loaded.task("superres_8x").level == 8 / 256
    assert loaded.task("denoise") is None
    assert load_prior(save(DeepEnergy(2, 1), tmp_path / "bare.safetensors")).presets.task("deblur") is None


def test_the_bundled_deep_energy_recommends_a_tuned_level_per_inverse_problem():
    tasks = load_info(available_path("deep_energy"))["extra"]["presets"]["tasks"]
    assert set(tasks) == {"deblur", "inpaint", "superres_2x", "superres_3x", "superres_4x"}
    for task, entry in tasks.items():
        assert entry["level"] > 0 and load_prior("deep_energy").presets.task(task).level == entry["level"]


def available_path(name):
    return {m["name"]: m for m in available()}[name]["path"]


def test_denoising_presets_scale_the_level_with_sigma(tmp_path):
    from scorematch.energies import DeepEnergy
    from scorematch.serialization import save

    presets = Presets({5 / 256: DenoisePreset(level_ratio=0.5, weight=0.7),
                       25 / 256: DenoisePreset(level_ratio=0.25, weight=0.35, iterations=20, start="tweedie")})
    prior = load_prior(save(DeepEnergy(2, 1), tmp_path / "m.safetensors", metadata={"presets": presets.to_json()}))
    near = prior.presets.denoising(6 / 256)  # the nearest level's, 5
    assert (near.level_ratio * 6 / 256, near.weight, near.iterations, near.start) == (0.5 * 6 / 256, 0.7, None,
                                                                                      "smooth")
    assert resolve_solver(prior, "denoise", 6 / 256, None) == MAP(weight=0.7, level=0.5 * 6 / 256)
    assert resolve_solver(prior, "denoise", 20 / 256, None) == MAP(weight=0.35, level=0.25 * 20 / 256, iterations=20,
                                                                   start="tweedie")
    bare = load_prior(save(DeepEnergy(2, 1), tmp_path / "bare.safetensors"))
    assert bare.presets.denoising(0.1) is None
    assert resolve_solver(bare, "denoise", 0.1, None) == Tweedie()  # no MAP preset: Tweedie's estimate serves


def test_presets_round_trip_the_noise_target_read_version_1_and_refuse_bad_entries(tmp_path):
    from scorematch.energies import DeepEnergy
    from scorematch.prior import PresetsError
    from scorematch.serialization import ModelFileError, save

    presets = Presets({15 / 255: DenoisePreset(method="tweedie")}, noise_target=0.995)
    assert Presets.from_json(presets.to_json()) == presets
    old = {**Presets({15 / 255: DenoisePreset()}).to_json(), "version": 1}
    assert Presets.from_json(old).noise_target is None  # a file written before the noise target
    for bad, message in ((0.1, "noise_target"), ("1", "noise_target"), (True, "noise_target")):
        with pytest.raises(PresetsError, match=message):
            Presets.from_json({**presets.to_json(), "noise_target": bad})
    with pytest.raises(PresetsError, match="version 3"):
        Presets.from_json({**presets.to_json(), "version": 3})
    path = save(DeepEnergy(2, 1), tmp_path / "m.safetensors",
                metadata={"presets": {**presets.to_json(), "noise_target": 7.0}})
    with pytest.raises(ModelFileError, match="noise_target"):
        load_prior(path)
