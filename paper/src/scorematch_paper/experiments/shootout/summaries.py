"""The shoot-out's table read back: the rows grouped over seeds (mean and spread at each budget, divergences, the
curve), and the cells of the table that the report and the results page print."""

from __future__ import annotations

import json
import os
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from scorematch_paper.experiments.shootout.settings import LEVELS

#: The table's columns (the report's and the results page's).
HEADER = ("architecture", "estimator", "lambda", "lr", "budget (min)", "seeds", "CPU minutes",
          *(f"Tweedie {lv}/256" for lv in LEVELS), *(f"MAP {lv}/256" for lv in LEVELS),
          *(f"exact SM loss {lv}/256" for lv in LEVELS), "diverged")


def summary(out_dir: str | os.PathLike) -> dict[str, Any]:
    """``shootout.json`` (``config``, ``choices``, ``reference``, ``rows``: one per row and seed) with ``groups``:
    one per architecture, estimator and lambda (:func:`groups`)."""
    table = json.loads((Path(out_dir) / "shootout.json").read_text())
    table["groups"] = groups(table["rows"], table["config"]["minutes"])
    return table


def groups(rows: list[dict[str, Any]], minutes: float) -> list[dict[str, Any]]:
    """The rows of each (architecture, estimator, lambda) over their seeds: ``lr``, ``budget``, ``seeds``,
    ``diverged`` (seed, CPU minutes, step), ``at`` (budget -> CPU minutes per seed, and mean/std over the seeds that
    reached it of Tweedie's and MAP's PSNR and the exact loss per level) at ``minutes`` and at the budget, and
    ``curve`` (per nominal point: the CPU minutes and Tweedie's PSNR per level, mean, min and max over seeds)."""
    by: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by[(r["architecture"], r["estimator"], r["lam"])].append(r)
    out = []
    for (arch, est, lam), mine in sorted(by.items()):
        budget = max(r["minutes"] for r in mine)
        out.append({"architecture": arch, "estimator": est, "lam": lam, "lr": mine[0]["lr"], "budget": budget,
                    "seeds": sorted(r["seed"] for r in mine),
                    "diverged": [{"seed": r["seed"], **r["diverged"]} for r in mine if r["diverged"]],
                    "at": {f"{b:g}": _at(mine, b) for b in sorted({minutes, budget})},
                    "curve": _curve(mine)})
    return out


def _point(row: dict[str, Any], minutes: float) -> dict[str, Any] | None:
    return next((p for p in row.get("points", []) if abs(p["minutes"] - minutes) < 1e-6), None)


def _at(rows: list[dict[str, Any]], minutes: float) -> dict[str, Any]:
    points = [p for p in (_point(r, minutes) for r in rows) if p is not None]
    out: dict[str, Any] = {"cpu_minutes": [p["cpu_minutes"] for p in points], "reached": len(points)}
    for what in ("tweedie", "map", "exact_loss"):
        out[what] = {str(lv): _spread([p[what][str(lv)] for p in points if what in p]) for lv in LEVELS}
    return out


def _spread(values: list[float | None]) -> dict[str, Any] | None:
    """Mean and standard deviation (None for one value) of the values; None if there are none or one is not
    finite (None)."""
    if not values or None in values:
        return None
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else None,
            "n": len(values)}


def _curve(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    nominal = sorted({p["minutes"] for r in rows for p in r.get("points", [])})
    out = []
    for m in nominal:
        points = [p for p in (_point(r, m) for r in rows) if p is not None]
        entry = {"minutes": m, "cpu_minutes": statistics.mean(p["cpu_minutes"] for p in points), "n": len(points)}
        for lv in LEVELS:
            v = [p["tweedie"][str(lv)] for p in points]
            entry[str(lv)] = None if None in v else {"mean": statistics.mean(v), "min": min(v), "max": max(v)}
        out.append(entry)
    return out


def table_cells(groups_: list[dict[str, Any]]) -> list[list[str]]:
    """The table's cells (:data:`HEADER`): a line per group at the shared budget, and one at its long budget."""
    lines = []
    for g in groups_:
        for budget, at in g["at"].items():
            cpu = at["cpu_minutes"]
            lines.append([g["architecture"], g["estimator"], f"{g['lam']:g}", f"{g['lr']:g}", budget,
                          f"{at['reached']}/{len(g['seeds'])}",
                          f"{statistics.mean(cpu):.2f} [{min(cpu):.2f}, {max(cpu):.2f}]" if cpu else "-",
                          *(_cell(at[w][str(lv)], ".2f") for w in ("tweedie", "map") for lv in LEVELS),
                          *(_cell(at["exact_loss"][str(lv)], ".3g") for lv in LEVELS),
                          _diverged(g["diverged"])])
    return lines


def _cell(s: dict[str, Any] | None, fmt: str) -> str:
    if s is None:
        return "-"
    return f"{s['mean']:{fmt}}" + (f" ± {s['std']:{fmt}}" if s["std"] is not None else "")


def _diverged(items: list[dict[str, Any]]) -> str:
    if not items:
        return "no"
    return ", ".join(f"seed {d['seed']} at {d['cpu_seconds'] / 60:.1f} min" for d in items)
