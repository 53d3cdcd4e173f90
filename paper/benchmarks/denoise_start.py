"""Benchmark: the denoising start and iteration budget, on the tuning crops; prints JSON.

    PYTHONPATH=src python paper/benchmarks/denoise_start.py [--out F]

The choices behind :data:`scorematch.tasks.operators.START_SMOOTHING`,
:data:`scorematch.tasks.solvers.DEFAULT_ITERATIONS` (``"denoise"``) and
:data:`scorematch.tasks.solvers.DENOISE_RTOL`: the bundled ``foe_5x5x24`` at its presets' weights denoises the
central 128x128 crops of the six tuning images (one noise draw per level, the restoration experiment's tuning draw)
by the solvers' L-BFGS (:func:`scorematch.tasks.lbfgs.minimize`: memory 10, strong Wolfe) from ``y`` smoothed by a
Gaussian of std ``factor * sigma`` pixels (factor 0: ``y`` itself), and records the mean PSNR every 10 iterations up
to 150 (``psnr``). ``rtol`` runs :func:`scorematch.tasks.denoise` itself (the default start and budget) with each
relative-decrease tolerance of a grid: iterations, evaluations and mean PSNR, and the PSNR's difference from
``rtol = 0`` (all ``DEFAULT_ITERATIONS["denoise"]`` iterations). No reported image is used.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import emit, load_average  # noqa: E402
from scorematch_paper.experiments.restoration import TUNE_IMAGES  # noqa: E402
from scorematch_paper.experiments.restoration.data import frozen, mean_psnr, noise, noise_seed, tune_set  # noqa: E402
from scorematch.pretrained import resolve  # noqa: E402
from scorematch.prior import ImagePrior, load_prior  # noqa: E402
from scorematch.serialization import load  # noqa: E402
from scorematch.tasks import MAP, Denoising, denoise, lbfgs, objective_and_grad  # noqa: E402
from scorematch.tasks import operators  # noqa: E402

LEVELS = (5, 15, 25)
FACTORS = (0.0, 6.4, 8.192, 10.24)  # std of the start's smoothing per unit of sigma (pixels)
CHUNK, ITERS = 10, 150
RTOLS = (0.0, 3e-6, 1e-5, 3e-5, 1e-4)


def _start(y: torch.Tensor, sigma: float, factor: float) -> torch.Tensor:
    if factor == 0:
        return y.clone()
    saved, operators.START_SMOOTHING = operators.START_SMOOTHING, factor
    try:
        return Denoising(sigma).start(y)
    finally:
        operators.START_SMOOTHING = saved


def _trajectory(prior, x: torch.Tensor, y: torch.Tensor, sigma: float, weight: float, factor: float) -> dict[str, float]:
    """Mean PSNR after every ``CHUNK`` iterations (key: iterations; "0": the start)."""
    op = Denoising(sigma)
    start = _start(y, sigma, factor)
    out = {"0": round(mean_psnr(start, x), 3)}

    def record(z: torch.Tensor, value: float) -> None:
        record.n += 1
        if record.n % CHUNK == 0:
            out[str(record.n)] = round(mean_psnr(z, x), 3)

    record.n = 0
    image_prior = ImagePrior(prior)  # the default boundary rule, as denoise has it
    lbfgs.minimize(lambda z: objective_and_grad(z, y, op, image_prior, sigma=sigma, weight=weight), start,
                   max_iter=ITERS, tol_grad=1e-6, tol_change=1e-12, callback=record)
    return out


class _Counts(logging.Handler):
    """The iterations and evaluations that :func:`scorematch.tasks.restore` logs."""

    def emit(self, record: logging.LogRecord) -> None:
        self.n_iter, self.n_eval = record.args


def _stopping(prior, x: torch.Tensor, y: torch.Tensor, sigma: float, weight: float) -> dict[str, dict]:
    """``denoise`` with each tolerance of ``RTOLS``: iterations, evaluations, mean PSNR and its change."""
    counts = _Counts()
    logger = logging.getLogger("scorematch.tasks.restore")
    logger.addHandler(counts)
    logger.setLevel(logging.INFO)
    out = {}
    try:
        for rtol in RTOLS:
            p = mean_psnr(denoise(y, prior, sigma=sigma, solver=MAP(weight=weight, rtol=rtol)), x)
            out[f"{rtol:g}"] = {"iterations": counts.n_iter, "evaluations": counts.n_eval, "psnr": round(p, 4),
                                "psnr_minus_rtol_0": round(p - out["0"]["psnr"], 4) if out else 0.0}
    finally:
        logger.removeHandler(counts)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    path = resolve("foe_5x5x24")
    prior, x = frozen(load(path)), tune_set(128)
    result = {"benchmark": "denoise_start", "model": "foe_5x5x24", "images": list(TUNE_IMAGES), "crop": 128,
              "factors": list(FACTORS), "rtols": list(RTOLS), "load_avg_start": load_average(), "psnr": {}, "rtol": {}}
    for level in LEVELS:
        sigma = level / 256
        y = noise(x, level, noise_seed("tune", level, 0))
        weight = load_prior(path).presets.denoising(sigma).weight
        result["psnr"][str(level)] = {"weight": weight, **{
            f"{factor:g}": _trajectory(prior, x, y, sigma, weight, factor) for factor in FACTORS}}
        result["rtol"][str(level)] = _stopping(prior, x, y, sigma, weight)
    result["load_avg_end"] = load_average()
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
