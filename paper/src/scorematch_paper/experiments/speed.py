"""How the cost of the score-matching loss + gradient grows (curvature vs exact vs Hutchinson).

PoE with M = D for D in 64..1024 (W = D^2 weights): curvature backpropagation should grow like W (exponent
about 2 in D), the exact diagonal one power of D faster (about 3), Hutchinson like curvature times the number of
probes. FoE 5x5x24 on one image of side 64..1024: linear in the number of pixels. ``run`` writes
``cost_growth.json`` and ``cost_growth.png``; ``paper/benchmarks/cost_growth.py`` prints the same JSON.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from scorematch.energies import FieldOfExperts, ProductOfExperts
from scorematch.estimators import score_matching_loss
from scorematch.io.atomic import save_figure
from scorematch.io.tables import write_json
from scorematch_paper.experiments.cache import Cache, read_stamp

__all__ = ["measure", "draw_figure", "run", "plot", "report", "fit_exponent", "TITLE"]

TITLE = "Speed: how the cost grows (curvature vs exact vs Hutchinson)"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, params, repeats: int) -> float:
    out = []
    device = params[0].device
    for _ in range(repeats + 1):
        for p in params:
            p.grad = None
        _sync(device)
        t = time.perf_counter()
        fn().backward()
        _sync(device)
        out.append(time.perf_counter() - t)
    return statistics.median(out[1:])  # the first call is a warm-up


def fit_exponent(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log y against log x."""
    lx, ly = [math.log(v) for v in xs], [math.log(v) for v in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def poe_growth(dims: list[int], exact_max: int, batch: int, repeats: int, device: str = "cpu") -> dict:
    gen = torch.Generator().manual_seed(0)
    rows = []
    for d in dims:
        poe = ProductOfExperts(d, d, generator=gen).to(device)
        x = torch.rand(batch, d, generator=gen).to(device)
        params = list(poe.parameters())
        row = {"D": d, "weights": d * d}
        for method in ("curvature", "hutchinson", "exact"):
            if method == "exact" and d > exact_max:
                continue
            reps = 1 if method == "exact" else repeats
            row[method] = _time(lambda: score_matching_loss(poe, x, lam=0.01, method=method, generator=gen),
                                params, reps)
        rows.append(row)
    exps = {}
    for method in ("curvature", "hutchinson", "exact"):
        pts = [(r["D"], r[method]) for r in rows if method in r and r["D"] >= 128]
        if len(pts) >= 2:
            exps[method] = fit_exponent([p[0] for p in pts], [p[1] for p in pts])
    return {"batch": batch, "rows": rows, "exponent_in_D": exps}


def foe_growth(sides: list[int], repeats: int, device: str = "cpu") -> dict:
    gen = torch.Generator().manual_seed(0)
    foe = FieldOfExperts(24, 5, generator=gen).to(device)
    params = list(foe.parameters())
    rows = []
    for s in sides:
        x = torch.rand(1, 1, s, s, generator=gen).to(device)
        rows.append({"side": s, "pixels": s * s,
                     "curvature": _time(lambda: score_matching_loss(foe, x, lam=0.01), params, repeats)})
    pts = [r for r in rows if r["side"] >= 128]
    return {"rows": rows, "exponent_in_pixels": fit_exponent([r["pixels"] for r in pts],
                                                             [r["curvature"] for r in pts])}


def draw_figure(result: dict, path: str | Path) -> None:
    """Draw the timing curves of a :func:`measure` result into the PNG ``path``."""
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
    save_figure(fig, path, dpi=120)


def measure(*, quick: bool = False, threads: int = 1, batch: int = 64, repeats: int = 5,
            exact_max: int = 512, device: str = "cpu", dims: list[int] | None = None,
            sides: list[int] | None = None) -> dict[str, Any]:
    """Time loss + gradient over the sizes (``quick``: 64..256 only) on ``device`` and fit the log-log exponents."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        dims = dims or ([64, 128, 256] if quick else [64, 128, 256, 512, 1024])
        sides = sides or ([64, 128, 256] if quick else [64, 128, 256, 512, 1024])
        return {
            "benchmark": "cost_growth",
            "quick": quick,
            "threads": threads,
            "torch": torch.__version__,
            "device": torch.cuda.get_device_name(device) if str(device).startswith("cuda") else "cpu",
            "poe": poe_growth(dims, min(exact_max, dims[-1]), batch, repeats, device),
            "foe": foe_growth(sides, repeats, device),
        }
    finally:
        torch.set_num_threads(old)


def run(out_dir: str | Path, *, quick: bool = False, progress: bool = True, cache: Cache | None = None) -> dict[str, Any]:
    """Measure (unless ``cost_growth.json`` is current for ``cache``: same mode, same code) and draw
    ``cost_growth.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "cost_growth.json"
    settings = {"quick": quick, "repeats": 2 if quick else 5}
    cache = cache or Cache()
    if cache.is_current(read_stamp(path), settings):
        result = json.loads(path.read_text())
    else:
        result = {**measure(quick=quick, repeats=settings["repeats"]), "stamp": cache.stamp(settings)}
        write_json(path, result)
    plot(out_dir)
    return result


def plot(out_dir: str | Path) -> list[Path]:
    """Draw ``cost_growth.png`` from ``cost_growth.json``."""
    out_dir = Path(out_dir)
    draw_figure(json.loads((out_dir / "cost_growth.json").read_text()), out_dir / "cost_growth.png")
    return [out_dir / "cost_growth.png"]


def report(out_dir: str | Path) -> str:
    """A markdown section: the timings and the fitted exponents."""
    r = json.loads((Path(out_dir) / "cost_growth.json").read_text())
    e = r["poe"]["exponent_in_D"]
    lines = [
        f"Loss + parameter gradient, float32, {r['threads']} torch thread(s), median of repeated runs. Fitted "
        "log-log slopes (from D = 128 and side 128 on): PoE (M = D, so W = D^2 weights) curvature "
        f"{e.get('curvature', float('nan')):.2f} (theory 2), Hutchinson {e.get('hutchinson', float('nan')):.2f} "
        f"(2), exact {e.get('exact', float('nan')):.2f} (3); FoE 5x5x24 in the number of pixels "
        f"{r['foe']['exponent_in_pixels']:.2f} (theory 1).",
        "",
        "| D | curvature (s) | Hutchinson (s) | exact (s) |",
        "|---|---|---|---|",
    ]
    for row in r["poe"]["rows"]:
        ex = f"{row['exact']:.4f}" if "exact" in row else "-"
        lines.append(f"| {row['D']} | {row['curvature']:.4f} | {row['hutchinson']:.4f} | {ex} |")
    lines += ["", "| FoE image side | curvature (s) |", "|---|---|"]
    lines += [f"| {row['side']} | {row['curvature']:.4f} |" for row in r["foe"]["rows"]]
    lines += ["", f"![cost growth]({Path(out_dir).name}/cost_growth.png)"]  # relative to the report's folder
    return "\n".join(lines)
