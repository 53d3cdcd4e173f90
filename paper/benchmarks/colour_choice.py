"""Which prior denoises colour photos by default: a colour model whole, or a grey model on the opponent channels,
scored away from what the grey model trained on.

    python paper/benchmarks/colour_choice.py [--priors unet_colour unet] [--levels 5/256 15 25 50] [--out FILE.json]

The six colour tuning photos of :func:`scorematch.datasets.colour_split` are BSDS images, and Train400 (what the grey
models train on) holds a 180x180 grey crop of each. A comparison on the whole photos favours the grey model, so each
photo's Train400 crop is located (normalized cross-correlation of every Train400 image with the photo's luminance,
in its four rotations; a match is a correlation above :data:`MATCH`) and left out of the PSNR. Each prior denoises
the whole noisy photo (one noise draw per photo and level, seeded by photo and level) as ``scorematch.denoise`` runs
it (its presets); the PSNR is over the pixels outside the crop, all channels. Per level: the mean PSNRs, the paired
difference of each prior against the first (mean, std, standard error, images each way).
"""

from __future__ import annotations

import argparse
import hashlib
import math
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

import scorematch as sm  # noqa: E402
from scorematch.datasets import colour_split, data_dir, list_images  # noqa: E402
from scorematch.pretrained import resolve  # noqa: E402
from scorematch_paper.experiments.compare import paired_difference  # noqa: E402
from scorematch_paper.stamps import DENOISING, stamp  # noqa: E402

LEVELS = ("5/256", "15", "25", "50")
#: A Train400 image and a window of the photo with a normalized cross-correlation above this are the same crop
#: (an unrelated pair stays under 0.8 on these photos).
MATCH = 0.95
CROP = 180


def level_value(text: str) -> float:
    num, _, den = text.partition("/")
    return float(num) / float(den or 255)


def _read(path: Path, mode: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert(mode), dtype=np.float64) / 255.0


def _box(a: np.ndarray, n: int) -> np.ndarray:
    """Sums of ``a`` over every n x n window (valid positions)."""
    c = np.pad(a, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return c[n:, n:] - c[:-n, n:] - c[n:, :-n] + c[:-n, :-n]


def train_crop_mask(grey: np.ndarray, templates: np.ndarray) -> tuple[np.ndarray, float]:
    """The mask (H, W) of the photo's pixels that a Train400 image covers (False everywhere when none matches) and
    the best correlation found."""
    best, mask = 0.0, np.zeros(grey.shape, dtype=bool)
    for k in range(4):
        img = np.rot90(grey, k)
        spectrum = np.fft.rfft2(img)
        s1, s2 = _box(img, CROP), _box(img**2, CROP)
        norm = np.sqrt(np.maximum(s2 - s1**2 / CROP**2, 1e-12))
        h, w = s1.shape
        for t in templates:
            corr = np.fft.irfft2(spectrum * np.conj(np.fft.rfft2(t, img.shape)), img.shape)[:h, :w] / norm
            i, j = np.unravel_index(corr.argmax(), corr.shape)
            if corr[i, j] > best:
                best = float(corr[i, j])
                if best > MATCH:
                    m = np.zeros(img.shape, dtype=bool)
                    m[i : i + CROP, j : j + CROP] = True
                    mask = np.rot90(m, -k)
    return mask, best


def _templates() -> np.ndarray:
    """Train400's images, zero mean and unit norm, (400, 180, 180)."""
    t = np.stack([_read(f, "L") for f in list_images(data_dir() / "train400")])
    t -= t.mean((1, 2), keepdims=True)
    return t / np.sqrt((t**2).sum((1, 2), keepdims=True))


def masked_psnr(out: np.ndarray, x: np.ndarray, keep: np.ndarray) -> float:
    err = ((np.clip(out, 0, 1) - x) ** 2)[keep].mean()
    return 10 * math.log10(1 / err)


def paired(a: list[float], b: list[float]) -> dict:
    """``a - b`` paired over the photos: mean, std, standard error and the photos each way."""
    mean, std = paired_difference(a, b)
    return {"mean": round(mean, 4), "std": round(std, 4), "stderr": round(std / math.sqrt(len(a)), 4),
            "better": sum(p > q for p, q in zip(a, b)), "worse": sum(p < q for p, q in zip(a, b))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--priors", nargs="+", default=["unet_colour", "unet"])
    ap.add_argument("--levels", nargs="+", default=list(LEVELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0, templates = time.perf_counter(), _templates()
    priors = {name: sm.load_prior(name) for name in args.priors}
    photos, scores = [], {lv: {p: [] for p in priors} for lv in args.levels}
    for f in colour_split()["tune"]:
        x = _read(f, "RGB")
        mask, corr = train_crop_mask(_read(f, "L"), templates)
        photos.append({"photo": f.name, "train400_correlation": round(corr, 4), "left_out_pixels": int(mask.sum())})
        for level in args.levels:
            sigma = level_value(level)
            seed = int(hashlib.sha1(f"colour-choice/{f.stem}/{level}".encode()).hexdigest()[:8], 16)
            y = x + sigma * np.random.default_rng(seed).standard_normal(x.shape)
            for name, prior in priors.items():
                out = sm.denoise(y, sigma, prior, channel_axis=-1)
                scores[level][name].append(masked_psnr(out, x, ~mask))
        print(f"{f.name}: corr {corr:.3f}", file=sys.stderr, flush=True)
    first = args.priors[0]
    levels = {lv: {"mean_psnr": {p: round(statistics.mean(v), 4) for p, v in s.items()},
                   "per_photo": {p: [round(e, 4) for e in v] for p, v in s.items()},
                   "minus_first": {p: paired(s[p], s[first]) for p in args.priors[1:]}} for lv, s in scores.items()}
    emit({"benchmark": "colour_choice", **stamp("scorematch.restoration",
                                                models={p: resolve(p).resolve().relative_to(ROOT) for p in priors},
                                                parts=DENOISING),
          "priors": args.priors, "photos": photos, "match": MATCH, "cpu": cpu_model(), "threads": args.threads,
          "load_average_end": load_average(), "seconds": round(time.perf_counter() - t0, 1), "levels": levels},
         args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
