"""Benchmark: choose the noise-conditional energy's MAP denoiser on the tuning crops; JSON.

    PYTHONPATH=src python paper/benchmarks/deep_energy_map.py [--model deep_energy] [--starts tweedie]
        [--iters 5 10 20 30] [--ratios ...] [--weights ...] [--jobs 2] [--out F]

MAP denoising with the field ``E_s`` of a noise-conditional energy at ``s = a * sigma``:
``argmin_x w E_s(x) + |x - y|^2 / (2 sigma^2)`` by :func:`scorematch.tasks.denoise` with ``MAP(level=s)`` (L-BFGS,
its stopping rule), for every first estimate of ``--starts`` (``smooth``: ``y`` smoothed a little; ``tweedie``:
Tweedie's estimate), iteration budget of ``--iters`` (0: the solver's default,
:data:`scorematch.tasks.solvers.DEFAULT_ITERATIONS`), ``a`` of ``--ratios`` and ``w`` of ``--weights`` (default
:data:`RATIOS`, :data:`WEIGHTS`), at 5, 15 and 25/256, on the central 128x128 crops of the six tuning images
(:data:`scorematch_paper.experiments.restoration.TUNE_IMAGES`, the restoration experiment's noise draws; for a colour
model the six colour tuning images, :func:`scorematch.datasets.colour_split`, with the beyond stage's tuning noise
draws); beside, on the same noisy crops, the energy's Tweedie estimate and BM3D (colour BM3D for colour; and for
colour what ``scorematch denoise`` runs by default, the grey default colour prior
(:data:`scorematch.prior.DEFAULT_PRIORS`) on the opponent channels with its presets, as ``opponent``). Per level:
every grid point's mean PSNR and the chosen one (:func:`choose`: the fewest iterations within :data:`TIE_DB` of the
best PSNR), which ``paper/scripts/bundle_presets.py --denoise`` records in the model file as its denoising presets. No
held-out image is read. Each grid point's score is cached in ``--cache`` (keyed on the model file's hash), so a grid
can be extended without recomputing the points it had.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import emit  # noqa: E402
from deep_energy import bm3d_denoise  # noqa: E402

from scorematch.datasets import colour_crops, colour_split  # noqa: E402
from scorematch_paper.experiments.beyond.problems import colour_noisy  # noqa: E402
from scorematch_paper.experiments.cache import git_state  # noqa: E402
from scorematch_paper.experiments.restoration import TUNE_IMAGES  # noqa: E402
from scorematch_paper.experiments.restoration.data import frozen, noise, noise_seed, tune_set  # noqa: E402
from scorematch.parallel import map_jobs  # noqa: E402
from scorematch.pretrained import load_pretrained, resolve  # noqa: E402
from scorematch.prior import DEFAULT_PRIORS, load_prior  # noqa: E402
from scorematch.prior.presets import STARTS  # noqa: E402
from scorematch.tasks import MAP, denoise, psnr, tweedie  # noqa: E402
from scorematch.tasks.solvers import DEFAULT_ITERATIONS  # noqa: E402

DENOISE_ITERS = DEFAULT_ITERATIONS["denoise"]

LEVELS = (5, 15, 25)
#: Levels of the field relative to the noise, ``s / sigma``.
RATIOS = (0.1, 0.15, 0.2, 0.25, 0.35, 0.5)
#: Prior weights.
WEIGHTS = (0.25, 0.35, 0.5, 0.7)
CROP = 128
#: PSNR differences (dB) under this count as equal when choosing: the fewer iterations win (the restoration
#: tables' tolerance for "unchanged").
TIE_DB = 0.02


def _noisy(level: int, colour: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The clean tuning crops (N, C, CROP, CROP) and each one's noisy draw (1, C, CROP, CROP) at ``level``."""
    if colour:
        files = colour_split()["tune"]
        x = colour_crops(files, CROP)
        return x, colour_noisy(x, [f.stem for f in files], level, "tune")
    x = tune_set(CROP)
    return x, [noise(x[i : i + 1], level, noise_seed(n, level, 0)) for i, n in enumerate(TUNE_IMAGES)]


def _score(job: tuple) -> float:
    """Mean PSNR over the tuning crops of one method (``map`` at ratio, weight, start and iterations, ``tweedie``,
    ``bm3d`` or, for colour, ``opponent``)."""
    model_name, method, level, ratio, weight, start, iters = job
    model, sigma = frozen(load_pretrained(model_name)), level / 256
    x, ys = _noisy(level, model.in_channels == 3)
    outs = []
    for y in ys:
        if method == "map":
            solver = MAP(level=ratio * sigma, weight=weight, iterations=iters or None,
                         start="tweedie" if start == "tweedie" else None)  # None: the smoothed y
            outs.append(denoise(y, model, sigma=sigma, solver=solver))
        elif method == "tweedie":
            with torch.no_grad():
                outs.append(tweedie(y, model, sigma=sigma))
        elif method == "opponent":
            outs.append(denoise(y, load_prior(DEFAULT_PRIORS[3]).to(dtype=y.dtype), sigma=sigma))
        else:
            outs.append(bm3d_denoise(y, sigma))
    return statistics.mean(psnr(o.clamp(0, 1), x[i : i + 1]) for i, o in enumerate(outs))


def _cached(job: tuple) -> float:
    """:func:`_score` of ``job[:-1]``, stored in the folder ``job[-1]`` under the model file's hash and the job."""
    model_name, method, level, ratio, weight, start, iters, folder = job
    digest = hashlib.sha256(resolve(model_name).read_bytes()).hexdigest()[:16]
    path = Path(folder) / f"{digest}_{method}_{level}_{ratio:g}_{weight:g}_{start}_{iters}.json"
    if path.is_file():
        return json.loads(path.read_text())["psnr"]
    value = _score(job[:-1])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"job": list(job[:-1]), "psnr": value}))
    return value


def choose(grid: list[dict]) -> dict:
    """The grid point with the fewest iterations among those within :data:`TIE_DB` of the best PSNR (then the
    highest PSNR)."""
    top = max(g["psnr"] for g in grid)
    return min((g for g in grid if g["psnr"] >= top - TIE_DB), key=lambda g: (g["iterations"], -g["psnr"]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="deep_energy")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (one torch thread each)")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "deep_energy_map")
    ap.add_argument("--starts", nargs="+", choices=STARTS, default=["tweedie"], help="first estimates")
    ap.add_argument("--iters", nargs="+", type=int, default=[5, 10, 20, 30],
                    help=f"L-BFGS iteration budgets (0: the default, {DENOISE_ITERS})")
    ap.add_argument("--ratios", nargs="+", type=float, default=list(RATIOS), help="levels of the field / sigma")
    ap.add_argument("--weights", nargs="+", type=float, default=list(WEIGHTS), help="prior weights")
    args = ap.parse_args(argv)
    jobs = [(args.model, "map", lv, a, w, s, n)
            for lv, a, w, s, n in itertools.product(LEVELS, args.ratios, args.weights, args.starts, args.iters)]
    colour = load_pretrained(args.model).in_channels == 3
    others = ("tweedie", "bm3d", "opponent") if colour else ("tweedie", "bm3d")
    jobs += [(args.model, m, lv, 0.0, 0.0, "", 0) for lv in LEVELS for m in others]
    scores = map_jobs(_cached, [(*j, str(args.cache)) for j in jobs], jobs=args.jobs)
    state = git_state()
    images = [f.stem for f in colour_split()["tune"]] if colour else list(TUNE_IMAGES)
    result = {"benchmark": "deep_energy_map", "commit": (state["commit"] or "unknown")[:7], "dirty": state["dirty"],
              "model": args.model, "crop": CROP, "colour": colour, "images": images, "ratios": args.ratios,
              "weights": args.weights, "starts": args.starts, "iterations": [n or DENOISE_ITERS for n in args.iters],
              "tie_db": TIE_DB, "levels": {}}
    for lv in LEVELS:
        grid = [{"level_ratio": a, "weight": w, "start": st, "iterations": n or DENOISE_ITERS, "psnr": round(s, 3)}
                for (_, m, level, a, w, st, n), s in zip(jobs, scores) if m == "map" and level == lv]
        other = {m: round(s, 3) for (_, m, level, *_), s in zip(jobs, scores) if m != "map" and level == lv}
        result["levels"][str(lv)] = {"grid": grid, "best": choose(grid), **other}
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
