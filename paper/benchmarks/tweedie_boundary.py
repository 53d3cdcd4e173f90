"""Diagnostic: Tweedie's estimate of a noise-conditional energy at the image border, by boundary rule; JSON.

    PYTHONPATH=src python paper/benchmarks/tweedie_boundary.py [--model deep_energy] [--out F]

On the central 128x128 crops of the six tuning images (the restoration experiment's noise draws at 5, 15 and
25/256; no held-out image is read), the mean PSNR of ``y - sigma^2 g`` for three gradients ``g`` of the field
``E_sigma``: ``fold`` (the gradient of ``E_sigma(extend(y))`` with the default ``replicate`` rule, the copies'
gradients folded back onto the edge pixels they copy: MAP's objective gradient, and Tweedie's before it took the
context rule), ``valid`` (the windows inside the image only) and ``context`` for each extension rule (the image
extended by ``support - 1`` pixels as context, the gradient at the image's own pixels:
:func:`scorematch.prior.evaluation.context_grad`, which :func:`scorematch.tasks.tweedie` takes); and the
mean squared error of ``fold`` on the image's outermost rows and columns against the rest, which shows where the
difference lies.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import emit  # noqa: E402

from scorematch_paper.experiments.cache import git_state  # noqa: E402
from scorematch_paper.experiments.restoration import TUNE_IMAGES  # noqa: E402
from scorematch_paper.experiments.restoration.data import frozen, noise, noise_seed, tune_set  # noqa: E402
from scorematch.pretrained import load_pretrained  # noqa: E402
from scorematch.tasks import psnr  # noqa: E402
from scorematch.prior.evaluation import context_grad, energy_and_grad  # noqa: E402

LEVELS, CROP, RULES = (5, 15, 25), 128, ("replicate", "symmetric", "reflect")


def _edge_mse(out: torch.Tensor, x: torch.Tensor) -> tuple[float, float]:
    """Mean squared error on the outermost rows and columns, and on the rest."""
    err = (out - x) ** 2
    inner = err[..., 1:-1, 1:-1]
    edge = (err.sum() - inner.sum()) / (err.numel() - inner.numel())
    return float(edge), float(inner.mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="deep_energy")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    model, x = frozen(load_pretrained(args.model)), tune_set(CROP)
    result = {"benchmark": "tweedie_boundary", "commit": (git_state()["commit"] or "unknown")[:7],
              "dirty": git_state()["dirty"], "model": args.model, "crop": CROP, "images": list(TUNE_IMAGES),
              "levels": {}}
    for lv in LEVELS:
        sigma, field = lv / 256, model.at(lv / 256)
        outs: dict[str, list[torch.Tensor]] = {}
        for i, name in enumerate(TUNE_IMAGES):
            y = noise(x[i : i + 1], lv, noise_seed(name, lv, 0))
            with torch.no_grad():
                grads = {"fold": energy_and_grad(field, y, boundary="replicate")[1],
                         "valid": context_grad(field, y, boundary="valid"),
                         **{f"context_{rule}": context_grad(field, y, boundary=rule) for rule in RULES}}
            for key, g in grads.items():
                outs.setdefault(key, []).append(y - sigma**2 * g)
        psnrs = {k: round(statistics.mean(psnr(o.clamp(0, 1), x[i : i + 1]) for i, o in enumerate(v)), 3)
                 for k, v in outs.items()}
        edge, rest = zip(*(_edge_mse(o.clamp(0, 1), x[i : i + 1]) for i, o in enumerate(outs["fold"])))
        result["levels"][str(lv)] = {"psnr": psnrs, "fold_mse_edge": statistics.mean(edge),
                                     "fold_mse_rest": statistics.mean(rest), "noise_variance": sigma**2}
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
