"""Write a bundled model's presets (:class:`scorematch.prior.Presets`), chosen on tuning images, into its file.

    python paper/scripts/bundle_presets.py MODEL [--beyond runs/reproduce/beyond] [--denoise TUNING_JSON]
        [--weights LEVEL=W ...] [--source TEXT]

``--beyond``: the level (1/256) of a noise-conditional model's field that ``scorematch reproduce beyond`` chose on the
tuning crops for each grey inverse problem (``deblur``, ``inpaint``, ``superres_<f>x``). ``--denoise``: the MAP
denoiser (level ratio, weight, iterations, start) per noise level chosen by ``paper/benchmarks/deep_energy_map.py``.
``--weights``: MAP prior weights per noise level (1/256), e.g. from the restoration experiment's tuning.
``--tweedie``: denoise by Tweedie's estimate at every level. ``--unet-presets``: the denoising presets chosen per
level by ``benchmarks/unet_presets.py`` (its JSON). ``--noise-tuning``: the noise estimate's target ratio, the mean
over levels and image sets of the self-consistency ratio at the true sigma that
``paper/benchmarks/noise_estimation_tuning.py`` measured on the tuning images (its JSON). Presets not named keep the
file's; the tensors are unchanged (checked).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))

from scorematch_paper.experiments.beyond.summaries import tuned_levels  # noqa: E402
from scorematch.prior import DenoisePreset, Presets, TaskPreset, load_prior  # noqa: E402
from scorematch.pretrained import resolve  # noqa: E402
from scorematch.serialization import load, load_info, save  # noqa: E402


def _from_beyond(run: Path, model: str) -> dict[str, TaskPreset]:
    levels = tuned_levels(run, model)
    if not levels:
        raise SystemExit(f"{run}/beyond.json has no rows of {model}")
    return {task: TaskPreset(level=float(level) / 256) for task, level in levels.items()}


def _from_denoise(path: Path, model: str) -> dict[float, DenoisePreset]:
    tuning = json.loads(path.read_text())
    if tuning.get("model") != model:
        raise SystemExit(f"{path} tuned {tuning.get('model')!r}, not {model!r}")
    keys = ("level_ratio", "weight", "iterations", "start")
    return {int(lv) / 256: DenoisePreset(method="map", **{k: e["best"][k] for k in keys if k in e["best"]})
            for lv, e in tuning["levels"].items()}


def _noise_target(path: Path, model: str) -> float:
    tuning = json.loads(path.read_text())
    if tuning.get("model") != model:
        raise SystemExit(f"{path} tuned {tuning.get('model')!r}, not {model!r}")
    keys = {"grey": "h_at_truth_rgb", "colour": f"h_at_truth_{tuning['colour_space']}"}
    ratios = [level[key]["mean"] for part, key in keys.items() for level in tuning[part].values()]
    return round(statistics.mean(ratios), 3)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--beyond", type=Path, help="the beyond stage's folder (holds beyond.json and units/)")
    ap.add_argument("--denoise", type=Path, help="the JSON of paper/benchmarks/deep_energy_map.py")
    ap.add_argument("--weights", nargs="+", metavar="LEVEL=W", help="MAP weights by noise level (1/256)")
    ap.add_argument("--tweedie", nargs="+", type=float, metavar="LEVEL", help="Tweedie at these levels (1/255)")
    ap.add_argument("--unet-presets", type=Path, help="the JSON of benchmarks/unet_presets.py")
    ap.add_argument("--noise-tuning", type=Path, help="the JSON of paper/benchmarks/noise_estimation_tuning.py")
    ap.add_argument("--source", default="", help="where the presets were chosen (script, images, commit)")
    args = ap.parse_args(argv)
    path = resolve(args.model)
    old = load_prior(path).presets
    denoise, tasks = dict(old.denoise), dict(old.tasks)
    if args.denoise:
        denoise = _from_denoise(args.denoise, args.model)
    if args.weights:
        denoise = {int(k) / 256: DenoisePreset(weight=float(v)) for k, v in (w.split("=") for w in args.weights)}
    if args.tweedie:
        denoise = {lv / 255: DenoisePreset(method="tweedie") for lv in args.tweedie}
    if args.unet_presets:
        chosen = json.loads(args.unet_presets.read_text())
        denoise = {e["sigma"]: DenoisePreset(**e["best"]) for e in chosen["levels"].values()}
    if args.beyond:
        tasks.update(_from_beyond(args.beyond, args.model))
    target = _noise_target(args.noise_tuning, args.model) if args.noise_tuning else old.noise_target
    presets = Presets(denoise, tasks, args.source or old.source, target)
    energy, extra = load(path), load_info(path)["extra"]
    before = {k: v.clone() for k, v in energy.state_dict().items()}
    save(energy, path, metadata={**extra, "presets": presets.to_json()})
    after = load(path).state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "tensors changed"
    print(f"{path}: " + json.dumps(presets.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
