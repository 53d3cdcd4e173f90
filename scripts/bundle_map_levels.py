"""Record in the bundled noise-conditional prior the MAP levels chosen on the tuning images.

    python scripts/bundle_map_levels.py [--beyond runs/reproduce/beyond] [--denoise TUNING_JSON]
        [--model deep_energy]

``--beyond``: the level (1/256) of the model's field ``E_s`` that ``scorematch reproduce beyond`` chose on the tuning
crops for each grey inverse problem (:func:`scorematch.experiments.beyond.summaries.tuned_levels`), written as
``map_levels`` (:func:`scorematch.pretrained.recommended_level`). ``--denoise``: the chosen level ratio, weight,
iterations and start per noise level of ``benchmarks/deep_energy_map.py``'s JSON, written as ``denoise_map``
(:func:`scorematch.pretrained.recommended_denoiser`). Each with its source (command, commit); the tensors unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scorematch.experiments.beyond.summaries import tuned_levels  # noqa: E402
from scorematch.pretrained import resolve  # noqa: E402
from scorematch.serialization import load, load_info, save  # noqa: E402


def _from_beyond(run: Path, model: str) -> dict:
    levels = tuned_levels(run, model)
    if not levels:
        raise SystemExit(f"{run}/beyond.json has no rows of {model}")
    stamp = json.loads((run / "units" / f"deblur_{model}.json").read_text())["stamp"]
    return {"map_levels": levels, "map_levels_source": {"command": "scorematch reproduce beyond",
                                                        "commit": stamp.get("commit")}}


def _from_denoise(path: Path, model: str) -> dict:
    tuning = json.loads(path.read_text())
    if tuning.get("model") != model:
        raise SystemExit(f"{path} tuned {tuning.get('model')!r}, not {model!r}")
    keys = ("level_ratio", "weight", "iterations", "start")
    table = {lv: {k: e["best"][k] for k in keys if k in e["best"]} for lv, e in tuning["levels"].items()}
    return {"denoise_map": table, "denoise_map_source": {"command": "python benchmarks/deep_energy_map.py",
                                                         "commit": tuning.get("commit")}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beyond", type=Path, help="the beyond stage's folder (holds beyond.json and units/)")
    ap.add_argument("--denoise", type=Path, help="the JSON of benchmarks/deep_energy_map.py")
    ap.add_argument("--model", default="deep_energy")
    args = ap.parse_args(argv)
    if not (args.beyond or args.denoise):
        ap.error("give --beyond and/or --denoise")
    path = resolve(args.model)
    added = {**(_from_beyond(args.beyond, args.model) if args.beyond else {}),
             **(_from_denoise(args.denoise, args.model) if args.denoise else {})}
    energy, extra = load(path), load_info(path)["extra"]
    before = {k: v.clone() for k, v in energy.state_dict().items()}
    save(energy, path, metadata={**extra, **added})
    after = load(path).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "tensors changed"
    print(f"{path}: " + json.dumps({k: v for k, v in added.items() if not k.endswith("_source")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
