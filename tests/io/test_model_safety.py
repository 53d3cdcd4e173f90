"""Model and checkpoint files never run code: malicious pickles are refused, and nothing in the package
unpickles."""

from __future__ import annotations

import ast
import io
import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import scorematch
from scorematch.checkpoint import load_checkpoint
from scorematch.serialization import FORMAT, ModelFileError

PACKAGE = Path(scorematch.__file__).parent


class _Payload:
    """Unpickling this creates ``marker`` (a stand-in for arbitrary code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _malicious_files(tmp_path: Path) -> dict[str, Path]:
    marker = tmp_path / "PWNED"
    files = {}
    for proto in (0, 2, 4, 5):
        files[f"pickle-protocol-{proto}"] = tmp_path / f"evil{proto}.pkl"
        files[f"pickle-protocol-{proto}"].write_bytes(pickle.dumps(_Payload(marker), protocol=proto))
    files["torch.save"] = tmp_path / "evil.pt"
    torch.save({"layers.0.raw_weight": torch.zeros(2, 2), "hook": _Payload(marker)}, files["torch.save"])
    files["renamed .safetensors"] = tmp_path / "evil.safetensors"
    files["renamed .safetensors"].write_bytes(files["torch.save"].read_bytes())
    return files


def test_the_payloads_are_live(tmp_path):
    """Control: plain unpickling of these files does run the payload (so the refusal below means something)."""
    for path in _malicious_files(tmp_path).values():
        (tmp_path / "PWNED").unlink(missing_ok=True)
        if path.suffix == ".pkl":
            pickle.loads(path.read_bytes())
        else:
            torch.load(io.BytesIO(path.read_bytes()), weights_only=False)
        assert (tmp_path / "PWNED").exists(), path


@pytest.mark.parametrize("loader", [scorematch.load, scorematch.load_info, load_checkpoint])
def test_malicious_model_files_are_refused_and_nothing_runs(tmp_path, loader):
    for kind, path in _malicious_files(tmp_path).items():
        with pytest.raises(ModelFileError) as info:
            loader(path)
        assert str(path) in str(info.value), kind
        assert not (tmp_path / "PWNED").exists(), f"{kind}: the payload ran"


def test_pickle_files_are_named_as_code_carrying(tmp_path):
    files = _malicious_files(tmp_path)
    with pytest.raises(ModelFileError, match="looks like a Python pickle, a format that can run code"):
        scorematch.load(files["pickle-protocol-4"])
    with pytest.raises(ModelFileError, match=r"looks like a zip archive \(torch.save\)"):
        scorematch.load(files["renamed .safetensors"])
    with pytest.raises(ModelFileError, match="safetensors format expected"):  # protocol 0 is plain text
        scorematch.load(files["pickle-protocol-0"])


def _safetensors(path: Path, tensors: dict, **meta) -> Path:
    save_file(tensors, str(path), metadata={"format": FORMAT, **{k: str(v) for k, v in meta.items()}})
    return path


def test_hostile_metadata_is_refused_before_allocation(tmp_path):
    w = {"layers.0.raw_weight": torch.zeros(3, 4), "layers.2.beta": torch.zeros(3)}
    cases = {
        "huge dim": ({"dim": 10**12, "n_experts": 3}, "ProductOfExperts", "do not match"),
        "list where a number belongs": ({"dim": 4, "n_experts": 3, "c": [1, 2]}, "ProductOfExperts",
                                        "invalid ProductOfExperts configuration: c must be a number"),
        "nested list": ({"dim": 4, "n_experts": 3, "c": [[1], [2]]}, "ProductOfExperts", "must map names"),
        "list of strings": ({"dim": 4, "n_experts": 3, "c": ["os"]}, "ProductOfExperts", "must map names"),
        "unknown option": ({"dim": 4, "n_experts": 3, "evil": 1}, "ProductOfExperts", "invalid ProductOfExperts"),
        "unknown class": ({"dim": 4}, "os.system", "unknown energy"),
        "wrong shapes": ({"dim": 3, "n_experts": 4}, "ProductOfExperts", "wrong shape"),
        "config not an object": ([4, 3], "ProductOfExperts", "must map names"),
    }
    for name, (config, energy, message) in cases.items():
        path = _safetensors(tmp_path / "m.safetensors", w, energy=energy, config=json.dumps(config))
        with pytest.raises(ModelFileError, match=message):
            scorematch.load(path)


def test_a_model_for_another_energy_is_refused(tmp_path):
    path = scorematch.save(scorematch.ProductOfExperts(4, 4), tmp_path / "poe.safetensors")
    with pytest.raises(ModelFileError, match="holds a ProductOfExperts, not a FieldOfExperts"):
        scorematch.load(path, expect=scorematch.FieldOfExperts)
    with pytest.raises(ModelFileError, match="is not a training checkpoint"):
        load_checkpoint(path)


def test_loading_leaves_the_global_rng_alone(tmp_path):
    path = scorematch.save(scorematch.ProductOfExperts(4, 4), tmp_path / "poe.safetensors")
    state = torch.get_rng_state()
    scorematch.load(path)
    assert torch.equal(state, torch.get_rng_state())


def _unsafe_calls(source: str) -> list[str]:
    """Calls that can unpickle: pickle/dill/joblib/marshal loads, torch.load without weights_only=True,
    numpy.load with allow_pickle=True, eval/exec."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = ast.unparse(func)
        kw = {k.arg: ast.unparse(k.value) for k in node.keywords}
        if name.split(".")[-1] in ("load", "loads", "Unpickler") and name.split(".")[0] in (
            "pickle", "cPickle", "dill", "joblib", "marshal", "cloudpickle", "shelve"
        ):
            found.append(name)
        elif name == "torch.load" and kw.get("weights_only") != "True":
            found.append(f"{name} without weights_only=True")
        elif name in ("np.load", "numpy.load") and kw.get("allow_pickle", "False") != "False":
            found.append(f"{name} with allow_pickle")
        elif name in ("eval", "exec"):
            found.append(name)
    return [f"line {getattr(node, 'lineno', '?')}: {f}" for f in found]


def test_the_scanner_finds_unsafe_calls():
    bad = "import pickle, torch, numpy as np\npickle.load(f)\ntorch.load(p)\nnp.load(p, allow_pickle=True)\neval(s)\n"
    good = "torch.load(p, weights_only=True)\nnp.load(p)\nnp.load(p, allow_pickle=False)\n"
    assert len(_unsafe_calls(bad)) == 4
    assert _unsafe_calls(good) == []


def test_no_unrestricted_unpickling_in_the_package():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        calls = _unsafe_calls(path.read_text())
        if calls:
            offenders[str(path.relative_to(PACKAGE))] = calls
    assert offenders == {}, f"code-executing loaders in the package: {offenders}"
