"""``paper/scripts/bundle_presets.py``: the choices it writes into a model file's presets, the tensors untouched."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from scorematch.energies import DeepEnergy
from scorematch.prior import DenoisePreset, Presets, load_prior
from scorematch.serialization import load, save

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bundle_presets.py"


def _script():
    spec = importlib.util.spec_from_file_location("bundle_presets", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tuning(model: str, grey: float, colour: float) -> dict:
    level = lambda h, key: {key: {"mean": h, "min": h, "max": h}}  # noqa: E731
    return {"model": model, "colour_space": "opponent",
            "grey": {"15": level(grey, "h_at_truth_rgb"), "25": level(grey + 0.01, "h_at_truth_rgb")},
            "colour": {"15": level(colour, "h_at_truth_opponent"), "25": level(colour, "h_at_truth_opponent")}}


def test_the_noise_target_is_the_mean_ratio_at_the_truth_and_other_presets_stay(tmp_path, capsys):
    path = save(DeepEnergy(2, 1), tmp_path / "m.safetensors",
                metadata={"presets": Presets({0.1: DenoisePreset(method="tweedie")}).to_json()})
    before = {k: v.clone() for k, v in load(path).state_dict().items()}
    tuning = tmp_path / "tuning.json"
    tuning.write_text(json.dumps(_tuning(str(path), 0.99, 1.01)))
    assert _script().main([str(path), "--noise-tuning", str(tuning)]) == 0
    presets = load_prior(path).presets
    assert presets.noise_target == pytest.approx((0.99 + 1.0 + 1.01 + 1.01) / 4, abs=1e-3)
    assert presets.denoise == {0.1: DenoisePreset(method="tweedie")}
    assert all(torch.equal(before[k], v) for k, v in load(path).state_dict().items())
    tuning.write_text(json.dumps(_tuning("another_model", 0.99, 1.01)))
    with pytest.raises(SystemExit, match="not"):
        _script().main([str(path), "--noise-tuning", str(tuning)])
