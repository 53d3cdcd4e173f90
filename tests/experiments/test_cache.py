"""Experiment caches: keyed on settings and on the code, ``force`` recomputes every level once."""

import json
import shutil

import pytest

from scorematch.cli import main
from scorematch.experiments import cache as cache_mod
from scorematch.experiments import restoration, speed
from scorematch.experiments.cache import Cache, code_fingerprint, provenance_rows, read_stamp
from scorematch.priors import FoERecipe

TINY = FoERecipe(**{**restoration.RECIPE.to_dict(), "n_experts": 2, "kernel_size": 3, "whitening_size": 3,
                    "steps": 2, "n_patches": 20, "patch_size": 8}).to_dict()


@pytest.fixture
def other_code(monkeypatch):
    """Make the code fingerprint differ, as after an edit of the package's source."""
    def change():
        monkeypatch.setattr(cache_mod, "code_fingerprint", lambda root=None: "edited-source")
    return change


def test_fingerprint_follows_the_source(tmp_path):
    src = tmp_path / "pkg"
    shutil.copytree(cache_mod._PACKAGE / "experiments", src, ignore=shutil.ignore_patterns("__pycache__"))
    before = code_fingerprint.__wrapped__(src)
    assert code_fingerprint.__wrapped__(src) == before
    (src / "cache.py").write_text((src / "cache.py").read_text() + "\n# an edit\n")
    assert code_fingerprint.__wrapped__(src) != before
    (src / "notes.txt").write_text("not code")
    assert code_fingerprint.__wrapped__(src) == code_fingerprint.__wrapped__(src)


def test_json_cache_hits_and_misses(tmp_path, other_code):
    calls = []

    def compute(v):
        calls.append(v)
        return v

    c = Cache()
    assert c.json(tmp_path / "r.json", {"a": 1}, lambda: compute(1)) == 1
    assert c.json(tmp_path / "r.json", {"a": 1}, lambda: compute(2)) == 1  # reused
    assert c.json(tmp_path / "r.json", {"a": 2}, lambda: compute(3)) == 3  # a setting changed
    assert Cache(force=True).json(tmp_path / "r.json", {"a": 2}, lambda: compute(4)) == 4  # another run, forced
    forced = Cache(force=True)
    assert forced.json(tmp_path / "r.json", {"a": 2}, lambda: compute(5)) == 5
    assert forced.json(tmp_path / "r.json", {"a": 2}, lambda: compute(6)) == 5  # computed by this forced run
    other_code()
    assert Cache().json(tmp_path / "r.json", {"a": 2}, lambda: compute(7)) == 7  # the code changed
    assert calls == [1, 3, 4, 5, 7]
    stamp = read_stamp(tmp_path / "r.json")
    assert stamp["fingerprint"] == "edited-source" and {"commit", "dirty", "computed", "run"} <= set(stamp)


def test_restoration_prior_is_retrained_when_code_or_recipe_changes(tmp_path, other_code):
    path = tmp_path / "prior.safetensors"
    c = Cache()
    restoration.models.train_prior(path, TINY, c, progress=False)
    first = read_stamp(path)
    restoration.models.train_prior(path, TINY, c, progress=False)
    assert read_stamp(path) == first  # reused
    restoration.models.train_prior(path, {**TINY, "steps": 3}, c, progress=False)
    assert read_stamp(path)["key"] != first["key"]  # a recipe change retrains
    forced = Cache(force=True)
    restoration.models.train_prior(path, {**TINY, "steps": 3}, forced, progress=False)
    assert read_stamp(path)["run"] == forced.run
    other_code()
    with pytest.raises(RuntimeError, match="source changed during this run"):
        c.check_code()  # what a worker process of the old run does before any work
    restoration.models.train_prior(path, {**TINY, "steps": 3}, Cache(), progress=False)
    assert read_stamp(path)["fingerprint"] == "edited-source"


def test_speed_stage_recomputes_after_a_code_change(tmp_path, other_code):
    speed.run(tmp_path, quick=True)
    first = read_stamp(tmp_path / "cost_growth.json")
    speed.run(tmp_path, quick=True)
    assert read_stamp(tmp_path / "cost_growth.json") == first
    other_code()
    speed.run(tmp_path, quick=True)
    assert read_stamp(tmp_path / "cost_growth.json")["fingerprint"] == "edited-source"


def test_reproduce_force_reaches_the_inner_caches(tmp_path, capsys):
    assert main(["reproduce", "speed", "--quick", "--out", str(tmp_path)]) == 0
    first = read_stamp(tmp_path / "speed" / "cost_growth.json")
    assert main(["reproduce", "speed", "--quick", "--out", str(tmp_path)]) == 0
    assert "cached" in capsys.readouterr().err
    assert read_stamp(tmp_path / "speed" / "cost_growth.json") == first
    assert main(["reproduce", "speed", "--quick", "--out", str(tmp_path), "--force"]) == 0
    state = json.loads((tmp_path / "state.json").read_text())
    assert read_stamp(tmp_path / "speed" / "cost_growth.json")["run"] == state["run"] != first["run"]
    report = (tmp_path / "report.md").read_text()
    assert "code fingerprint" in report and "| speed/: cost_growth.json | computed in this run |" in report


def test_provenance_names_the_commit_of_reused_results(tmp_path):
    c = Cache()
    c.json(tmp_path / "a.json", {}, lambda: 1)
    (row,) = provenance_rows(tmp_path, run="another-run")
    assert row[0] == "a.json" and row[1].startswith("reused from commit")
    assert provenance_rows(tmp_path, run=c.run) == [("a.json", "computed in this run")]


def test_reproduce_refuses_cuda_for_cpu_only_stages(tmp_path, capsys):
    assert main(["reproduce", "restoration", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "restoration stage(s) run on the CPU only" in capsys.readouterr().err


def test_reproduce_without_matplotlib_stops_before_any_work(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    assert main(["reproduce", "speed", "--quick", "--out", str(tmp_path / "out")]) == 2
    assert "pip install 'scorematch[experiments]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
