"""The default denoiser against BM3D on whole photos, by the evaluation protocol (``docs/evaluation.md``).

    python paper/benchmarks/denoise_photos.py [--model NAME|PATH] [--sets test validation validation-colour set12]
        [--levels 15 25 50] [--limit N] [--cache DIR] [--out FILE.json]

Sets (whole images, one noise draw per image and level, seeded by set, image and level; the noise is added to the
[0, 1] image without clipping): ``test``: ``data/testset`` (29 colour photos; also their luminance as grey images),
scored once per frozen model and never used for a choice; ``validation``: the 41 grey validation images
(Set12's airplane and the held-out tenth of Train400); ``validation-colour``: the 20 held-out colour photos of the
colour split; ``set12``: the twelve Set12 images. Levels on the x/255 scale (5/256 is given as ``5/256``).

Each image is denoised by ``scorematch.denoise`` (the library's default path: the prior's presets; ``--model``
names another prior) and by BM3D (``bm3d.bm3d``, grey) or colour BM3D (``bm3d.bm3d_rgb``, its default opponent
transform) at the true sigma. BM3D's PSNRs are cached in ``--cache`` (keyed on the image, level, seed and the bm3d
version). Per set, kind and level: the mean PSNRs, the paired difference ours - BM3D (mean, the standard deviation
of the per-image differences, the standard error of their mean), how many images went each way, and the verdict
(above or below BM3D only beyond two standard errors, else "not resolved").
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _output import cpu_model, emit, load_average  # noqa: E402

import scorematch as sm  # noqa: E402
from scorematch.datasets import colour_split, data_dir, list_images  # noqa: E402
from scorematch_paper.stamps import DENOISING, stamp  # noqa: E402
from scorematch_paper.experiments.compare import is_unresolved, paired_difference  # noqa: E402
from scorematch_paper.experiments.restoration.data import heldout_images  # noqa: E402
from scorematch.metrics import psnr  # noqa: E402
from scorematch.pretrained import resolve  # noqa: E402
from scorematch.prior import DEFAULT_PRIORS, load_prior  # noqa: E402

SETS = ("test", "validation", "validation-colour", "set12")
LEVELS = ("15", "25", "50", "5/256")


def level_value(text: str) -> float:
    """``"15"`` -> 15/255, ``"5/256"`` -> 5/256."""
    num, _, den = text.partition("/")
    return float(num) / float(den or 255)


def images(name: str, limit: int | None) -> list[tuple[str, str, np.ndarray]]:
    """(image name, kind, clean image) of a set: kind ``grey`` (H, W) or ``colour`` (H, W, 3), values on [0, 1]."""
    from PIL import Image

    def read(path: Path, mode: str) -> np.ndarray:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode), dtype=np.float64) / 255.0

    out = []
    if name == "test":
        files = list_images(data_dir() / "testset")[:limit]
        out += [(f.stem, "grey", read(f, "L")) for f in files] + [(f.stem, "colour", read(f, "RGB")) for f in files]
    elif name == "validation":
        out += [(n, "grey", read(f, "L")) for n, f in heldout_images(limit)]
    elif name == "validation-colour":
        out += [(f.stem, "colour", read(f, "RGB")) for f in colour_split()["heldout"][:limit]]
    else:
        out += [(f.stem, "grey", read(f, "L")) for f in list_images(data_dir() / "set12")[:limit]]
    return out


def noisy(x: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    return x + sigma * np.random.default_rng(seed).standard_normal(x.shape)


def seed_of(*parts: str) -> int:
    return int(hashlib.sha1("/".join(parts).encode()).hexdigest()[:8], 16)


def bm3d_psnr(x: np.ndarray, y: np.ndarray, sigma: float, kind: str, key: str, cache: Path) -> tuple[float, float]:
    """PSNR and seconds of (colour) BM3D on ``y``, cached under ``key``."""
    import bm3d

    version = importlib.metadata.version("bm3d")
    path = cache / f"{hashlib.sha1((key + version).encode()).hexdigest()[:16]}.json"
    if path.is_file():
        got = json.loads(path.read_text())
        return got["psnr"], got["seconds"]
    t0 = time.perf_counter()
    out = bm3d.bm3d_rgb(y, sigma_psd=sigma) if kind == "colour" else bm3d.bm3d(y, sigma_psd=sigma)
    seconds = time.perf_counter() - t0
    value = _psnr(np.asarray(out), x)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key, "bm3d": version, "psnr": value, "seconds": seconds}))
    return value, seconds


def _psnr(out: np.ndarray, x: np.ndarray) -> float:
    return psnr(torch.from_numpy(np.clip(out, 0, 1)), torch.from_numpy(x))


def ours(x: np.ndarray, y: np.ndarray, sigma: float, kind: str, prior) -> tuple[float, float]:
    t0 = time.perf_counter()
    out = sm.denoise(y, sigma, prior, channel_axis=-1 if kind == "colour" else None)
    return _psnr(out, x), time.perf_counter() - t0


def _relative(path: Path) -> Path:
    """A model file's path below the repository root (as the stamp records it), else as it is."""
    path = path.resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def summarize(rows: list[dict]) -> dict:
    """Per set, kind and level: means, the paired difference and the verdict."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(f"{r['set']}/{r['kind']}/{r['level']}", []).append(r)
    out = {}
    for key, rs in groups.items():
        diffs = [r["ours"] - r["bm3d"] for r in rs]
        mean, std = paired_difference([r["ours"] for r in rs], [r["bm3d"] for r in rs])
        stderr = std / math.sqrt(len(diffs))
        verdict = ("not resolved" if is_unresolved(mean, stderr, nan_std_unresolved=True)
                   else "above BM3D" if mean > 0 else "below BM3D")
        out[key] = {"n": len(rs), "ours": round(statistics.mean(r["ours"] for r in rs), 3),
                    "bm3d": round(statistics.mean(r["bm3d"] for r in rs), 3), "diff": round(mean, 3),
                    "diff_std": round(std, 3), "diff_stderr": round(stderr, 3),
                    "ours_better": sum(d > 0 for d in diffs), "bm3d_better": sum(d < 0 for d in diffs),
                    "verdict": verdict, "ours_seconds": round(statistics.mean(r["ours_seconds"] for r in rs), 2),
                    "bm3d_seconds": round(statistics.mean(r["bm3d_seconds"] for r in rs), 2)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help=f"the prior (default: the default priors, {DEFAULT_PRIORS})")
    ap.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    ap.add_argument("--levels", nargs="+", default=list(LEVELS))
    ap.add_argument("--limit", type=int, help="the first N images of each set only")
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "cache" / "bm3d")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--bm3d-only", action="store_true", help="fill the BM3D cache only (no model, no JSON)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    priors = {k: load_prior(args.model or DEFAULT_PRIORS[k]) for k in (1, 3)}
    models = {p.name: _relative(resolve(args.model or DEFAULT_PRIORS[k])) for k, p in priors.items()}
    rows, t_start = [], time.perf_counter()
    for set_name in args.sets:
        for name, kind, x in images(set_name, args.limit):
            for level in args.levels:
                sigma = level_value(level)
                y = noisy(x, sigma, seed_of(set_name, kind, name, level))
                key = f"{set_name}/{kind}/{name}/{level}"
                b, bt = bm3d_psnr(x, y, sigma, kind, key, args.cache)
                if args.bm3d_only:
                    continue
                o, ot = ours(x, y, sigma, kind, priors[3 if kind == "colour" else 1])
                rows.append({"set": set_name, "kind": kind, "image": name, "level": level, "noisy": _psnr(y, x),
                             "ours": o, "bm3d": b, "ours_seconds": ot, "bm3d_seconds": bt})
                print(f"{key}: ours {o:.3f} bm3d {b:.3f} ({o - b:+.3f})", file=sys.stderr, flush=True)
    if args.bm3d_only:
        return 0
    emit({"benchmark": "denoise_photos", **stamp("scorematch.restoration", models=models, parts=DENOISING),
          "threads": args.threads, "load_average_end": load_average(), "cpu": cpu_model(),
          "seconds": round(time.perf_counter() - t_start, 1), "summary": summarize(rows), "rows": rows}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
