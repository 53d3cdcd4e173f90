"""Table-1 check of a saved prior (issue 5): MAP denoising at sigma = 5/256 on the five test images, 3 draws.

    PYTHONPATH=src python paper/scripts/quality_verify.py MODEL.safetensors [WEIGHT] [--out FILE.jsonl]

The prior weight comes from the model file's denoising presets at 5/256 (tuned on the tuning crops by
``build_default_model``) unless given. Verification only: nothing is tuned here. Appends one JSON line to
``--out`` (default ``runs/quality/quality_verify.jsonl`` in the repository; ``runs/`` is git-ignored).
"""
import argparse, json, time
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)
from scorematch_paper.experiments import restoration as R  # noqa: E402
from scorematch.prior import load_prior  # noqa: E402
from scorematch.serialization import load  # noqa: E402
from scorematch.tasks import MAP, denoise, psnr  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("model")
ap.add_argument("weight", nargs="?", type=float, default=None)
ap.add_argument("--out", type=Path, help="JSON-lines file to append to",
                default=Path(__file__).resolve().parents[2] / "runs" / "quality" / "quality_verify.jsonl")
args = ap.parse_args()
path = args.model
preset = load_prior(path).presets.denoising(5 / 256)
if args.weight is None and preset is None:
    raise SystemExit(f"{path} has no denoising presets: give the prior weight")
w = args.weight if args.weight is not None else float(preset.weight)
prior = R.data.frozen(load(path))
bar = {k: v[2] - 0.1 for k, v in R.PAPER_TABLE1.items()}
out = {"model": path, "weight": w, "images": {}}
t0 = time.perf_counter()
for name in R.TABLE1_IMAGES:
    x = R.data.image(name)
    vals = []
    for d in range(R.settings.N_DRAWS):
        y = R.data.noise(x, 5, R.data.noise_seed(name, 5, d))
        vals.append(psnr(denoise(y, prior, sigma=5 / 256, solver=MAP(weight=w)).clamp(0, 1), x))
    out["images"][name] = {"mean": round(float(np.mean(vals)), 3), "std": round(float(np.std(vals)), 3),
                           "bar": round(bar[name], 2), "draws": [round(v, 3) for v in vals]}
    print(name, out["images"][name], flush=True)
out["mean"] = round(float(np.mean([v["mean"] for v in out["images"].values()])), 3)
out["seconds"] = time.perf_counter() - t0
print(json.dumps(out))
args.out.parent.mkdir(parents=True, exist_ok=True)
with open(args.out, "a") as f:
    f.write(json.dumps(out) + "\n")
