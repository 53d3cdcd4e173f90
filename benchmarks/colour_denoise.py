"""Benchmark: colour denoising on the held-out colour images: the colour prior against the grey prior per channel and
colour BM3D; prints JSON.

    PYTHONPATH=src python benchmarks/colour_denoise.py [--set heldout|tune] [--crop 256] [--levels 5 15 25]
        [--methods colour grey cbm3d] [--out docs/results/benchmarks/colour_denoise.json]

Images: the held-out part of ``data/bsds300-train`` (every 10th of the sorted list, 20 images:
:func:`scorematch.datasets.colour_split`; no choice of the colour prior looked at them), or ``--set tune`` (the 6
tuning images), each cut to its central ``--crop`` square (0: whole images). Noise: i.i.d. Gaussian per pixel and
channel of std ``level / 256``, seeded by image name and level, not clipped. Methods (each at its model card's
recommended weight for the level):

- ``colour``: the bundled colour prior (``--model``, default ``foe_colour_5x5x24``), MAP by L-BFGS (``denoise``);
- ``grey``: the bundled grey prior ``foe_5x5x24`` applied to each RGB channel alone;
- ``cbm3d``: colour BM3D (``bm3d.bm3d_rgb(noisy, sigma_psd=sigma)``, its default opponent colour transform);
- ``bm3d_per_channel``: grey BM3D on each channel alone (optional: slow).

Per level: mean PSNR per method, and the colour prior minus each other method paired over the images (mean, std of
the mean = std of the per-image differences / sqrt(n), images where the colour prior is higher, and ``tie`` when
the mean difference is below two stds of the mean). Per-image PSNRs are cached under ``runs/colour_denoise/`` (by
method, model file hash, image set, crop and level) so that methods can be computed in separate runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _output import emit, load_average  # noqa: E402
from scorematch.datasets import colour_crops, colour_split  # noqa: E402
from scorematch.pretrained import (DEFAULT_COLOUR_PRIOR, DEFAULT_PRIOR, load_pretrained,  # noqa: E402
                                    recommended_weight, resolve)
from scorematch.experiments.restoration.data import frozen, noise_seed  # noqa: E402
from scorematch.tasks import Denoising, denoise, psnr  # noqa: E402

METHODS = ("colour", "grey", "cbm3d", "bm3d_per_channel")


def _noisy(x: torch.Tensor, name: str, level: int) -> torch.Tensor:
    return Denoising(level / 256)(x, generator=torch.Generator().manual_seed(noise_seed(f"colour/{name}", level)))


def _bm3d(y: torch.Tensor, sigma: float, colour: bool) -> torch.Tensor:
    import bm3d

    if colour:
        out = np.asarray(bm3d.bm3d_rgb(y.permute(1, 2, 0).double().numpy(), sigma_psd=sigma)).transpose(2, 0, 1)
    else:
        out = np.stack([np.asarray(bm3d.bm3d(c.double().numpy(), sigma_psd=sigma)) for c in y])
    return torch.from_numpy(np.ascontiguousarray(out))  # (3, H, W)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=("heldout", "tune"), default="heldout")
    ap.add_argument("--crop", type=int, default=256, help="central crop side (0: whole images)")
    ap.add_argument("--levels", type=int, nargs="+", default=[5, 15, 25], help="noise std in 1/256 units")
    ap.add_argument("--methods", nargs="+", choices=METHODS, default=["colour", "grey", "cbm3d"])
    ap.add_argument("--model", default=DEFAULT_COLOUR_PRIOR, help="the colour prior (name or file)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "colour_denoise")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start, load_start = time.perf_counter(), load_average()
    files = colour_split()[args.set]
    names = [f.stem for f in files]
    x = colour_crops(files, args.crop or None)  # (N, 3, crop, crop)
    paths = {"colour": resolve(args.model), "grey": resolve(DEFAULT_PRIOR)}
    priors = {k: frozen(load_pretrained(p)) for k, p in paths.items()}
    scores: dict[str, dict[int, list[float]]] = {m: {} for m in ["noisy", *args.methods]}
    seconds: dict[str, float] = {}
    weights = {k: {str(lv): recommended_weight(p, lv / 256) for lv in args.levels} for k, p in paths.items()}
    for lv in args.levels:
        ys = [_noisy(x[i : i + 1], n, lv) for i, n in enumerate(names)]  # each (1, 3, H, W)
        scores["noisy"][lv] = [psnr(y[0], x[i]) for i, y in enumerate(ys)]
        for m in args.methods:
            tag = _sha(paths[m]) if m in paths else "bm3d"
            key = f"{m}_{tag}_{args.set}_{args.crop}_{lv}"
            cache = args.cache / f"{key}.json"
            if cache.is_file():
                stored = json.loads(cache.read_text())
                scores[m][lv], seconds[f"{m}/{lv}"] = stored["psnr"], stored["seconds"]
                continue
            t0, row = time.perf_counter(), []
            for i, y in enumerate(ys):
                if m in paths:
                    out = denoise(y, priors[m], sigma=lv / 256, weight=weights[m][str(lv)])[0]
                else:
                    out = _bm3d(y[0], lv / 256, colour=m == "cbm3d").to(x.dtype)
                row.append(psnr(out.clamp(0, 1), x[i]))
            scores[m][lv], seconds[f"{m}/{lv}"] = row, round(time.perf_counter() - t0, 1)
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"images": names, "psnr": row, "seconds": seconds[f"{m}/{lv}"]}))
    result = {"benchmark": "colour_denoise", "set": args.set, "images": names, "crop": args.crop or "full",
              "noise": "i.i.d. Gaussian per pixel and channel, std level/256, seeded per image and level",
              "models": {k: str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for k, p in paths.items()
                         if k in args.methods},
              "weights": {k: w for k, w in weights.items() if k in args.methods}, "threads": args.threads,
              "seconds": seconds, "levels": {}}
    for lv in args.levels:
        entry: dict = {"n_images": len(names), "mean_psnr": {m: round(statistics.mean(s[lv]), 3)
                                                             for m, s in scores.items()}}
        if "colour" in args.methods:
            entry["colour_minus"] = {}
            for m in [k for k in scores if k != "colour"]:
                d = [a - b for a, b in zip(scores["colour"][lv], scores[m][lv])]
                mean, som = statistics.mean(d), statistics.stdev(d) / math.sqrt(len(d))
                entry["colour_minus"][m] = {"mean": round(mean, 3), "std_of_mean": round(som, 3),
                                            "images_colour_higher": sum(v > 0 for v in d),
                                            "tie": abs(mean) < 2 * som}
        entry["per_image"] = {m: [round(v, 3) for v in s[lv]] for m, s in scores.items()}
        result["levels"][str(lv)] = entry
    result.update({"wall_seconds": round(time.perf_counter() - t_start, 1), "load_average_start": load_start,
                   "load_average_end": load_average()})
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
