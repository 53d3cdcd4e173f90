"""Benchmark: train the FoE 5x5x24 recipe and check the result against the bundled model; prints JSON.

    PYTHONPATH=src python paper/benchmarks/train_foe.py [--threads 2] [--steps N] [--device cuda] [--profile]
                                                  [--baseline REV] [--out F]

Trains :data:`scorematch_paper.experiments.restoration.RECIPE` (today's recipe; the bundled ``foe_5x5x24`` was trained
by the earlier one in its metadata, see its model card) by
:func:`scorematch.priors.train_image_foe`, as ``build_default_model`` does, and records every ``steps/20`` steps
the score-matching loss on 2,000 held-out patches (from the held-out tenth of Train400); the wall time to reach 95%
and 99% of the held-out loss's total improvement, the training time (patch extraction included, the held-out
evaluations left out) and the seconds per step. Then the card's quality check: the trained model and the bundled
``foe_5x5x24`` denoise the six tuning crops (the central 128x128 of
:data:`scorematch_paper.experiments.restoration.TUNE_IMAGES`, one noise draw per level) at the bundled model's prior
weights with today's solver, in the same script; the training reaches the card's quality when its mean PSNR is
within :data:`TIE_DB` of the bundled model's at every level. ``--profile``: the torch profiler's top operators
for 50 more steps. ``--baseline REV``: first, in the same run, the code of the git revision ``REV`` (a temporary
worktree) trains its own ``RECIPE`` with its own ``train_image_foe`` on the same images and threads; the JSON
gives its seconds (the patch extraction included, as here) and the ratio of this training's time to it. The other
developers' jobs share the 2 cores: the load average is printed beside the numbers.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

#: The repository this script belongs to (where ``--baseline`` makes its worktree).
ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import cpu_model, emit, load_average  # noqa: E402

from scorematch.datasets import load_images, split_images  # noqa: E402
from scorematch.estimators import score_matching_loss  # noqa: E402
from scorematch_paper.experiments.cache import git_state  # noqa: E402
from scorematch_paper.experiments.restoration import RECIPE  # noqa: E402
from scorematch_paper.experiments.restoration.data import frozen, tune_set  # noqa: E402
from scorematch_paper.experiments.restoration.tuning import weight_curve  # noqa: E402
from scorematch.pretrained import load_pretrained  # noqa: E402
from scorematch.prior import load_prior  # noqa: E402
from scorematch.priors import FoERecipe, train_image_foe, training_patches  # noqa: E402
from scorematch.train import fit  # noqa: E402

#: The bundled model this benchmark re-trains.
MODEL = "foe_5x5x24"
#: PSNR differences (dB) under this count as equal (the restoration tables' tolerance for "unchanged").
TIE_DB = 0.02

#: Run by ``--baseline`` in the revision's worktree: its recipe, trained by its code, timed as :func:`main` times.
BASELINE = """
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
from scorematch.datasets import load_images, split_images
try:
    from scorematch_paper.experiments.restoration import RECIPE
except ImportError:  # a revision from before paper/: the experiments inside the library
    from scorematch.experiments.restoration import RECIPE
from scorematch.priors import train_image_foe
train, _ = split_images(load_images("train400"), holdout=0.1)
t0 = time.perf_counter()
train_image_foe(train, RECIPE, holdout=None)
print(json.dumps({"train_seconds_total": time.perf_counter() - t0, "recipe": RECIPE.to_dict()}))
"""


def card_quality(prior) -> dict[str, dict[str, float]]:
    """Mean tuning-crop PSNR of ``prior`` and of the bundled :data:`MODEL` per noise level (1/256) at the bundled
    model's prior weights, and their difference."""
    weights = {str(round(s * 256)): p.weight for s, p in load_prior(MODEL).presets.denoise.items()}
    x, bundled = tune_set(128), frozen(load_pretrained(MODEL))
    trained = frozen(prior.cpu())
    out = {}
    for level, w in sorted(weights.items(), key=lambda kv: float(kv[0])):
        ours, theirs = (next(iter(weight_curve(p, x, int(level), (w,), None).values())) for p in (trained, bundled))
        out[level] = {"weight": w, "trained": round(ours, 3), "bundled": round(theirs, 3),
                      "difference": round(ours - theirs, 3)}
    return out


def baseline(rev: str, threads: int) -> dict:
    """Train the recipe of revision ``rev`` with that revision's code (a temporary git worktree); its time."""
    commit = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            load = load_average()
            run = subprocess.run([sys.executable, "-c", BASELINE, str(threads)], cwd=tree, check=True,
                                 capture_output=True, text=True, env={**os.environ, "PYTHONPATH": f"{tree / 'src'}:{tree / 'paper' / 'src'}"})
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True)
    result = json.loads(run.stdout.splitlines()[-1])
    return {"rev": rev, "commit": commit[:7], "load_avg_1min_start": load, "load_avg_1min_end": load_average(),
            "train_seconds_total": round(result["train_seconds_total"], 1), "recipe": result["recipe"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=RECIPE.steps)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--baseline", metavar="REV", help="also time the recipe and code of git revision REV")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    before = baseline(args.baseline, args.threads) if args.baseline else None
    recipe = FoERecipe(**{**RECIPE.to_dict(), "steps": args.steps})
    out = {"benchmark": "train_foe_5x5x24", "commit": (git_state()["commit"] or "unknown")[:7],
           "dirty": git_state()["dirty"], "threads": args.threads, "recipe": recipe.to_dict(),
           "load_avg_1min_start": load_average(), "cpu": cpu_model(),
           "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"}
    train, held = split_images(load_images("train400"), holdout=0.1)
    val = training_patches(held, FoERecipe(**{**recipe.to_dict(), "n_patches": 2000, "seed": 99})).to(args.device)
    lam = recipe.lam if recipe.space == "pixel" else recipe.lam * recipe.scale**2
    curve, evaluating = [], [0.0]
    t0 = time.perf_counter()

    def record(step: int, value: float, energy) -> None:
        t = time.perf_counter()
        v = float(score_matching_loss(energy, val, lam=lam).detach())
        curve.append({"step": step, "seconds": t - t0 - evaluating[0], "heldout_loss": v})
        evaluating[0] += time.perf_counter() - t

    prior = train_image_foe(train, recipe, holdout=None, callback=record, device=args.device)
    total = time.perf_counter() - t0 - evaluating[0]
    first, last = curve[0]["heldout_loss"], curve[-1]["heldout_loss"]

    def time_to(frac: float) -> float:
        target = first - frac * (first - last)
        return next(c["seconds"] for c in curve if c["heldout_loss"] <= target)

    quality = card_quality(prior)
    out.update({
        "train_seconds_total": round(total, 1),
        "seconds_per_step": round(total / recipe.steps, 4),
        "heldout_loss_first_log": first, "heldout_loss_final": last,
        "heldout_loss_best": min(c["heldout_loss"] for c in curve),
        "seconds_to_95pct": round(time_to(0.95), 1), "seconds_to_99pct": round(time_to(0.99), 1),
        "card_quality": quality, "tie_db": TIE_DB,
        "reaches_card_quality": all(q["difference"] >= -TIE_DB for q in quality.values()),
        "curve": curve, "load_avg_1min_end": load_average(),
        "note": "train_seconds_total includes the patch extraction, not the 20 held-out loss evaluations",
    })
    if before is not None:
        out["baseline"] = before
        out["time_ratio_to_baseline"] = round(total / before["train_seconds_total"], 3)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        model = (prior if recipe.space == "pixel" else prior.foe).to(args.device)
        data = training_patches(train, recipe).to(args.device)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fit(model, data, functools.partial(score_matching_loss, lam=lam), steps=50, batch_size=recipe.batch_size,
                lr=recipe.lr, seed=1, log_every=50, checkpoint_every=0)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12), file=sys.stderr)
        tot = sum(e.self_cpu_time_total for e in prof.key_averages())
        out["profile_top_ops_50_steps"] = [
            {"op": e.key, "share": round(e.self_cpu_time_total / tot, 3), "calls": e.count}
            for e in sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:10]
        ]
    emit(out, args.out)


if __name__ == "__main__":
    main()
