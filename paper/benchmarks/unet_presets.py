"""Choose a U-Net energy's denoising presets on the tuning images: Tweedie's estimate or MAP from it, per level.

    python paper/benchmarks/unet_presets.py MODEL [--colour] [--levels 5/256 15 25 50] [--compare PRIOR ...]
        [--out FILE.json]

Tuning images only (central ``CROP`` x ``CROP`` crops): grey, Set12's cameraman, couple, man, monarch, starfish,
parrot; colour (``--colour``), the six tuning photos of the colour split. One noise draw per image and level (seeded by image and level). For each
level: Tweedie's estimate, and MAP with the prior's field at ``ratio * sigma`` and weight ``w`` from Tweedie's
estimate (``ITERATIONS`` L-BFGS iterations) over the grid :data:`RATIOS` x :data:`WEIGHTS`; the best mean PSNR is
the level's preset (``"best"``; MAP only when it beats Tweedie's by :data:`MAP_MIN_GAIN`), written for ``scripts/bundle_presets.py --presets-json``. With ``--colour`` a grey
MODEL runs on the opponent channels (what ``scorematch denoise`` does with a grey prior on a colour image), so the
same JSON also compares a grey model with a colour one. ``--compare``: other priors denoised as their own presets
prescribe (the library's default path) on the same noisy crops, their mean PSNRs under ``"compare"``: how the
default prior is chosen.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _output import cpu_model, emit, load_average  # noqa: E402

from scorematch.datasets import colour_split  # noqa: E402
from scorematch_paper.stamps import DENOISING, stamp  # noqa: E402
from scorematch_paper.paths import data_dir  # noqa: E402
from scorematch.metrics import psnr  # noqa: E402
from scorematch.prior import load_prior  # noqa: E402
from scorematch.pretrained import resolve  # noqa: E402
from scorematch.tasks import MAP, Tweedie, denoise  # noqa: E402

GREY_TUNING = ("cameraman", "couple", "man", "monarch", "starfish", "parrot")
LEVELS = ("5/256", "15", "25", "50")
RATIOS = (0.1, 0.25)
WEIGHTS = (0.5, 1.0)
ITERATIONS = 5
#: MAP is chosen over Tweedie's estimate only when its mean PSNR is higher by at least this much (dB): it costs
#: about seven gradient evaluations to Tweedie's one.
MAP_MIN_GAIN = 0.05
#: The side of the central crops (the grey tuning images are 256x256 or 512x512, the colour ones 481x321).
CROP = 256


def level_value(text: str) -> float:
    num, _, den = text.partition("/")
    return float(num) / float(den or 255)


def tuning_images(colour: bool) -> list[tuple[str, torch.Tensor]]:
    """(name, central crop (1, C, CROP, CROP) on [0, 1]) of the tuning set."""
    from PIL import Image

    if colour:
        files = colour_split(data_dir() / "bsds300-train")["tune"]
        return [(f.stem, torch.from_numpy(np.asarray(Image.open(f).convert("RGB")) / 255.0).permute(2, 0, 1)[None])
                for f in files]
    return [(n, torch.from_numpy(np.asarray(Image.open(data_dir() / "set12" / f"{n}.png").convert("L")) / 255.0)
             [None, None]) for n in GREY_TUNING]


def _crop(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    i, j = (h - min(h, CROP)) // 2, (w - min(w, CROP)) // 2
    return x[..., i : i + CROP, j : j + CROP]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--colour", action="store_true")
    ap.add_argument("--levels", nargs="+", default=list(LEVELS))
    ap.add_argument("--compare", nargs="+", default=[], metavar="PRIOR", help="priors to run by their own presets")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    prior = load_prior(args.model)
    others = {name: load_prior(name) for name in args.compare}
    images = [(n, _crop(x.float())) for n, x in tuning_images(args.colour)]
    grid = [("tweedie", None, None)] + [(f"map a={a} w={w}", a, w) for a in RATIOS for w in WEIGHTS]
    levels, t0 = {}, time.perf_counter()
    for level in args.levels:
        sigma = level_value(level)
        scores: dict[str, list[float]] = {key: [] for key, _, _ in grid}
        compare: dict[str, list[float]] = {name: [] for name in others}
        for name, x in images:
            seed = int(hashlib.sha1(f"tune/{name}/{level}".encode()).hexdigest()[:8], 16)
            y = x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
            for key, a, w in grid:
                solver = Tweedie() if a is None else MAP(level=a * sigma, weight=w, iterations=ITERATIONS,
                                                         start="tweedie")
                with torch.no_grad():
                    out = denoise(y, prior, sigma=sigma, solver=solver)
                scores[key].append(psnr(out.clamp(0, 1), x))
            for other, p in others.items():
                with torch.no_grad():
                    compare[other].append(psnr(denoise(y, p, sigma=sigma).clamp(0, 1), x))
        means = {k: round(statistics.mean(v), 4) for k, v in scores.items()}
        best = max(means, key=means.get)
        if means[best] < means["tweedie"] + MAP_MIN_GAIN:
            best = "tweedie"
        _, a, w = next(g for g in grid if g[0] == best)
        preset = {"method": "tweedie"} if a is None else {"method": "map", "level_ratio": a, "weight": w,
                                                          "iterations": ITERATIONS, "start": "tweedie"}
        levels[level] = {"sigma": sigma, "mean_psnr": means, "best": preset,
                         "compare": {k: round(statistics.mean(v), 4) for k, v in compare.items()}}
        print(f"{level}: {means} -> {best}; {levels[level]['compare']}", file=sys.stderr, flush=True)
    emit({"benchmark": "unet_presets", "model": args.model,
          **stamp("scorematch.tasks.denoise", models={n: resolve(n).resolve().relative_to(ROOT)
                                                      for n in (args.model, *args.compare)},
                  parts={args.model: ("weights",), **{n: DENOISING for n in args.compare}}),  # it chooses the first's
          "colour": args.colour, "images": [n for n, _ in images], "cpu": cpu_model(),
          "threads": args.threads, "load_average_end": load_average(),
          "seconds": round(time.perf_counter() - t0, 1), "levels": levels}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
