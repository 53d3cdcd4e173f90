"""The estimator shoot-out (``scorematch_paper.experiments.shootout``) on a tiny configuration: rows, table, figure,
report, the cache, and the recipe's determinism."""

import json

import pytest
import torch

from scorematch import load, load_info
from scorematch_paper.experiments import shootout
from scorematch_paper.experiments.cache import Cache

TINY = shootout.ShootoutConfig(minutes=(0.01,), estimators=("dsm", "sm-curvature"), calibration_steps=2, channels=2,
                               depth=1, patch=12, batch=2, heldout_limit=1, heldout_crop=32)


def test_a_tiny_shootout_writes_rows_table_figure_and_report(tmp_path):
    table = shootout.run(tmp_path, config=TINY, progress=False)
    assert [r["estimator"] for r in table["rows"]] == ["dsm", "sm-curvature"]
    for r in table["rows"]:
        assert r["steps"] >= 1 and r["cpu_minutes"] >= 0 and set(r["heldout_psnr"]) == {"15", "25"}
        assert r["steps"] == max(1, round(60 * r["minutes"] / r["step_seconds"]))  # the budget over the step time
    assert set(table["reference"]) == {"deep_energy", "foe_5x5x24"}
    assert (tmp_path / "shootout.png").is_file()
    text = shootout.report(tmp_path)
    assert "| dsm | 0.01 |" in text and "| bundled foe_5x5x24 |" in text and "shootout.png" in text
    stamps = {p.name: json.loads(p.read_text())["stamp"] for p in (tmp_path / "rows").glob("*.json")}
    again = shootout.run(tmp_path, config=TINY, progress=False, cache=Cache())  # a new run reuses every row
    assert again["rows"] == table["rows"]
    assert stamps == {p.name: json.loads(p.read_text())["stamp"] for p in (tmp_path / "rows").glob("*.json")}


def test_the_recipe_is_deterministic(tmp_path):
    runs = [shootout.train_deep_energy(tmp_path / str(i), estimator="ssm", steps=2, arch=TINY.arch, patch=12, batch=2,
                                       progress=False) for i in range(2)]
    a, b = (load(tmp_path / str(i) / "model.safetensors") for i in range(2))
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert runs[0].steps == 2


def test_the_recipe_trains_a_colour_energy_on_the_colour_training_images(tmp_path):
    shootout.train_deep_energy(tmp_path, steps=1, arch=TINY.arch, patch=12, batch=2, data="colour", progress=False)
    model = load(tmp_path / "model.safetensors")
    assert model.in_channels == 3 and model.config()["in_channels"] == 3
    assert load_info(tmp_path / "model.safetensors")["extra"]["data"].startswith("bsds300-train")
    with pytest.raises(ValueError, match="data must be one of"):
        shootout.train_deep_energy(tmp_path / "x", data="mnist")


def test_config_refusals():
    with pytest.raises(ValueError, match="minutes"):
        shootout.ShootoutConfig(minutes=(0.0,))
    with pytest.raises(ValueError, match="estimators"):
        shootout.ShootoutConfig(estimators=("cd",))
    with pytest.raises(ValueError, match="estimator must be one of"):
        shootout.train_deep_energy("unused", estimator="nce")
