"""Benchmark: how well :func:`scorematch.tasks.estimate_noise` finds the noise level, on the held-out images; JSON.

    PYTHONPATH=src python paper/benchmarks/noise_estimation.py [--model deep_energy] [--limit N] [--threads T] [--out F]

Validation images only (no choice of the estimator is made on them; ``paper/benchmarks/noise_estimation_tuning.py``
makes those on the tuning images): the 41 grey held-out images of
:func:`scorematch_paper.experiments.restoration.heldout_images` and the 20 held-out colour photos of
:func:`scorematch.datasets.colour_split`, at 5, 15, 25, 50 and 75 (/255), one noise draw per image and level (seed
``noise_seed(name, level)``; not clipped). For each method of :func:`~scorematch.tasks.estimate_noise`: the
estimated / true sigma (mean, std, min, max over the images, and the images within 10 %) and the PSNR of the
model's denoised image as its presets prescribe (:func:`scorematch.tasks.denoise`, the library's default path) with
the estimated sigma minus that with the true sigma (paired over the images: mean, std). ``meets_bar``: every image
within 10 % and the mean PSNR difference above -0.1 dB, at 15/255 and above.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import emit, load_average  # noqa: E402

from scorematch import load_info  # noqa: E402
from scorematch.datasets import colour_split, read_image  # noqa: E402
from scorematch_paper.stamps import DENOISING, stamp  # noqa: E402
from scorematch_paper.experiments.restoration.data import heldout_images, noise_seed  # noqa: E402
from scorematch.pretrained import resolve  # noqa: E402
from scorematch.prior import load_prior  # noqa: E402
from scorematch.tasks import Denoising, denoise, estimate_noise, psnr  # noqa: E402
from scorematch.tasks.noise_level import NOISE_METHODS  # noqa: E402

LEVELS = (5, 15, 25, 50, 75)
#: The acceptance bar: at these levels and above, every image's estimate within 10 % of the truth and the mean
#: PSNR with the estimate at most 0.1 dB below the PSNR with the truth.
BAR_FROM, BAR_RATIO, BAR_PSNR = 15, 0.10, 0.1


def noisy(x: torch.Tensor, name: str, level: int) -> torch.Tensor:
    """``x`` (1, C, H, W) plus Gaussian noise of std ``level / 255``, the draw fixed by the image's name and level."""
    return Denoising(level / 255)(x, generator=torch.Generator().manual_seed(noise_seed(name, level)))


def probe(name: str, level: int) -> torch.Generator:
    """The energy method's divergence probe, fixed by the image's name and level."""
    return torch.Generator().manual_seed(noise_seed(name, level, 1))


def grey_images(limit: int | None) -> list[tuple[str, torch.Tensor]]:
    return [(name, read_image(f, dtype=torch.float32)[None, None]) for name, f in heldout_images(limit)]


def colour_images(limit: int | None) -> list[tuple[str, torch.Tensor]]:
    files = colour_split()["heldout"][:limit]
    return [(f"colour/{f.stem}", read_image(f, dtype=torch.float32, colour=True)[None]) for f in files]


def stats(values: list[float], digits: int = 4) -> dict[str, float]:
    return {"mean": round(statistics.mean(values), digits),
            "std": round(statistics.stdev(values), digits) if len(values) > 1 else 0.0,
            "min": round(min(values), digits), "max": round(max(values), digits)}


def score(images: list[tuple[str, torch.Tensor]], model, methods: list[str], levels: list[int]) -> dict:
    """Per level and method: the ratios, the PSNR differences, the seconds per estimate."""
    out: dict = {}
    for level in levels:
        sigma = level / 255
        rows = {m: {"ratio": [], "psnr_diff": [], "seconds": []} for m in methods}
        psnr_true = []
        for name, x in images:
            y = noisy(x, name, level)
            truth = psnr(denoise(y, model, sigma=sigma).clamp(0, 1), x)
            psnr_true.append(truth)
            for m in methods:
                t = time.perf_counter()
                s = float(estimate_noise(y, energy=model if m == "energy" else None, method=m,
                                         generator=probe(name, level))[0])
                rows[m]["seconds"].append(time.perf_counter() - t)
                rows[m]["ratio"].append(s / sigma)
                rows[m]["psnr_diff"].append(psnr(denoise(y, model, sigma=s).clamp(0, 1), x) - truth)
        out[str(level)] = {"n_images": len(images), "psnr_true_sigma": round(statistics.mean(psnr_true), 3),
                           **{m: summary(r) for m, r in rows.items()}}
    return out


def summary(r: dict[str, list[float]]) -> dict:
    d = r["psnr_diff"]
    return {"ratio": stats(r["ratio"]), "within_10pct": sum(abs(v - 1) <= BAR_RATIO for v in r["ratio"]),
            "psnr_est_minus_true": {"mean": round(statistics.mean(d), 4),
                                    "std": round(statistics.stdev(d), 4) if len(d) > 1 else 0.0,
                                    "min": round(min(d), 4)},
            "seconds_per_image": round(statistics.mean(r["seconds"]), 3)}


def meets_bar(result: dict, method: str) -> bool:
    """Every image within 10 % and the mean PSNR difference at least -0.1 dB, at every level from 15/255 on."""
    ok = True
    for level, row in result.items():
        if int(level) < BAR_FROM:
            continue
        r = row[method]
        ok &= r["within_10pct"] == row["n_images"] and r["psnr_est_minus_true"]["mean"] >= -BAR_PSNR
    return bool(ok)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="deep_energy", help="a bundled noise-conditional model's name or a model file")
    ap.add_argument("--methods", nargs="+", default=list(NOISE_METHODS), choices=NOISE_METHODS)
    ap.add_argument("--levels", nargs="+", type=int, default=list(LEVELS), help="noise levels on the 0..255 scale")
    ap.add_argument("--limit", type=int, default=None, help="the first N images of each set only")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.limit is not None and args.limit < 2:
        ap.error("--limit must be >= 2 (the spreads need two images)")
    model = load_prior(args.model)
    start = time.perf_counter()
    sets = {"grey": score(grey_images(args.limit), model, args.methods, args.levels),
            "colour": score(colour_images(args.limit), model, args.methods, args.levels)}
    path = resolve(args.model).resolve()
    result = {"benchmark": "noise_estimation", **stamp("scorematch.tasks.noise_level", "scorematch.tasks.denoise",
                                                       models={args.model: path.relative_to(ROOT)},
                                                       parts=(*DENOISING, "noise_target")),
              "model": str(args.model), "model_info": load_info(resolve(args.model)), "limit": args.limit,
              "partial": args.limit is not None, "levels_over_255": args.levels, "threads": torch.get_num_threads(),
              "load_average": load_average(), "seconds": round(time.perf_counter() - start, 1),
              "meets_bar": {s: {m: meets_bar(r, m) for m in args.methods} for s, r in sets.items()}, **sets}
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
