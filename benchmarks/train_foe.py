"""Benchmark: train the RSM FoE 5x5x24 with the default recipe and report time to final quality; prints JSON.

    PYTHONPATH=src python benchmarks/train_foe.py [--threads 2] [--steps N] [--profile]

Trains :data:`scorematch.experiments.restoration.RECIPE` (the bundled model's recipe) and records, every
``steps/20`` steps, the score-matching loss on 2,000 held-out patches (from the held-out tenth of
Train400). "Final quality" is the held-out loss at the end; the benchmark reports the wall time to reach
95% and 99% of the total improvement of the held-out loss, the total time, the seconds per step, and (with
``--profile``) the torch profiler's top operators for 50 steps. The other developers' jobs share the 2
cores: the load average is printed beside the numbers.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from scorematch.datasets import load_images, split_images  # noqa: E402
from scorematch.energies import ImageFoE  # noqa: E402
from scorematch.estimators import score_matching_loss  # noqa: E402
from scorematch.experiments.restoration import RECIPE  # noqa: E402
from scorematch.priors import FoERecipe, training_patches  # noqa: E402
from scorematch.train import fit  # noqa: E402


def _loadavg() -> float:
    return round(float(Path("/proc/loadavg").read_text().split()[0]), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=RECIPE.steps)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    recipe = FoERecipe(**{**RECIPE.to_dict(), "steps": args.steps})
    out = {"benchmark": "train_foe_5x5x24", "threads": args.threads, "recipe": recipe.to_dict(),
           "load_avg_1min_start": _loadavg(),
           "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"}
    train, held = split_images(load_images("train400"), holdout=0.1)
    t0 = time.perf_counter()
    data = training_patches(train, recipe)
    val = training_patches(held, FoERecipe(**{**recipe.to_dict(), "n_patches": 2000, "seed": 99}))
    out["data_seconds"] = round(time.perf_counter() - t0, 2)
    gen = torch.Generator().manual_seed(recipe.seed)
    prior = ImageFoE(recipe.n_experts, recipe.kernel_size, scale=recipe.scale, whitening_size=recipe.whitening_size,
                     normalize_filters=recipe.normalize_filters, generator=gen).to(args.device)
    data, val = data.to(args.device), val.to(args.device)
    lam = recipe.lam if recipe.space == "pixel" else recipe.lam * recipe.scale**2
    model = prior if recipe.space == "pixel" else prior.foe
    curve = []
    t_train = time.perf_counter()

    def record(step: int, value: float, energy) -> None:
        v = float(score_matching_loss(model, val, lam=lam).detach())
        curve.append({"step": step, "seconds": time.perf_counter() - t_train, "heldout_loss": v})

    fit(model, data, functools.partial(score_matching_loss, lam=lam), steps=recipe.steps,
        batch_size=recipe.batch_size, lr=recipe.lr, seed=recipe.seed, log_every=max(1, recipe.steps // 20),
        checkpoint_every=0, callback=record)
    total = time.perf_counter() - t_train
    first, last = curve[0]["heldout_loss"], curve[-1]["heldout_loss"]
    best_seen = min(c["heldout_loss"] for c in curve)

    def time_to(frac: float) -> float:
        target = first - frac * (first - last)
        return next(c["seconds"] for c in curve if c["heldout_loss"] <= target)

    out.update({
        "train_seconds_total": round(total, 1),
        "seconds_per_step": round(total / recipe.steps, 4),
        "heldout_loss_first_log": first, "heldout_loss_final": last, "heldout_loss_best": best_seen,
        "seconds_to_95pct": round(time_to(0.95), 1), "seconds_to_99pct": round(time_to(0.99), 1),
        "under_10_minutes": total <= 600, "curve": curve, "load_avg_1min_end": _loadavg(),
        "note": "train_seconds_total includes the held-out loss evaluations (20 of them)",
    })
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fit(model, data, functools.partial(score_matching_loss, lam=lam), steps=50, batch_size=recipe.batch_size,
                lr=recipe.lr, seed=1, log_every=50, checkpoint_every=0)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12), file=sys.stderr)
        tot = sum(e.self_cpu_time_total for e in prof.key_averages())
        out["profile_top_ops_50_steps"] = [
            {"op": e.key, "share": round(e.self_cpu_time_total / tot, 3), "calls": e.count}
            for e in sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:10]
        ]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
