"""Diagnostic: how a deep energy's noise estimate scales against the true noise, inside patches and at their border.

    PYTHONPATH=src python paper/benchmarks/deep_energy_noise_scale.py --model NAME=FILE [...] [--out F]

On 256 random 40x40 training patches (seed 3) with Gaussian noise at 5, 15 and 25/256, the noise estimate
``n_hat = sigma^2 dE_sigma/dy`` of the energy on the patch alone (valid windows): the least-squares scale ``s`` in
``n ~ s n_hat`` over the interior (pixels at least ``support - 1`` from the border) and over the border. A
minimum-mean-squared-error estimate has ``s = 1``; below 1 it overshoots the noise, above 1 it falls short.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import emit  # noqa: E402

from scorematch.datasets import load_images, split_images  # noqa: E402
from scorematch.datasets.patches import PatchStream  # noqa: E402
from scorematch.pretrained import load_pretrained  # noqa: E402

LEVELS, PATCH, N = (5, 15, 25), 40, 256


def _scale(n: torch.Tensor, n_hat: torch.Tensor) -> float:
    return round(float((n * n_hat).sum() / (n_hat * n_hat).sum()), 3)


def scales(model, patches: torch.Tensor, generator: torch.Generator) -> dict[str, dict[str, float]]:
    m = model.support - 1
    inner = (slice(None), slice(None), slice(m, -m), slice(m, -m))
    border = torch.ones_like(patches, dtype=torch.bool)
    border[inner] = False
    out = {}
    for level in LEVELS:
        s = level / 256
        n = s * torch.randn(patches.shape, generator=generator)
        y = (patches + n).requires_grad_(True)
        (g,) = torch.autograd.grad(model.at(s).energy(y).sum(), y)
        n_hat = s * s * g
        out[str(level)] = {"interior": _scale(n[inner], n_hat[inner]), "border": _scale(n[border], n_hat[border])}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="NAME=FILE (repeatable)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    train, _ = split_images(load_images("train400"), holdout=0.1)
    result = {"benchmark": "deep_energy_noise_scale", "patches": N, "patch": PATCH, "models": {}}
    for item in args.model:
        name, _, path = item.partition("=")
        g = torch.Generator().manual_seed(3)
        patches = PatchStream(train, PATCH)(N, g)
        result["models"][name] = {"file": path, "scale": scales(load_pretrained(path).eval(), patches, g)}
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
