"""The MNIST experiment (Figure 2a-c) in its --quick form: files, reloadable models, resuming, figures."""

from __future__ import annotations

import csv
import json
import math
import os

import pytest
import torch

from scorematch import ProductOfExperts, load, load_info
from scorematch_paper.experiments import mnist


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mnist")
    results = mnist.run(out, quick=True, progress=False)
    return out, results


def test_quick_run_writes_results_models_and_figures(quick_run):
    out, results = quick_run
    cfg = mnist.MnistConfig.quick()
    for name in ("config.json", "results.json", "loglik.csv", "loglik.json", "classification.csv",
                 "classification.json", "long.csv", "long.json", "filters.png", "loglik.png", "classification.png",
                 "training.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "results.json").read_text())["free"] == results["free"]
    with open(out / "loglik.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(cfg.lambdas) * len(cfg.parameterizations)
    with open(out / "classification.csv") as f:
        clf = list(csv.DictReader(f))
    assert [r["features"] for r in clf].count("raw") == 1
    assert all(len(r["errors"].split()) == cfg.n_draws for r in clf)
    # The convergence check: one longer-trained free model per long lambda, with its own curve.
    assert [r["lam"] for r in results["free_long"]["rows"]] == list(cfg.long_lambdas)
    for lam in cfg.long_lambdas:
        info = load_info(out / "models" / f"free_lam{lam:g}_long.safetensors")
        assert info["extra"]["train"]["steps"] == cfg.long_steps and info["extra"]["lam"] == lam
        with open(out / "training" / f"free_lam{lam:g}_long.csv") as f:
            assert int(float(list(csv.DictReader(f))[-1]["step"])) == cfg.long_steps


def test_saved_models_reload_with_their_lambda_and_reproduce_the_likelihood(quick_run):
    out, _ = quick_run
    cfg = mnist.MnistConfig.quick()
    data = mnist.load_data(n_train=cfg.n_train, n_test=cfg.n_test, seed=cfg.seed)
    rows = json.loads((out / "loglik.json").read_text())["result"]
    for row in rows:
        path = out / "models" / f"{row['parameterization']}_lam{row['lam']:g}.safetensors"
        info = load_info(path)
        assert info["extra"]["lam"] == row["lam"] and info["extra"]["parameterization"] == row["parameterization"]
        assert info["extra"]["train"]["steps"] == cfg.steps
        assert info["config"]["learn_alpha"] is False
        assert info["config"]["normalize_filters"] is (row["parameterization"] == "unit")
        model = load(path, expect=ProductOfExperts)
        assert mnist.average_log_likelihood(model, data.x_test) == pytest.approx(row["test_loglik"], rel=1e-9)
        assert row["test_loglik_per_pixel"] == pytest.approx(row["test_loglik"] / 196)
        if row["parameterization"] == "unit":
            norms = model.filters.detach().norm(dim=1)
            assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)


def test_regularization_helps_even_in_the_quick_run(quick_run):
    """Short training already shows the paper's effect: lambda = 0.01 beats lambda = 0 on test likelihood
    (both parameterizations) and the free-filter features classify better."""
    out, _ = quick_run
    ll = {(r["parameterization"], r["lam"]): r["test_loglik"] for r in mnist.summaries.loglik_rows(out)}
    for param in ("free", "unit"):
        assert ll[(param, 0.01)] > ll[(param, 0.0)] + 50
    err = {(r["features"], r["lam"]): r["error_mean"] for r in mnist.summaries.classification_rows(out)}
    assert err[("free", 0.01)] < err[("free", 0.0)] - 0.1


def test_second_run_reuses_every_stage(quick_run):
    out, results = quick_run
    stamps = {p: p.stat().st_mtime_ns for p in (out / "models").iterdir()}
    ll_stamp = (out / "loglik.json").stat().st_mtime_ns
    again = mnist.run(out, quick=True, progress=False)
    assert {p: p.stat().st_mtime_ns for p in (out / "models").iterdir()} == stamps
    assert (out / "loglik.json").stat().st_mtime_ns == ll_stamp
    assert again["free"] == results["free"] and again["seconds"]["training"] == {}


def test_plot_summary_and_report_read_only_the_result_files(quick_run, tmp_path):
    out, results = quick_run
    for png in out.glob("*.png"):
        os.remove(png)
    written = mnist.plot(out)
    assert {p.name for p in written} == {"filters.png", "loglik.png", "classification.png", "training.png"}
    s = mnist.summary(out)
    assert s["free"]["best_loglik_lam"] in mnist.MnistConfig.quick().lambdas
    assert 0 < s["raw_pixels_error"]["mean"] < 0.5
    md = mnist.report(out)
    assert f"]({out.name}/loglik.png)" in md and "| raw pixels |" in md and "Convergence check" in md
    assert md.count("\n| free |") == len(mnist.MnistConfig.quick().lambdas)


def test_config_rejects_bad_settings():
    with pytest.raises(ValueError):
        mnist.MnistConfig(lambdas=(-1.0,))
    with pytest.raises(ValueError):
        mnist.MnistConfig(parameterizations=("tied",))
    with pytest.raises(ValueError):
        mnist.MnistConfig(n_test=20000)


def test_expert_features_are_g_of_filter_responses():
    model = ProductOfExperts(4, 4, normalize_filters=False, learn_alpha=False,
                             generator=torch.Generator().manual_seed(0))
    x = torch.rand(3, 4, generator=torch.Generator().manual_seed(1))
    z = x @ model.filters.detach().T
    expected = torch.log1p(0.5 * (model.c * z) ** 2)
    assert torch.allclose(torch.as_tensor(mnist.expert_features(model, x)), expected.double(), atol=1e-6)
    assert math.isclose(float(mnist.expert_features(model, x).sum(1)[0]), float(model.energy(x[:1]).detach()), rel_tol=1e-5)


def test_sweep_over_two_worker_processes_gives_the_serial_models(quick_run, tmp_path):
    out, _ = quick_run
    cfg = mnist.MnistConfig.quick()
    two = tmp_path / "two"
    mnist.run(two, quick=True, progress=False, jobs=2)
    names = sorted(p.name for p in (out / "models").glob("*.safetensors"))
    assert names == sorted(p.name for p in (two / "models").glob("*.safetensors"))
    assert len(names) >= len(cfg.lambdas) * len(cfg.parameterizations)
    for name in names:
        a, b = load(out / "models" / name).state_dict(), load(two / "models" / name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
