"""The MNIST experiment's headline numbers, read from its result files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def loglik_rows(out_dir: Path) -> list[dict[str, Any]]:
    return json.loads((Path(out_dir) / "loglik.json").read_text())["result"]


def classification_rows(out_dir: Path) -> list[dict[str, Any]]:
    return json.loads((Path(out_dir) / "classification.json").read_text())["result"]


def long_rows(out_dir: Path) -> list[dict[str, Any]]:
    path = Path(out_dir) / "long.json"
    return json.loads(path.read_text())["result"] if path.exists() else []


def summary(out_dir: Path) -> dict[str, Any]:
    """Headline numbers from the result files.

    Returns
    -------
    dict
        Per parameterization: the lambda of the best test log-likelihood and its value, the value at
        lambda = 0, the lambda of the lowest mean test error and that error (mean, std), the error at
        lambda = 0; and the raw-pixel error. ``free_long``: the convergence check's rows, if any.
    """
    ll, clf = loglik_rows(out_dir), classification_rows(out_dir)
    raw = next(r for r in clf if r["features"] == "raw")
    out: dict[str, Any] = {"raw_pixels_error": {"mean": raw["error_mean"], "std": raw["error_std"]}}
    for param in sorted({r["parameterization"] for r in ll}):
        lr = [r for r in ll if r["parameterization"] == param]
        cr = [r for r in clf if r["features"] == param]
        best_ll = max(lr, key=lambda r: r["test_loglik"])
        best_clf = min(cr, key=lambda r: r["error_mean"])
        zero_ll = next((r for r in lr if r["lam"] == 0), None)
        zero_clf = next((r for r in cr if r["lam"] == 0), None)
        out[param] = {
            "best_loglik_lam": best_ll["lam"],
            "best_test_loglik": best_ll["test_loglik"],
            "best_train_loglik": best_ll["train_loglik"],
            "best_test_loglik_per_pixel": best_ll["test_loglik_per_pixel"],
            "lam0_test_loglik": zero_ll["test_loglik"] if zero_ll else None,
            "best_error_lam": best_clf["lam"],
            "best_error": {"mean": best_clf["error_mean"], "std": best_clf["error_std"]},
            "lam0_error": {"mean": zero_clf["error_mean"], "std": zero_clf["error_std"]} if zero_clf else None,
        }
    long = long_rows(out_dir)
    if long:
        out["free_long"] = {
            "steps": long[0]["steps"],
            "best_loglik_lam": max(long, key=lambda r: r["test_loglik"])["lam"],
            "best_error_lam": min(long, key=lambda r: r["error_mean"])["lam"],
            "rows": [{k: r[k] for k in ("lam", "test_loglik", "error_mean", "error_std")} for r in long],
        }
    return out
