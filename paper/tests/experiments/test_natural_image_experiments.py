"""Smoke tests of the natural-image experiments (Figure 2d sweep, CD-1 FoE) on tiny settings."""

import dataclasses
import json

import pytest
import torch

import scorematch
from scorematch.energies import FieldOfExperts
from scorematch_paper.experiments import cd_foe
from scorematch_paper.experiments import patches as P


def test_patch_sweep_writes_results_models_and_report(tmp_path):
    cond = dataclasses.replace(P.CONDITIONS[0], n_train=300, steps=2)
    cond_nf = dataclasses.replace(P.CONDITIONS[0], name="normalized_filters", normalize_filters=True, n_train=300,
                                  steps=2)
    table = P.run(tmp_path, quick=True, conditions=(cond, cond_nf), lambdas=(0.0, 1e-3), ml_reference=True,
                  cd=False)
    assert set(table) == {"baseline", "normalized_filters", "selected_by_objective"}
    assert set(table["baseline"]["ll"]) == {"0", "0.001"} and "ml_ll" in table["baseline"]
    rows = (tmp_path / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 6  # 2 conditions x (2 lambdas + ML)
    run = json.loads(next((tmp_path / "runs").glob("baseline__lam0.001*.json")).read_text())
    assert run["curve"] and run["settings"]["n_train"] == 300
    model = scorematch.load(next((tmp_path / "runs").glob("baseline__lam0.001*.safetensors")))
    # the saved model reproduces the reported likelihood on the same test patches
    data = P.prepare_data(cond, n_test=P.conditions.QUICK_N_TEST, limit=60)
    assert float(model.log_likelihood(data["test"]).mean().detach()) == pytest.approx(run["ll"], rel=1e-3)
    norms = scorematch.load(next((tmp_path / "runs").glob("normalized_filters__lam0__*.safetensors"))).filters.norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)
    for fig in ("fig2d_loglik_vs_lambda.png", "fig2d_training_length.png", "fig2d_filters_baseline_best.png"):
        assert (tmp_path / fig).is_file()
    md = P.report(tmp_path)
    assert "| baseline |" in md and f"{tmp_path.name}/fig2d_loglik_vs_lambda.png" in md
    # resumable: a second run trains nothing new
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.json")}
    P.run(tmp_path, quick=True, conditions=(cond, cond_nf), lambdas=(0.0, 1e-3), ml_reference=True, cd=False)
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.json")}


def test_train_cd_foe_saves_a_loadable_whitened_domain_model(tmp_path):
    path = cd_foe.train_cd_foe(tmp_path, quick=True, steps=4, n_leapfrog=2, n_images=4, batch_size=8)
    foe = scorematch.load(path, expect=FieldOfExperts)
    assert foe.filters.shape == (24, 5, 5)
    extra = scorematch.load_info(path)["extra"]
    assert extra["settings"]["scale"] == 255.0 and extra["settings"]["whitening"]["kind"] == "laplacian"
    assert 0.0 <= extra["final_acceptance"] <= 1.0
    # same settings: reused, not retrained
    mtime = path.stat().st_mtime_ns
    assert cd_foe.train_cd_foe(tmp_path, quick=True, steps=4, n_leapfrog=2, n_images=4, batch_size=8) == path
    assert path.stat().st_mtime_ns == mtime
    with pytest.raises(TypeError, match="unknown settings"):
        cd_foe.train_cd_foe(tmp_path, quick=True, bogus=1)


def test_bundled_cd_foe_is_a_whitened_prior():
    from scorematch.pretrained import load_pretrained

    foe = load_pretrained("cd_foe_5x5x24")
    prior = foe.whitened(scorematch.laplacian_whitening_kernel())
    img = 255 * scorematch.datasets.read_image(scorematch.datasets.data_dir() / "set12/house.png")[None, None]
    noisy = img + 10 * torch.randn(img.shape, generator=torch.Generator().manual_seed(0))
    assert float(prior.energy(img).detach()) < float(prior.energy(noisy).detach())  # clean images are more probable


def test_selection_uses_the_training_objective_only():
    runs = [
        {"condition": "baseline", "estimator": "sm", "lambda": 0.0, "final_loss": -5.0, "ll": 1.0},
        {"condition": "random_init", "estimator": "sm", "lambda": 0.0, "final_loss": -9.0, "ll": -50.0},
        {"condition": "baseline", "estimator": "sm", "lambda": 1e-5, "final_loss": -3.0, "ll": 9.0},
        {"condition": "continuation", "estimator": "sm", "lambda": 1e-5, "final_loss": float("nan"), "ll": 99.0},
        {"condition": "dequantized_train", "estimator": "sm", "lambda": 1e-5, "final_loss": -99.0, "ll": 0.0},
        {"condition": "baseline", "estimator": "ml", "lambda": 0.0, "final_loss": -99.0, "ll": 100.0},
    ]
    sel = P.selected_by_objective(runs)
    assert [(r["condition"], r["lambda"]) for r in sel] == [("random_init", 0.0), ("baseline", 1e-5)]
