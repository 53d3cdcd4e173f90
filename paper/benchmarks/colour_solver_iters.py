"""Benchmark: the bundled colour prior on the tuning crops under the default L-BFGS settings (at most 60 iterations,
early stop) and run longer (200 iterations, no early stop), at its card's weights; prints JSON.

    PYTHONPATH=src python paper/benchmarks/colour_solver_iters.py \
        [--out FILE.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import emit, load_average  # noqa: E402
from scorematch.datasets import colour_crops, colour_split  # noqa: E402
from scorematch.pretrained import load_pretrained  # noqa: E402
from scorematch.prior import load_prior  # noqa: E402
from scorematch_paper.experiments.restoration.colour_model import COLOUR_PRIOR, TUNE_CROP, tuning_noisy  # noqa: E402
from scorematch_paper.experiments.restoration.data import frozen, mean_psnr  # noqa: E402
from scorematch.tasks import MAP, denoise  # noqa: E402
from scorematch.tasks.solvers import DEFAULT_ITERATIONS, DENOISE_RTOL  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--long", type=int, default=200)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    x = colour_crops(colour_split()["tune"], TUNE_CROP)
    prior = frozen(load_pretrained(COLOUR_PRIOR))
    rows = {}
    for lv in (5, 15, 25):
        y, w = tuning_noisy(x, lv), load_prior(COLOUR_PRIOR).presets.denoising(lv / 256).weight
        rows[str(lv)] = {"weight": w,
                         "default": mean_psnr(denoise(y, prior, sigma=lv / 256, solver=MAP(weight=w)), x),
                         f"{args.long}_iters_no_early_stop": mean_psnr(
                             denoise(y, prior, sigma=lv / 256, solver=MAP(weight=w, iterations=args.long, rtol=0)),
                             x)}
    emit({"benchmark": "colour_solver_iters", "model": COLOUR_PRIOR, "tune_crop": TUNE_CROP,
          "default_solver": {"n_iter": DEFAULT_ITERATIONS["denoise"], "rtol": DENOISE_RTOL}, "levels": rows,
          "load_average": load_average()}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
