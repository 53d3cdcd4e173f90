"""Benchmark: the deep energy's denoiser beside BM3D and the bundled FoE on the held-out images; JSON.

    PYTHONPATH=src python paper/benchmarks/deep_energy.py [--model deep_energy] [--out F]

For every held-out image (:func:`scorematch_paper.experiments.restoration.heldout_images`) and level of the stored
held-out table (``docs/results/restoration/heldout.json``), the noisy image is drawn exactly as the experiment drew
it (checked against the table's noisy PSNR) and denoised, in the same loop, by the deep energy as
``scorematch denoise --model NAME`` does it (:func:`denoiser`: as its file's presets prescribe for the level, MAP
with the field, weight, iterations and start chosen on the tuning crops by ``paper/benchmarks/deep_energy_map.py``;
Tweedie's estimate for a file without them), by its Tweedie estimate (:func:`scorematch.tasks.tweedie`, one gradient
evaluation) and by
BM3D (``bm3d`` package, ``sigma_psd`` = the true level); the bundled FoE's PSNR is the table's. Per level: means
and the paired differences (mean, std of the mean, images where the first is higher). Then the time of the
default denoiser and BM3D on the 512x512 Lena at 5, 15 and 25/256 (medians of 3, interleaved, after one warm-up).
The JSON carries a stamp (:func:`scorematch_paper.stamps.stamp`) of the denoising code and of the model file's
weights and denoising presets, and the SHA-256 of the held-out table (rerun it after the restoration stage is
republished: the noise draws and the FoE's column are the table's).
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

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import emit  # noqa: E402

from scorematch import load_info  # noqa: E402
from scorematch.datasets import data_dir, read_image  # noqa: E402
from scorematch_paper.experiments.beyond.problems import colour_bm3d  # noqa: E402
from scorematch_paper.experiments.restoration.data import noise, noise_seed, heldout_images  # noqa: E402
from scorematch.pretrained import resolve  # noqa: E402
from scorematch.prior import ImagePrior, load_prior  # noqa: E402
from scorematch.tasks import MAP, denoise, psnr, tweedie  # noqa: E402
from scorematch.tasks.solvers import resolve as resolve_solver  # noqa: E402
from scorematch_paper.stamps import DENOISING, stamp  # noqa: E402

#: The code the figures depend on: the denoiser (MAP or Tweedie, as the presets say), the prior's loading and its
#: presets, and the held-out images and noise draws.
MODULES = ("scorematch.tasks.denoise", "scorematch.tasks.tweedie", "scorematch.prior",
           "scorematch_paper.experiments.restoration.data")


def bm3d_denoise(y: torch.Tensor, sigma: float) -> torch.Tensor:
    """BM3D of one image ``y`` (1, C, H, W): ``bm3d.bm3d`` for grey, colour BM3D (``bm3d.bm3d_rgb``) for C = 3."""
    import bm3d

    if y.shape[1] == 3:
        return colour_bm3d(y.double(), sigma).clamp(0, 1).float()
    out = np.asarray(bm3d.bm3d(y[0, 0].double().numpy(), sigma_psd=sigma), dtype=np.float64)
    return torch.from_numpy(np.clip(out, 0, 1))[None, None].float()


def paired(a: list[float], b: list[float]) -> dict[str, float]:
    d = [u - v for u, v in zip(a, b)]
    return {"mean": round(statistics.mean(d), 3), "std_of_mean": round(statistics.stdev(d) / math.sqrt(len(d)), 3),
            "images_first_higher": sum(v > 0 for v in d)}


def denoiser(prior: ImagePrior) -> "callable":
    """``(y, sigma) -> x`` as ``scorematch denoise --model name`` runs it (:func:`scorematch.tasks.denoise` with the
    prior :func:`~scorematch.prior.load_prior` reads): MAP with the field, weight, iterations and start its presets
    give the level, else Tweedie's estimate."""
    def run(y: torch.Tensor, sigma: float) -> torch.Tensor:
        return denoise(y, prior, sigma=sigma)

    return run


def _timing(run, level: int, rounds: int = 3) -> dict[str, float]:
    x = read_image(data_dir() / "set12" / "lena.png", dtype=torch.float32)[None, None]
    y = noise(x, level, noise_seed("lena", level, 0))
    run(y, level / 256)  # warm-up
    ours, theirs = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        out = run(y, level / 256)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        ref = bm3d_denoise(y, level / 256)
        theirs.append(time.perf_counter() - t)
    return {"image": f"lena 512x512 at {level}/256", "deep_energy_s": round(statistics.median(ours), 3),
            "bm3d_s": round(statistics.median(theirs), 3), "deep_energy_psnr": round(psnr(out.clamp(0, 1), x), 3),
            "bm3d_psnr": round(psnr(ref, x), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="deep_energy", help="a bundled model's name or a model file")
    ap.add_argument("--heldout", type=Path, default=ROOT / "docs" / "results" / "restoration" / "heldout.json")
    ap.add_argument("--limit", type=int, default=None, help="the first N held-out images only")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    args.heldout = args.heldout.resolve()  # recorded relative to the repository root
    prior = load_prior(args.model)  # frozen, in eval mode
    run = denoiser(prior)
    rows = json.loads(args.heldout.read_text())["result"]
    files = dict(heldout_images(args.limit))
    scores: dict[int, dict[str, list[float]]] = {}
    for r in rows:
        if r["image"] not in files:
            continue
        x = read_image(files[r["image"]], dtype=torch.float32)[None, None]
        y = noise(x, r["level"], noise_seed(r["image"], r["level"], 0))
        if abs(psnr(y, x) - r["noisy"]) > 1e-6:
            raise SystemExit(f"{r['image']} at {r['level']}/256: not the experiment's noise draw")
        with torch.no_grad():
            tweedie_psnr = psnr(tweedie(y, prior, sigma=r["level"] / 256).clamp(0, 1), x)
        s = scores.setdefault(r["level"], {k: [] for k in ("deep_energy", "deep_energy_tweedie", "bm3d", "foe_5x5x24")})
        s["deep_energy"].append(psnr(run(y, r["level"] / 256).clamp(0, 1), x))
        s["deep_energy_tweedie"].append(tweedie_psnr)
        s["bm3d"].append(psnr(bm3d_denoise(y, r["level"] / 256), x))
        s["foe_5x5x24"].append(r["foe_5x5x24"])
    path = resolve(args.model).resolve()
    result = {"benchmark": "deep_energy",
              **stamp(*MODULES, models={str(args.model): path.relative_to(ROOT) if path.is_relative_to(ROOT) else path},
                      parts=DENOISING),
              "model": str(args.model),
              "model_info": load_info(path), "heldout_file": str(args.heldout.relative_to(ROOT)),
              "heldout_sha256": hashlib.sha256(args.heldout.read_bytes()).hexdigest(),
              "threads": torch.get_num_threads(), "levels": {}}
    for level, s in sorted(scores.items()):
        result["levels"][str(level)] = {
            "n_images": len(s["bm3d"]), **{f"{k}_psnr": round(statistics.mean(v), 3) for k, v in s.items()},
            "deep_minus_bm3d": paired(s["deep_energy"], s["bm3d"]),
            "deep_minus_foe_5x5x24": paired(s["deep_energy"], s["foe_5x5x24"]),
            "deep_tweedie_minus_bm3d": paired(s["deep_energy_tweedie"], s["bm3d"])}
    result["denoiser"] = "map" if isinstance(resolve_solver(prior, "denoise", 0.05, None), MAP) else "tweedie"
    result["timing_512_by_level"] = {str(lv): _timing(run, lv) for lv in (5, 15, 25)}
    result["timing_512"] = result["timing_512_by_level"]["5"]
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
