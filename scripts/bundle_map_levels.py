"""Record in the bundled noise-conditional prior the MAP level per inverse problem that a ``beyond`` run chose.

    python scripts/bundle_map_levels.py runs/reproduce/beyond [--model deep_energy]

Reads the level (1/256) of the model's field ``E_s`` that ``scorematch reproduce beyond`` chose on the tuning crops
for each grey problem (:func:`scorematch.experiments.beyond.summaries.tuned_levels`) and writes it into the model
file's metadata as ``map_levels`` (with the run's code fingerprint), its tensors unchanged; the restoration
commands then use it (:func:`scorematch.pretrained.recommended_level`).
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="the beyond stage's folder (holds beyond.json and units/)")
    ap.add_argument("--model", default="deep_energy")
    args = ap.parse_args(argv)
    path = resolve(args.model)
    levels = tuned_levels(args.run, args.model)
    if not levels:
        raise SystemExit(f"{args.run}/beyond.json has no rows of {args.model}")
    stamp = json.loads((args.run / "units" / f"deblur_{args.model}.json").read_text())["stamp"]
    energy, extra = load(path), load_info(path)["extra"]
    before = {k: v.clone() for k, v in energy.state_dict().items()}
    save(energy, path, metadata={**extra, "map_levels": levels,
                                 "map_levels_source": {"command": "scorematch reproduce beyond",
                                                       "commit": stamp.get("commit"),
                                                       "fingerprint": stamp.get("fingerprint")}})
    after = load(path).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "tensors changed"
    print(f"{path}: map_levels = {levels}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
