"""How the cost of the score-matching loss + gradient grows: curvature vs exact vs Hutchinson.

PoE with M = D for D in 64..1024 (the number of weights W = D^2): curvature backpropagation should grow like
W (exponent ~2 in D), the exact diagonal one power of D faster (~3), Hutchinson like curvature times the
number of probes. FoE 5x5x24 on one image of side 64..1024: linear in the number of pixels.
Prints JSON with the median times and the fitted log-log exponents; ``--plot FILE`` draws them.

    python benchmarks/cost_growth.py [--quick] [--plot cost_growth.png]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch

import scorematch as sm


def _time(fn, params, repeats: int) -> float:
    out = []
    for _ in range(repeats + 1):
        for p in params:
            p.grad = None
        t = time.perf_counter()
        fn().backward()
        out.append(time.perf_counter() - t)
    return statistics.median(out[1:])  # the first call is a warm-up


def fit_exponent(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log y against log x."""
    lx, ly = [math.log(v) for v in xs], [math.log(v) for v in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def poe_growth(dims: list[int], exact_max: int, batch: int, repeats: int) -> dict:
    gen = torch.Generator().manual_seed(0)
    rows = []
    for d in dims:
        poe = sm.ProductOfExperts(d, d, generator=gen)
        x = torch.rand(batch, d, generator=gen)
        params = list(poe.parameters())
        row = {"D": d, "weights": d * d}
        for method in ("curvature", "hutchinson", "exact"):
            if method == "exact" and d > exact_max:
                continue
            reps = 1 if method == "exact" else repeats
            row[method] = _time(lambda: sm.score_matching_loss(poe, x, lam=0.01, method=method, generator=gen),
                                params, reps)
        rows.append(row)
    exps = {}
    for method in ("curvature", "hutchinson", "exact"):
        pts = [(r["D"], r[method]) for r in rows if method in r and r["D"] >= 128]
        if len(pts) >= 2:
            exps[method] = fit_exponent([p[0] for p in pts], [p[1] for p in pts])
    return {"batch": batch, "rows": rows, "exponent_in_D": exps}


def foe_growth(sides: list[int], repeats: int) -> dict:
    gen = torch.Generator().manual_seed(0)
    foe = sm.FieldOfExperts(24, 5, generator=gen)
    params = list(foe.parameters())
    rows = []
    for s in sides:
        x = torch.rand(1, 1, s, s, generator=gen)
        rows.append({"side": s, "pixels": s * s,
                     "curvature": _time(lambda: sm.score_matching_loss(foe, x, lam=0.01), params, repeats)})
    pts = [r for r in rows if r["side"] >= 128]
    return {"rows": rows, "exponent_in_pixels": fit_exponent([r["pixels"] for r in pts],
                                                             [r["curvature"] for r in pts])}


def plot(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for method, marker in (("curvature", "o"), ("hutchinson", "s"), ("exact", "^")):
        pts = [(r["D"], r[method]) for r in result["poe"]["rows"] if method in r]
        if pts:
            k = result["poe"]["exponent_in_D"].get(method, float("nan"))
            a.loglog(*zip(*pts), marker=marker, label=f"{method} (slope {k:.2f})")
    a.set_xlabel("input dimension D (PoE, M = D)")
    a.set_ylabel("seconds per loss + gradient")
    a.set_title(f"PoE, batch {result['poe']['batch']}")
    a.legend()
    rows = result["foe"]["rows"]
    b.loglog([r["pixels"] for r in rows], [r["curvature"] for r in rows], "o-",
             label=f"curvature (slope {result['foe']['exponent_in_pixels']:.2f})")
    b.set_xlabel("pixels (FoE 5x5x24, one image)")
    b.set_title("FoE")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer sizes (a smoke test)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--exact-max", type=int, default=512, help="largest D for the (slow) exact method")
    ap.add_argument("--plot", default=None, help="write a PNG of the curves")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dims = [64, 128, 256] if args.quick else [64, 128, 256, 512, 1024]
    sides = [64, 128, 256] if args.quick else [64, 128, 256, 512, 1024]
    result = {
        "benchmark": "cost_growth",
        "threads": args.threads,
        "torch": torch.__version__,
        "poe": poe_growth(dims, min(args.exact_max, dims[-1]), args.batch, args.repeats),
        "foe": foe_growth(sides, args.repeats),
    }
    print(json.dumps(result, indent=2))
    if args.plot:
        plot(result, args.plot)


if __name__ == "__main__":
    main()
