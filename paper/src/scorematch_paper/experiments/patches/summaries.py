"""The patch experiment's result files read back: runs, data statistics, the selected fits, the table."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from scorematch.io.tables import write_csv
from scorematch_paper.experiments.patches.conditions import SELECTION_GROUP, Condition


def run_name(cond: Condition, lam: float, seed: int, estimator: str = "sm") -> str:
    tag = f"lam{lam:g}" if estimator == "sm" else estimator
    return f"{cond.name}__{tag}__s{seed}__{cond.key()}.json"


def load_stats(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Per condition name: data statistics and the Gaussian reference (``data__*.json``)."""
    out = {}
    for p in sorted(out_dir.glob("data__*.json")):
        st = json.loads(p.read_text())
        out[st["condition"]] = st
    return out


def load_runs(out_dir: Path, estimator: str = "sm") -> list[dict[str, Any]]:
    runs = [json.loads(p.read_text()) for p in sorted((out_dir / "runs").glob("*.json"))]
    return [r for r in runs if r.get("estimator", "sm") == estimator]


def selected_by_objective(runs: list[dict[str, Any]], group: tuple[str, ...] = SELECTION_GROUP) -> list[dict[str, Any]]:
    """Per lambda, the fit of ``group`` that reached the lowest *training* objective (``final_loss``).

    The estimate of regularized SM is the minimizer of its objective; when initializations end at
    different objective values, the lowest one is the better estimate. The held-out likelihood plays no
    part in the choice.
    """
    best: dict[float, dict[str, Any]] = {}
    for r in runs:
        if r["condition"] in group and r.get("estimator", "sm") == "sm" and r["final_loss"] == r["final_loss"]:
            cur = best.get(r["lambda"])
            if cur is None or r["final_loss"] < cur["final_loss"]:
                best[r["lambda"]] = r
    return [best[k] for k in sorted(best)]


def summary(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Per condition: held-out log-likelihood (raw and dequantized) at each lambda and the best lambda."""
    out_dir = Path(out_dir)
    table: dict[str, Any] = {}
    for r in load_runs(out_dir):
        c = table.setdefault(r["condition"], {"ll": {}, "ll_dequantized": {}})
        c["ll"][f"{r['lambda']:g}"] = round(r["ll"], 2)
        c["ll_dequantized"][f"{r['lambda']:g}"] = round(r["ll_dequantized"], 2)
    for r in load_runs(out_dir, "ml"):
        table.setdefault(r["condition"], {"ll": {}, "ll_dequantized": {}})["ml_ll"] = round(r["ll"], 2)
    for name, st in load_stats(out_dir).items():
        if name in table:
            table[name]["gaussian_ll"] = round(st["gaussian_ll"], 2)
            table[name]["train_flat_fraction"] = st["train"]["flat_fraction"]
            table[name]["train_equal_neighbours"] = round(st["train"]["equal_horizontal_neighbours"], 4)
    for c in table.values():
        for key in ("ll", "ll_dequantized"):
            finite = {k: v for k, v in c[key].items() if v == v}
            c["best_lambda" + ("" if key == "ll" else "_dequantized")] = (
                max(finite, key=finite.get) if finite else None)
    sel = selected_by_objective(load_runs(out_dir))
    if sel:
        table["selected_by_objective"] = {
            "ll": {f"{r['lambda']:g}": round(r["ll"], 2) for r in sel},
            "ll_dequantized": {f"{r['lambda']:g}": round(r["ll_dequantized"], 2) for r in sel},
            "from": {f"{r['lambda']:g}": r["condition"] for r in sel},
        }
        finite = {k: v for k, v in table["selected_by_objective"]["ll"].items() if v == v}
        table["selected_by_objective"]["best_lambda"] = max(finite, key=finite.get) if finite else None
    return table


_COLUMNS = ("condition", "estimator", "lambda", "seed", "ll", "ll_sem", "ll_dequantized", "ll_dequantized_sem", "final_loss",
            "sm_objective",
            "logdet", "filter_norm_median", "filter_norm_max", "core_fraction", "seconds", "diverged")


def write_table(out_dir: Path) -> None:
    runs = load_runs(out_dir) + load_runs(out_dir, "ml")
    runs.sort(key=lambda r: (r["condition"], r.get("estimator", "sm"), r["lambda"], r["seed"]))
    rows = [{k: r.get(k, "sm" if k == "estimator" else None) for k in _COLUMNS} for r in runs]
    write_csv(out_dir / "results.csv", rows, columns=_COLUMNS)
