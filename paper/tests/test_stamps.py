"""An artifact's stamp (scorematch_paper.stamps): a change to a file of the code that computed it, or to a model
file it used, makes it stale."""

import shutil
from pathlib import Path

import pytest

from scorematch_paper import stamps
from scorematch_paper.experiments.cache import PACKAGES

MODULE = "scorematch_paper.experiments.compare"


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, ...]:
    """A copy of the library's and this package's sources, to touch."""
    ignore = shutil.ignore_patterns("__pycache__", "*.safetensors")
    return tuple(Path(shutil.copytree(root, tmp_path / "code" / root.name, ignore=ignore)) for root in PACKAGES)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"weights")
    return path


def test_a_fresh_stamp_is_current(roots, model, tmp_path):
    record = stamps.stamp(MODULE, models={"m": model}, roots=roots)
    assert stamps.stale(record, roots=roots) == []
    record["models"]["m"]["path"] = model.name  # a path relative to the repository root, as benchmarks store it
    assert stamps.stale(record, root=tmp_path, roots=roots) == []
    assert record["code"]["modules"] == [MODULE] and record["models"]["m"]["sha256"] == stamps.model_sha256(model)
    relative = stamps.stamp(MODULE, models={"m": model.name}, roots=roots, root=tmp_path)  # read from the root
    assert relative["models"]["m"] == record["models"]["m"] and stamps.stale(relative, root=tmp_path, roots=roots) == []


def test_touching_a_file_of_the_closure_makes_it_stale(roots, tmp_path):
    record = stamps.stamp(MODULE, roots=roots)
    compare = roots[1] / "experiments" / "compare.py"
    compare.write_text(compare.read_text() + "\n# touched\n")
    (reason,) = stamps.stale(record, root=tmp_path, roots=roots)
    assert f"the code of {MODULE} changed" in reason


def test_a_file_outside_the_closure_does_not(roots, tmp_path):
    record = stamps.stamp(MODULE, roots=roots)
    other = roots[1] / "experiments" / "speed.py"
    other.write_text(other.read_text() + "\n# touched\n")
    assert stamps.stale(record, root=tmp_path, roots=roots) == []


def test_a_changed_or_missing_model_makes_it_stale(roots, model, tmp_path):
    record = stamps.stamp(MODULE, models={"m": model}, roots=roots)
    model.write_bytes(b"other weights")
    assert stamps.stale(record, roots=roots) == ["the model file of m changed"]
    model.unlink()
    assert "is gone" in stamps.stale(record, roots=roots)[0]


def test_an_artifact_without_a_stamp_says_so():
    assert stamps.stale({"commit": "abc1234"}) == ["it records no code fingerprint and model hashes (no stamp)"]


def test_a_stamp_of_some_parts_goes_stale_with_those_parts_only(roots, tmp_path):
    import torch

    from scorematch.energies import DeepEnergy
    from scorematch.prior import DenoisePreset, Presets, TaskPreset
    from scorematch.serialization import save

    energy = DeepEnergy(2, 1)
    path = tmp_path / "m.safetensors"

    def write(presets, e=energy):
        save(e, path, metadata={"presets": presets.to_json()})

    write(Presets({0.1: DenoisePreset(method="tweedie")}))
    chosen = stamps.stamp(MODULE, models={"m": path}, parts=["weights"], roots=roots)
    denoised = stamps.stamp(MODULE, models={"m": path}, parts=["weights", "denoise"], roots=roots)
    whole = stamps.stamp(MODULE, models={"m": path}, roots=roots)
    write(Presets({0.1: DenoisePreset(method="tweedie")}, {"deblur": TaskPreset(level=0.03)}))  # a task's choice
    assert stamps.stale(chosen, roots=roots) == [] and stamps.stale(denoised, roots=roots) == []
    assert stamps.stale(whole, roots=roots) == ["the model file of m changed"]
    write(Presets({0.1: DenoisePreset(method="map")}))
    assert stamps.stale(chosen, roots=roots) == []
    assert stamps.stale(denoised, roots=roots) == ["the model file of m changed (denoise, weights)"]
    with torch.no_grad():
        next(energy.parameters()).add_(1.0)
    write(Presets({0.1: DenoisePreset(method="tweedie")}))
    assert stamps.stale(chosen, roots=roots) == ["the model file of m changed (weights)"]
    mixed = stamps.stamp(MODULE, models={"m": path, "n": path}, parts={"m": ["weights"]}, roots=roots)
    assert mixed["models"]["m"]["parts"] == ["weights"] and "parts" not in mixed["models"]["n"]
    with pytest.raises(ValueError, match="unknown model parts"):
        stamps.model_sha256(path, ["presets"])
