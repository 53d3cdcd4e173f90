"""Benchmark: which colour prior? Trains ColourFoE variants and scores them on the colour tuning crops; prints JSON.

    PYTHONPATH=src python paper/benchmarks/colour_variants.py --variant opponent --steps 3000 [--out F]
    PYTHONPATH=src python paper/benchmarks/colour_variants.py --baselines [--out F]

A variant is ``COLOUR_RECIPE`` with ``colour`` = the variant (``rgb``: 3-channel filters on RGB; ``opponent``: on
the orthonormal opponent transform) and ``--steps`` training steps; it is trained on the training images of
``data/bsds300-train`` (:func:`scorematch.datasets.colour_split`), saved under ``runs/colour_variants/`` and its
prior weight tuned per noise level on the central crops of the 6 tuning images (never the held-out ones).
``--baselines`` scores, on the same noisy tuning crops, the grey prior ``foe_5x5x24`` applied to each channel (its
recommended weight, and the best weight of the same grid) and colour BM3D (``bm3d.bm3d_rgb``).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import emit, load_average  # noqa: E402
from scorematch.datasets import colour_crops, colour_split  # noqa: E402
from scorematch.pretrained import load_pretrained  # noqa: E402
from scorematch.prior import load_prior  # noqa: E402
from scorematch_paper.experiments.restoration.colour_model import (COLOUR_LEVELS, COLOUR_RECIPE, COLOUR_WEIGHTS,  # noqa: E402
                                                             TUNE_CROP, train_colour_prior, tune_weights, tuning_noisy)
from scorematch_paper.experiments.restoration.data import frozen, mean_psnr  # noqa: E402
from scorematch_paper.experiments.restoration.tuning import climb  # noqa: E402
from scorematch.serialization import save  # noqa: E402
from scorematch.tasks import MAP, Denoising, restore  # noqa: E402


def _cbm3d(y: torch.Tensor, sigma: float) -> torch.Tensor:
    import bm3d

    out = [torch.from_numpy(np.asarray(bm3d.bm3d_rgb(im.permute(1, 2, 0).double().numpy(), sigma_psd=sigma)))
           .permute(2, 0, 1) for im in y]  # each (3, H, W)
    return torch.stack(out).to(y.dtype)


def _per_channel(y: torch.Tensor, grey, sigma: float, weight: float) -> torch.Tensor:
    """MAP denoising of each channel of ``y`` alone with the grey prior (not its opponent channels, which
    :func:`scorematch.tasks.denoise` would take)."""
    return restore(y, Denoising(sigma), grey, sigma=sigma, solver=MAP(weight=weight))


def _tune_per_channel(grey, x: torch.Tensor) -> dict[str, dict[str, float]]:
    """:func:`~scorematch_paper.experiments.restoration.colour_model.tune_weights` for the grey prior on each channel."""
    return {str(lv): climb(lambda w, y=tuning_noisy(x, lv), lv=lv: mean_psnr(_per_channel(y, grey, lv / 256, w), x),
                           COLOUR_WEIGHTS) for lv in COLOUR_LEVELS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", choices=("rgb", "opponent"))
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--experts", type=int, default=COLOUR_RECIPE.n_experts)
    ap.add_argument("--kernel", type=int, default=COLOUR_RECIPE.kernel_size)
    ap.add_argument("--baselines", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    x = colour_crops(colour_split()["tune"], TUNE_CROP)  # (6, 3, 128, 128)
    result = {"benchmark": "colour_variants", "tune_crop": TUNE_CROP, "levels": list(COLOUR_LEVELS),
              "threads": args.threads, "load_average_start": load_average()}
    if args.baselines:
        grey = frozen(load_pretrained("foe_5x5x24"))
        rows = {}
        for lv in COLOUR_LEVELS:
            y = tuning_noisy(x, lv)
            w = load_prior("foe_5x5x24").presets.denoising(lv / 256).weight
            rows[str(lv)] = {"noisy": mean_psnr(y, x), "grey_per_channel_weight": w,
                             "grey_per_channel": mean_psnr(_per_channel(y, grey, lv / 256, w), x),
                             "cbm3d": mean_psnr(_cbm3d(y, lv / 256), x)}
        result["baselines"] = rows
        result["grey_per_channel_tuned"] = _tune_per_channel(grey, x)
    if args.variant:
        recipe = replace(COLOUR_RECIPE, colour=args.variant, steps=args.steps, n_experts=args.experts,
                         kernel_size=args.kernel)
        prior, seconds = train_colour_prior(recipe)
        name = f"{args.variant}_{args.experts}_{args.steps}" + (f"_k{args.kernel}" if args.kernel != 5 else "")
        save(prior.float(), ROOT / "runs" / "colour_variants" / f"{name}.safetensors",
             metadata={"recipe": recipe.to_dict(), "train_seconds": seconds})
        t0 = time.perf_counter()
        curves = tune_weights(frozen(prior), x)
        result.update({"variant": name, "recipe": recipe.to_dict(), "train_seconds": round(seconds, 1),
                       "tune_seconds": round(time.perf_counter() - t0, 1), "psnr": curves,
                       "best": {lv: {"weight": float(max(c, key=c.get)), "psnr": max(c.values())}
                                for lv, c in curves.items()}})
    result["load_average_end"] = load_average()
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
