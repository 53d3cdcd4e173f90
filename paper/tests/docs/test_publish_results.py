"""A published ``scorematch reproduce`` stage carries the stamp of the code and model files that computed it, and
the results generator checks it for every file the stage published (paper/scripts/publish_results.py)."""

import importlib.util
import json
from pathlib import Path

import pytest

from scorematch_paper.experiments.cache import code_fingerprint

ROOT = Path(__file__).resolve().parents[3]
RESULTS = ROOT / "docs" / "results"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "paper" / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pr, br = _load("publish_results"), _load("build_results")


def _run(tmp_path: Path, fingerprint: str) -> Path:
    """A finished run of the speed stage (its stored cost_growth.json) whose code has ``fingerprint``."""
    run = tmp_path / "run"
    (run / "speed").mkdir(parents=True)
    stored = json.loads((RESULTS / "benchmarks" / "cost_growth.json").read_text())
    for key in ("stamp", "code", "models"):  # as the stage writes it: the stage's stamp, not the benchmark script's
        stored.pop(key, None)
    (run / "speed" / "cost_growth.json").write_text(json.dumps(stored))
    (run / "machine.json").write_text(json.dumps({"cpu_count": 2}))
    stamp = {"key": "k", "run": "r", "fingerprint": fingerprint, "commit": "0123456789abcdef", "dirty": False}
    (run / "state.json").write_text(json.dumps({"stages": {"speed": {
        "stamp": stamp, "done": True, "seconds": 1.0, "command": "scorematch reproduce speed", "finished": "now"}}}))
    return run


def test_a_published_stage_is_stamped_and_its_files_checked(tmp_path):
    to = tmp_path / "results"
    pr.publish(_run(tmp_path, code_fingerprint()), "speed", to)
    prov = json.loads((to / "benchmarks" / "speed_provenance.json").read_text())
    assert prov["published"] == ["cost_growth.json"]
    assert prov["stamp"]["code"]["modules"] == ["scorematch_paper.experiments.speed"]
    assert prov["stamp"]["models"] == {} and prov["stamp"]["commit"] == "0123456789abcdef"
    assert br._provenance(to, ["benchmarks/cost_growth.json"]) == ("", [])  # stamped, current: no line
    prov["stamp"]["code"]["fingerprint"] = "0" * 16
    (to / "benchmarks" / "speed_provenance.json").write_text(json.dumps(prov))
    line, reasons = br._provenance(to, ["benchmarks/cost_growth.json"])
    assert "**stale**: `benchmarks/cost_growth.json`: the code of scorematch_paper.experiments.speed changed" in line
    assert reasons


def test_a_file_the_stage_did_not_publish_stays_unstamped(tmp_path):
    to = tmp_path / "results"
    pr.publish(_run(tmp_path, code_fingerprint()), "speed", to)
    (to / "benchmarks" / "other.json").write_text(json.dumps({"commit": "abcdef0123"}))
    line, _ = br._provenance(to, ["benchmarks/other.json"])
    assert "unstamped" in line and "measured at commit abcdef0: `benchmarks/other.json`" in line


def test_a_run_at_other_code_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="ran at other code"):
        pr.publish(_run(tmp_path, "0" * 16), "speed", tmp_path / "results")
    assert not (tmp_path / "results").exists()


def test_the_beyond_stage_records_the_priors_it_ran(tmp_path):
    (tmp_path / "beyond.json").write_text(json.dumps({"config": {"priors": ["foe_5x5x24", "unet"],
                                                                 "colour_priors": ["unet_colour"]}}))
    models = pr.STAGE_MODELS["beyond"](tmp_path)
    assert list(models) == ["foe_5x5x24", "foe_colour_5x5x24", "unet", "unet_colour"]
    assert all(parts == ("weights", "denoise") and path.is_file() for path, parts in models.values())
