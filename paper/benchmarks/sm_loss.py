"""Speed of the score-matching loss + parameter gradient: curvature backprop vs. alternatives.

Prints JSON. All variants are timed in one process, interleaved round by round, and compared by the median
time per variant, so the ratios survive a shared, noisy machine. Issue 2's bars (PoE D = M = 196, batch 1000,
float32): curvature within 1.3x of the hand-written closed form, >= 50x faster than "exact", <= 4x one energy
forward + backward; FoE 5x5x24 on 16 images of 64x64: curvature within 1.3x of the closed form.

    python paper/benchmarks/sm_loss.py [--rounds 15] [--threads 1] [--device cpu] [--out FILE.json]

The JSON carries a stamp (:func:`scorematch_paper.stamps.stamp`) of the code it timed, the processor and the load
average at the start and the end (other processes inflate the timings).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import cpu_model, emit, load_average  # noqa: E402

import scorematch as sm  # noqa: E402
from scorematch_paper.stamps import stamp  # noqa: E402

#: The modules whose code the timings measure: the loss, and the two energies it is timed on.
MODULES = ("scorematch.estimators.score_matching", "scorematch.energies.poe", "scorematch.energies.foe")

C = math.exp(1.5)


def closed_form_poe_loss(poe: sm.ProductOfExperts, x: torch.Tensor, lam: float) -> torch.Tensor:
    """The practical floor: the PoE loss written out by hand (same parameterization)."""
    w, alpha = poe.filters, poe.alpha
    z = x @ w.T  # (B, M)
    u = 0.5 * C * C * z * z
    inv = 1 / (1 + u)
    grad = (alpha * C * C * z * inv) @ w  # (B, D)
    diag = (alpha * C * C * (1 - u) * inv * inv) @ (w * w)  # (B, D)
    return (0.5 * grad * grad - diag + lam * diag * diag).sum(1).mean()


def closed_form_foe_loss(foe: sm.FieldOfExperts, x: torch.Tensor, lam: float) -> torch.Tensor:
    w = foe.filters.unsqueeze(1)  # (M, 1, k, k)
    a = foe.alpha.view(1, -1, 1, 1)
    z = F.conv2d(x, w)  # (B, M, H-k+1, W-k+1)
    u = 0.5 * C * C * z * z
    inv = 1 / (1 + u)
    grad = F.conv_transpose2d(a * C * C * z * inv, w)  # (B, 1, H, W)
    diag = F.conv_transpose2d(a * C * C * (1 - u) * inv * inv, w * w)
    return (0.5 * grad * grad - diag + lam * diag * diag).flatten(1).sum(1).mean()


def _timed(fn, params) -> float:
    for p in params:
        p.grad = None
    t = time.perf_counter()
    loss = fn()
    loss.backward()
    if params[0].is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t


def compare(variants: dict, params: list, rounds: int, slow: set[str] = frozenset(), slow_rounds: int = 3) -> dict:
    times: dict[str, list[float]] = {k: [] for k in variants}
    for fn in variants.values():  # warm-up
        _timed(fn, params)
    for r in range(rounds):
        for name, fn in variants.items():
            if name in slow and r >= slow_rounds:
                continue
            times[name].append(_timed(fn, params))
    return {k: statistics.median(v) for k, v in times.items()}


def torchebm_variant(poe: sm.ProductOfExperts, x: torch.Tensor):
    try:
        from torchebm.core import BaseModel
        from torchebm.losses import ScoreMatching
    except ImportError:
        return None, None

    class Wrapped(BaseModel):
        def __init__(self, energy):
            super().__init__(dtype=x.dtype, device=x.device)
            self.inner = energy

        def forward(self, xb):
            return self.inner.energy(xb)

    loss = ScoreMatching(Wrapped(poe), hessian_method="exact", dtype=x.dtype, device=x.device)
    import importlib.metadata

    return (lambda: loss(x)), importlib.metadata.version("torchebm")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: stable on a shared machine)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--no-torchebm", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args()
    load_start = load_average()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    lam = 0.01

    poe = sm.ProductOfExperts(196, 196, generator=gen).to(dev)
    x = torch.rand(args.batch, 196, generator=gen).to(dev)
    params = list(poe.parameters())
    x_leaf = x.clone().requires_grad_(True)  # for the variant that also returns dE/dx
    variants = {
        "curvature": lambda: sm.score_matching_loss(poe, x, lam=lam, method="curvature"),
        "closed_form": lambda: closed_form_poe_loss(poe, x, lam),
        "energy_fwd_bwd": lambda: poe.energy(x).sum(),
        "energy_fwd_bwd_input_grad": lambda: poe.energy(x_leaf).sum(),
        "exact": lambda: sm.score_matching_loss(poe, x, lam=lam, method="exact"),
    }
    slow = {"exact"}
    tebm, tebm_version = (None, None) if args.no_torchebm else torchebm_variant(poe, x)
    if tebm is not None:
        variants["torchebm_exact"] = tebm
        slow.add("torchebm_exact")
    t = compare(variants, params, args.rounds, slow)
    poe_result = {
        "model": "PoE D=M=196", "batch": args.batch, "dtype": "float32",
        "median_seconds": t,
        "curvature_over_closed_form": t["curvature"] / t["closed_form"],
        "exact_over_curvature": t["exact"] / t["curvature"],
        "curvature_over_energy_fwd_bwd": t["curvature"] / t["energy_fwd_bwd"],
        "curvature_over_energy_fwd_bwd_input_grad": t["curvature"] / t["energy_fwd_bwd_input_grad"],
    }
    if tebm is not None:
        poe_result["torchebm_version"] = tebm_version
        poe_result["torchebm_exact_over_curvature"] = t["torchebm_exact"] / t["curvature"]

    foe = sm.FieldOfExperts(24, 5, generator=gen).to(dev)
    xi = torch.rand(16, 1, 64, 64, generator=gen).to(dev)
    fparams = list(foe.parameters())
    ft = compare(
        {
            "curvature": lambda: sm.score_matching_loss(foe, xi, lam=lam, method="curvature"),
            "closed_form": lambda: closed_form_foe_loss(foe, xi, lam),
            "energy_fwd_bwd": lambda: foe.energy(xi).sum(),
        },
        fparams,
        args.rounds,
    )
    foe_result = {
        "model": "FoE 5x5x24", "images": "16 x 64x64", "dtype": "float32",
        "median_seconds": ft,
        "curvature_over_closed_form": ft["curvature"] / ft["closed_form"],
        "curvature_over_energy_fwd_bwd": ft["curvature"] / ft["energy_fwd_bwd"],
    }
    emit({
        "benchmark": "sm_loss", **stamp(*MODULES),
        "machine": {"cpu": cpu_model(), "threads": args.threads, "device": str(dev), "torch": torch.__version__},
        "load_average_start": load_start, "load_average_end": load_average(),
        "rounds": args.rounds,
        "poe": poe_result,
        "foe": foe_result,
    }, args.out)


if __name__ == "__main__":
    main()
