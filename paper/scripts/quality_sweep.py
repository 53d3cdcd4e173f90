"""Recipe search for the RSM FoE 5x5x24 (issue 5): train a variant, score it on the tuning crops.

    PYTHONPATH=src python paper/scripts/quality_sweep.py NAME '{"normalize_filters": false}' [--levels 5,15]
        [--weights 0.1,0.2,...] [--iters N] [--model FILE] [--out DIR]

Trains with ``train_image_foe``'s recipe (restoration.RECIPE plus the JSON changes) and scores MAP denoising
(L-BFGS) on the six tuning crops (never the test images), one noise draw per level, over a grid of prior
weights. Appends one JSON line to ``OUT/quality_results.jsonl`` and saves the model under ``OUT/models``; ``--out``
defaults to ``runs/quality`` in the repository (``runs/`` is git-ignored).
"""
import argparse, json, time
from pathlib import Path

import torch

torch.set_num_threads(1)
from scorematch_paper.experiments import restoration as R  # noqa: E402
from scorematch.priors import FoERecipe, train_image_foe  # noqa: E402
from scorematch.serialization import save, load  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("name")
ap.add_argument("changes", nargs="?", default="{}")
ap.add_argument("--levels", default="5")
ap.add_argument("--weights", default="0.1,0.2,0.3,0.5,0.7,1.0,1.5")
ap.add_argument("--iters", type=int, default=None)
ap.add_argument("--model", default=None, help="score an existing model file instead of training")
ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "runs" / "quality",
                help="folder for quality_results.jsonl and models/")
args = ap.parse_args()

changes = json.loads(args.changes)
out = args.out / "models"; out.mkdir(parents=True, exist_ok=True)
t0 = time.perf_counter()
if args.model:
    prior = load(args.model); recipe = None; secs = None
else:
    recipe = FoERecipe(**{**R.RECIPE.to_dict(), **changes})
    prior = train_image_foe("train400", recipe)
    secs = time.perf_counter() - t0
    save(prior, out / f"{args.name}.safetensors", metadata={"recipe": recipe.to_dict()})
prior = R.data.frozen(prior)
x = R.data.tune_set(128)
weights = [float(w) for w in args.weights.split(",")]
res = {}
t1 = time.perf_counter()
for lv in [int(v) for v in args.levels.split(",")]:
    curve = R.tuning.weight_curve(prior, x, lv, weights, args.iters)
    best = max(curve, key=curve.get)
    res[lv] = {"best_w": float(best), "best": round(curve[best], 3), "curve": {k: round(v, 3) for k, v in curve.items()}}
row = {"name": args.name, "changes": changes, "train_s": secs, "eval_s": time.perf_counter() - t1, "res": res,
       "alpha_mean": float(prior.alpha.mean()), "filter_norm_mean": float(prior.filters.flatten(1).norm(dim=1).mean())}
print(json.dumps(row))
with open(args.out / "quality_results.jsonl", "a") as f:
    f.write(json.dumps(row) + "\n")
