"""The estimator shoot-out (``scorematch_paper.experiments.shootout``) on a tiny configuration: the choices, the rows
and seeds, the table, figures and report, the cache, the CPU-time budget and the recipe's determinism."""

import json

import pytest
import torch

from scorematch import load, load_info
from scorematch_paper.experiments import shootout
from scorematch_paper.experiments.cache import Cache
from scorematch_paper.experiments.shootout import summaries, timed
from scorematch_paper.experiments.shootout.settings import estimator_loss

# (budgets far above one reading of the clock, 5 steps, so that no run overshoots a whole point)
TINY = shootout.ShootoutConfig(architectures=(("deep", 2, 2, 3),), estimators=("dsm", "sm-curvature"), minutes=0.02,
                               long_minutes=0.03, long_rows=1, point_minutes=0.01, choice_minutes=0.01,
                               lrs=(1e-3, 3e-3), lams=(1e-2,), seeds=(0, 1), patch=12, batch=2, tune_crop=16,
                               heldout_limit=1, heldout_crop=32, loss_patch=12, loss_patches=1)
ARCH = TINY.arch("deep")


def test_a_tiny_shootout_writes_choices_rows_table_figures_and_report(tmp_path):
    table = shootout.run(tmp_path, config=TINY, progress=False)
    choices = table["choices"]["deep"]
    assert set(choices["dsm"]["lr_grid"]) == {"0.001", "0.003"} and choices["dsm"]["lr"] in (1e-3, 3e-3)
    assert choices["sm-curvature"]["lam"] == 1e-2 and set(choices["sm-curvature"]["lam_grid"]) == {"0.01"}
    rows = {(r["estimator"], r["lam"], r["seed"]): r for r in table["rows"]}
    assert set(rows) == {(e, lam, s) for e, lam in (("dsm", 0.0), ("sm-curvature", 0.0), ("sm-curvature", 0.01))
                         for s in (0, 1)}
    assert sum(r["minutes"] == TINY.long_minutes for r in rows.values()) == 2 * 2  # the best one, the regularized one
    for r in rows.values():
        assert [p["minutes"] for p in r["points"]][-1] == r["minutes"] and r["diverged"] is None
        last = r["points"][-1]
        assert abs(last["cpu_minutes"] - r["minutes"]) < 0.002  # (the budget is checked exactly below; recorded to 0.1 s)
        assert set(last["map"]) == set(last["exact_loss"]) == {"15", "25"}
    assert {g["seeds"] == [0, 1] for g in table["groups"]} == {True}
    assert (tmp_path / "shootout.png").is_file() and (tmp_path / "shootout_loss.png").is_file()
    text = shootout.report(tmp_path)
    assert "| deep | sm-curvature | 0.01 |" in text and "Bundled `foe_5x5x24`" in text and "shootout_loss.png" in text
    stamps = {p.name: json.loads(p.read_text())["stamp"] for p in (tmp_path / "rows").glob("*.json")}
    again = shootout.run(tmp_path, config=TINY, progress=False, cache=Cache())  # a new run reuses every unit
    assert again["rows"] == table["rows"]
    assert stamps == {p.name: json.loads(p.read_text())["stamp"] for p in (tmp_path / "rows").glob("*.json")}


def test_a_run_stops_on_its_cpu_time_and_continues_to_a_larger_budget(tmp_path):
    kw = {"point_minutes": 0.01, "arch": ARCH, "estimator": "dsm", "lam": 0.0, "lr": 1e-3, "seed": 0, "patch": 12,
          "batch": 2}
    first = timed.train_for(tmp_path, minutes=0.02, **kw)
    assert [p["minutes"] for p in first["points"]] == [0.01, 0.02]
    assert all(p["cpu_seconds"] >= 60 * p["minutes"] - 0.05 for p in first["points"])  # (recorded to 0.1 s)
    seconds = [t for _, t, _ in first["clock"]]
    assert seconds == sorted(seconds) and 0.02 * 60 <= seconds[-1]
    assert timed.train_for(tmp_path, minutes=0.02, **kw) == first  # done: nothing trains again
    longer = timed.train_for(tmp_path, minutes=0.04, **kw)
    assert [p["minutes"] for p in longer["points"]] == [0.01, 0.02, 0.03, 0.04]
    # fit's last checkpoint: the last multiple of CHECKPOINT_EVERY before the step the budget stopped (the clock
    # stops the run before fit writes that step's checkpoint); what ran after it was redone
    checkpoint = (first["clock"][-1][0] - 1) // timed.CHECKPOINT_EVERY * timed.CHECKPOINT_EVERY
    kept = [p for p in first["points"] if p["step"] <= checkpoint]
    assert kept == [p for p in longer["points"] if p["step"] <= checkpoint]
    assert [t for _, t, _ in longer["clock"]] == sorted(t for _, t, _ in longer["clock"])


def test_a_diverging_run_is_recorded_and_not_retrained(tmp_path, monkeypatch):
    real = timed.setup

    def nan_loss(**kw):
        energy, stream, _, metadata = real(**kw)
        return energy, stream, lambda e, x: e.energy(x).sum() * float("nan"), metadata

    monkeypatch.setattr(timed, "setup", nan_loss)
    kw = {"point_minutes": 0.01, "arch": ARCH, "estimator": "dsm", "lam": 0.0, "lr": 1e-3, "seed": 0, "patch": 12,
          "batch": 2}
    out = timed.train_for(tmp_path, minutes=0.02, **kw)
    assert out["diverged"]["step"] == 0 and out["points"] == []
    monkeypatch.setattr(timed, "setup", lambda **kw: pytest.fail("a diverged run trained again"))
    assert timed.train_for(tmp_path, minutes=0.02, **kw)["diverged"] == out["diverged"]


def test_groups_give_mean_and_spread_over_seeds_and_name_divergences():
    def row(seed, psnr, diverged=None):
        points = [] if diverged else [{"minutes": 15.0, "cpu_minutes": 15.1, "step": 9,
                                       "tweedie": {"15": psnr, "25": psnr - 3}}]
        return {"architecture": "deep", "estimator": "ssm", "lam": 0.0, "lr": 1e-3, "seed": seed, "minutes": 15.0,
                "diverged": diverged, "points": points, "loss_curve": []}

    (g,) = summaries.groups([row(0, 30.0), row(1, 31.0), row(2, 0, {"step": 5, "cpu_seconds": 60.0, "what": "nan"})],
                            15.0)
    at = g["at"]["15"]
    assert at["reached"] == 2 and at["tweedie"]["15"]["mean"] == 30.5
    assert at["tweedie"]["15"]["std"] == pytest.approx(0.7071, abs=1e-4) and at["map"]["15"] is None
    cells = summaries.table_cells([g])[0]
    assert cells[5] == "2/3" and cells[-1] == "seed 2 at 1.0 min" and cells[7] == "30.50 ± 0.71"


def test_the_recipe_is_deterministic(tmp_path):
    runs = [shootout.train_deep_energy(tmp_path / str(i), estimator="ssm", steps=2, arch=ARCH, patch=12, batch=2,
                                       progress=False) for i in range(2)]
    a, b = (load(tmp_path / str(i) / "model.safetensors") for i in range(2))
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert runs[0].steps == 2


def test_the_recipe_trains_a_colour_energy_on_the_colour_training_images(tmp_path):
    shootout.train_deep_energy(tmp_path, steps=1, arch=ARCH, patch=12, batch=2, data="colour", progress=False)
    model = load(tmp_path / "model.safetensors")
    assert model.in_channels == 3 and model.config()["in_channels"] == 3
    assert load_info(tmp_path / "model.safetensors")["extra"]["data"].startswith("bsds300-train")
    with pytest.raises(ValueError, match="data must be one of"):
        shootout.train_deep_energy(tmp_path / "x", data="mnist")


def test_every_estimator_trains_a_step(tmp_path):
    for est in shootout.ESTIMATORS:
        for lam in (0.0, 1e-2) if est in shootout.REGULARIZED else (0.0,):
            out = timed.train_for(tmp_path / f"{est}{lam}", minutes=0.001, point_minutes=0.001, arch=ARCH,
                                  estimator=est, lam=lam, lr=1e-3, seed=0, patch=12, batch=2)
            assert out["diverged"] is None and len(out["points"]) == 1


def test_config_and_estimator_refusals():
    with pytest.raises(ValueError, match="minutes"):
        shootout.ShootoutConfig(minutes=0.0)
    with pytest.raises(ValueError, match="estimators"):
        shootout.ShootoutConfig(estimators=("nce",))
    with pytest.raises(ValueError, match="budgets must grow"):
        shootout.ShootoutConfig(minutes=90.0)
    with pytest.raises(ValueError, match="long_architectures"):
        shootout.ShootoutConfig(long_architectures=("unet",))
    with pytest.raises(ValueError, match="estimator must be one of"):
        estimator_loss("nce")
    with pytest.raises(ValueError, match="curvature penalty"):
        estimator_loss("dsm", 0.1)
