"""Benchmark: the denoising start and iteration budget, on the tuning crops; prints JSON.

    PYTHONPATH=src python benchmarks/denoise_start.py [--out F]

The choice behind :data:`scorematch.tasks.operators.START_SMOOTHING` and
:data:`scorematch.tasks.denoise.DENOISE_ITERS`: the bundled ``foe_5x5x24`` at its model card's weights denoises the
central 128x128 crops of the six tuning images (one noise draw per level, the restoration experiment's tuning
draw) by L-BFGS (memory 10, strong Wolfe, as :func:`scorematch.tasks.restore`) from ``y`` smoothed by a Gaussian
of std ``factor * sigma`` pixels (factor 0: ``y`` itself), and records the mean PSNR every 10 iterations up to
150 (the optimizer is stepped 10 iterations at a time, its memory kept). No reported image is used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _output import emit, load_average  # noqa: E402
from scorematch.experiments.restoration import TUNE_IMAGES, _frozen, _mean_psnr, _noise, _seed, _tune_set  # noqa: E402
from scorematch.pretrained import recommended_weight, resolve  # noqa: E402
from scorematch.serialization import load  # noqa: E402
from scorematch.tasks import Denoising, objective_and_grad  # noqa: E402
from scorematch.tasks import operators  # noqa: E402
from scorematch.tasks.restore import _max_eval  # noqa: E402

LEVELS = (5, 15, 25)
FACTORS = (0.0, 6.4, 8.192, 10.24)  # std of the start's smoothing per unit of sigma (pixels)
CHUNK, ITERS = 10, 150


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
    z = torch.nn.Parameter(_start(y, sigma, factor))
    opt = torch.optim.LBFGS([z], lr=1.0, max_iter=CHUNK, max_eval=_max_eval(CHUNK), history_size=10,
                            tolerance_grad=1e-6, tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        with torch.no_grad():
            value, g = objective_and_grad(z.data, y, op, prior, sigma=sigma, weight=weight)
        z.grad = g
        return value

    out = {"0": round(_mean_psnr(z.detach(), x), 3)}
    for it in range(CHUNK, ITERS + 1, CHUNK):
        opt.step(closure)
        out[str(it)] = round(_mean_psnr(z.detach(), x), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    path = resolve("foe_5x5x24")
    prior, x = _frozen(load(path)), _tune_set(128)
    result = {"benchmark": "denoise_start", "model": "foe_5x5x24", "images": list(TUNE_IMAGES), "crop": 128,
              "factors": list(FACTORS), "load_avg_start": load_average(), "psnr": {}}
    for level in LEVELS:
        sigma = level / 256
        y = _noise(x, level, _seed("tune", level, 0))
        weight = recommended_weight(path, sigma)
        result["psnr"][str(level)] = {"weight": weight, **{
            f"{factor:g}": _trajectory(prior, x, y, sigma, weight, factor) for factor in FACTORS}}
    result["load_avg_end"] = load_average()
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
