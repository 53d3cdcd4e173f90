"""Experiment caches: keyed on settings and on the code, ``force`` recomputes every level once."""

import json
import shutil

import pytest

from scorematch.cli import main
from scorematch.priors import FoERecipe
from scorematch_paper.experiments import cache as cache_mod
from scorematch_paper.experiments import restoration, speed
from scorematch_paper.experiments.cache import Cache, code_fingerprint, import_closure, provenance_rows, read_stamp

TINY = FoERecipe(**{**restoration.RECIPE.to_dict(), "n_experts": 2, "kernel_size": 3, "whitening_size": 3,
                    "steps": 2, "n_patches": 20, "patch_size": 8}).to_dict()


@pytest.fixture
def other_code(monkeypatch):
    """Make the code fingerprint differ, as after an edit of the package's source."""
    def change():
        monkeypatch.setattr(cache_mod, "code_fingerprint", lambda roots=None, files=None: "edited-source")
    return change


def test_fingerprint_follows_the_source(tmp_path):
    src = tmp_path / "pkg"
    shutil.copytree(cache_mod.PACKAGES[1] / "experiments", src, ignore=shutil.ignore_patterns("__pycache__"))
    before = code_fingerprint.__wrapped__((src,))
    assert code_fingerprint.__wrapped__((src,)) == before
    (src / "cache.py").write_text((src / "cache.py").read_text() + "\n# an edit\n")
    assert code_fingerprint.__wrapped__((src,)) != before
    (src / "notes.txt").write_text("not code")
    assert code_fingerprint.__wrapped__((src,)) == code_fingerprint.__wrapped__((src,))


def test_the_fingerprint_covers_the_library_and_the_research_package():
    assert [p.name for p in cache_mod.PACKAGES] == ["scorematch", "scorematch_paper"]
    assert Cache().code == code_fingerprint() != code_fingerprint.__wrapped__(cache_mod.PACKAGES[1:])


def test_a_scoped_fingerprint_follows_the_imported_modules_only(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .other import x\n")
    (pkg / "sub" / "__init__.py").write_text("from ..other import x\n")  # not used by a's import of sub.b
    (pkg / "sub" / "b.py").write_text("from pkg.c import f\n")
    (pkg / "a.py").write_text("def g():\n    from .sub.b import f\n    from . import d\n")
    for name in ("c", "d", "other"):
        (pkg / f"{name}.py").write_text("x = f = 1\n")
    files = import_closure("pkg.a", roots=(pkg,))
    assert files == ("pkg/a.py", "pkg/c.py", "pkg/d.py", "pkg/sub/b.py")
    before = code_fingerprint.__wrapped__((pkg,), files)
    (pkg / "other.py").write_text("x = 2\n")  # outside the closure
    assert code_fingerprint.__wrapped__((pkg,), files) == before
    (pkg / "c.py").write_text("x = f = 2\n")
    assert code_fingerprint.__wrapped__((pkg,), files) != before
    with pytest.raises(ValueError, match="not modules"):
        import_closure("pkg.missing", roots=(pkg,))


def test_the_shoot_out_rows_are_keyed_on_their_own_code():
    from scorematch_paper.experiments import shootout

    files = import_closure("scorematch_paper.experiments.shootout.units")
    assert {"scorematch/energies/deep.py", "scorematch_paper/experiments/shootout/recipe.py",
            "scorematch/estimators/noise_conditional.py", "scorematch/tasks/denoise.py", "scorematch/train/fit.py",
            "scorematch_paper/experiments/shootout/timed.py"} <= set(files)
    assert not {f for f in files if f.startswith(("scorematch/cli/", "scorematch_paper/cli.py",
                                                  "scorematch_paper/experiments/beyond/")) or f.endswith(".safetensors")}
    for outside in ("config", "compute", "figures", "summaries", "report"):  # grids, table and figures: not the units
        assert f"scorematch_paper/experiments/shootout/{outside}.py" not in files
    scoped = shootout.rows_cache(Cache(force=True, run="r"))
    assert (scoped.force, scoped.run, scoped.scope) == (True, "r", files)
    assert scoped.code == code_fingerprint(files=files) != Cache().code
    scoped.check_code()
    training = import_closure("scorematch_paper.experiments.shootout.timed")  # outlives edits to the scoring
    assert set(training) < set(files) and "scorematch/tasks/denoise.py" not in training


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
    assert "matplotlib is not installed (a dependency of scorematch-paper); install it with: pip install " \
        "'matplotlib>=3.7'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
