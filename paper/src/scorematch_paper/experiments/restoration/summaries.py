"""The restoration experiment's headline numbers, read from its result files."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from scorematch.io.tables import write_csv
from scorematch_paper.experiments.compare import paired_difference
from scorematch_paper.experiments.restoration.settings import PAPER_TABLE1, TABLE1_IMAGES
from scorematch_paper.experiments.restoration.tuning import best_point


def load_result(out_dir: Path, name: str) -> Any:
    return json.loads((out_dir / name).read_text())


def _mean_std(rows, key) -> tuple[float, float]:
    v = [r[key] for r in rows if key in r]
    if not v:
        return math.nan, math.nan
    return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else math.nan


def table1_summary(out_dir: Path) -> list[dict[str, Any]]:
    """Per Table 1 image: mean and std over the noise draws of each column, the paper's numbers, and the
    paired differences RSM - CD-1 and RSM (L-BFGS) - RSM (paper's solver)."""
    rows = load_result(out_dir, "table1.json")["result"]
    cols = [c for c in ("noisy", "tv", "rb", "cd1", "rsm", "rsm_paper_solver") if c in rows[0]]
    out = []
    for name in TABLE1_IMAGES:
        rs = [r for r in rows if r["image"] == name]
        entry = {"image": name, "paper_cd1": PAPER_TABLE1[name][0], "paper_br": PAPER_TABLE1[name][1],
                 "paper_rsm": PAPER_TABLE1[name][2]}
        for c in cols:
            entry[c], entry[c + "_std"] = _mean_std(rs, c)
        for other in ("cd1", "rsm_paper_solver"):
            if other in cols:
                entry[f"rsm_minus_{other}"], entry[f"rsm_minus_{other}_std"] = paired_difference(
                    [r["rsm"] for r in rs], [r[other] for r in rs])
        entry["rsm_minus_paper"] = entry["rsm"] - entry["paper_rsm"]
        out.append(entry)
    return out


def heldout_summary(out_dir: Path) -> list[dict[str, Any]]:
    """Per noise level and method: mean PSNR over the validation images and its std over the images, and the
    difference to the run's RSM FoE paired over the images: its mean, the std of that mean (the per-image
    differences' std over sqrt(n): the images are the draws here, and the question is the average), and on
    how many images the method scored higher."""
    rows = load_result(out_dir, "heldout.json")["result"]
    out = []
    for lv in sorted({r["level"] for r in rows}):
        rs = [r for r in rows if r["level"] == lv]
        for method in [k for k in rs[0] if k not in ("image", "level")]:
            mean, std = _mean_std(rs, method)
            diff, diff_std = paired_difference([r[method] for r in rs], [r["rsm"] for r in rs])
            out.append({"level": lv, "method": method, "n_images": len(rs), "psnr": mean, "psnr_std": std,
                        "minus_rsm": diff, "minus_rsm_std": diff_std / math.sqrt(len(rs)),
                        "images_above_rsm": sum(r[method] > r["rsm"] for r in rs)})
    return out


def sweep_summary(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Figure 2e-g per noise level: the best lambda, chosen (like each lambda's weight) on the choice draw, its
    PSNR over the report draws (mean, std), and its paired gains over lambda = 0 and over the runner-up of the
    choice draw (mean, std over the report draws)."""
    sweep = load_result(out_dir, "lambda_sweep.json")
    out = {}
    for lv in sweep[0]["curves"]:
        chosen = {r["lam"]: max(v for v in r["curves"][lv].values() if math.isfinite(v)) for r in sweep}
        at_best = {r["lam"]: r["draws"][lv][str(best_point(r["curves"][lv]))] for r in sweep}
        ranked = sorted(chosen, key=chosen.get, reverse=True)
        best = ranked[0]
        entry = {"lam": best, "psnr": float(np.mean(at_best[best])), "psnr_std": float(np.std(at_best[best], ddof=1))
                 if len(at_best[best]) > 1 else math.nan, "n_draws": len(at_best[best]),
                 "psnr_by_lambda": {lam: float(np.mean(v)) for lam, v in at_best.items()}}
        for name, other in (("gain_over_lam0", 0.0), ("gain_over_runner_up", ranked[1] if len(ranked) > 1 else None)):
            if other in at_best and other != best:
                entry[name], entry[name + "_std"] = paired_difference(at_best[best], at_best[other])
                entry[name.replace("gain_over_", "") + "_lam"] = other
        out[lv] = entry
    return out


def write_tables(out_dir: Path) -> None:
    tables = {"table1.csv": table1_summary(out_dir), "table2.csv": load_result(out_dir, "table2.json")["result"],
              "heldout.csv": heldout_summary(out_dir)}
    for name, rows in tables.items():
        write_csv(out_dir / name, rows)


def summary(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Headline numbers: Table 1 (means and paired differences), Table 2 rows, the validation table, the best
    lambda per noise level, and every choice made on the tuning crops."""
    out_dir = Path(out_dir)
    t1 = table1_summary(out_dir)
    mean = {c: float(np.mean([r[c] for r in t1])) for c in ("rsm", "cd1", "rsm_paper_solver", "paper_rsm") if c in t1[0]}
    return {
        "table1": t1,
        "table1_mean": mean,
        "table2": load_result(out_dir, "table2.json")["result"],
        "heldout": heldout_summary(out_dir),
        "best_lambda": sweep_summary(out_dir) if (out_dir / "lambda_sweep.json").is_file() else {},
        "choices": load_result(out_dir, "choices.json"),
    }
