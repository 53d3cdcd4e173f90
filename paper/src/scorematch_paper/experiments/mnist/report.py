"""The MNIST experiment's section of the reproduction report."""

from __future__ import annotations

import json
from pathlib import Path

from scorematch_paper.experiments.mnist.config import LABELS, PARAMETERIZATIONS
from scorematch_paper.experiments.mnist.summaries import classification_rows, loglik_rows, long_rows, summary


def report(out_dir: Path) -> str:
    """A markdown section: settings, the per-lambda table, the headline numbers and the figures.

    Figures are linked as ``<out_dir name>/<file>.png``, relative to the folder that holds ``out_dir``.
    """
    out_dir = Path(out_dir)
    cfg = json.loads((out_dir / "config.json").read_text())["mnist"]
    ll, clf = loglik_rows(out_dir), classification_rows(out_dir)
    s = summary(out_dir)
    errors = {(r["features"], r["lam"]): r for r in clf if r["features"] != "raw"}
    raw = s["raw_pixels_error"]
    lines = [
        f"Square PoE (196 Student-t experts, c = e^1.5, alpha = 1) on MNIST 2x2-averaged to 14x14 in [0, 1], "
        f"trained by regularized score matching (diagonal regularizer) on {cfg['n_train']} training digits: "
        f"Adam, {cfg['steps']} steps of batch {cfg['batch_size']}, lr {cfg['lr']:g} with {cfg['schedule']} decay, "
        f"the same initial filters for every lambda. Exact log-likelihood (nats per image; per pixel = / 196) "
        f"on those training digits and on {cfg['n_test']} test digits. Classification: logistic regression "
        f"(C = {cfg['clf_c']:g}, standardized features g(w_i^T x)) on {cfg['per_class']} random training "
        f"digits per class, mean +- std over {cfg['n_draws']} draws, error on the {cfg['n_test']} test digits.",
        "",
        "Filters: *free* = unconstrained W (the scale of each filter is set by the loss; log p = log|det W| - "
        "sum_i g_n(w_i^T x) exactly); *unit* = unit-norm rows (no free scale with alpha = 1: the expert width "
        "is fixed in pixel units). Training curves (loss and test log-likelihood vs step) are in the last figure.",
        "",
        "| filters | lambda | train LL | test LL | test LL / pixel | log abs det W | test error (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(ll, key=lambda r: (r["parameterization"], r["lam"])):
        e = errors.get((r["parameterization"], r["lam"]))
        err = f"{100 * e['error_mean']:.2f} +- {100 * e['error_std']:.2f}" if e else ""
        lines.append(
            f"| {r['parameterization']} | {r['lam']:g} | {r['train_loglik']:.1f} | {r['test_loglik']:.1f} | "
            f"{r['test_loglik_per_pixel']:.3f} | {r['logabsdet']:.1f} | {err} |"
        )
    lines.append(f"| raw pixels | | | | | | {100 * raw['mean']:.2f} +- {100 * raw['std']:.2f} |")
    lines.append("")
    for param in (p for p in PARAMETERIZATIONS if p in s):
        h = s[param]
        lam0 = h["lam0_test_loglik"]
        lines.append(
            f"- **{LABELS[param]}**: best test log-likelihood {h['best_test_loglik']:.1f} nats at lambda = "
            f"{h['best_loglik_lam']:g}"
            + (f" (lambda = 0: {lam0:.1f}, a gain of {h['best_test_loglik'] - lam0:.1f})" if lam0 is not None else "")
            + f"; lowest test error {100 * h['best_error']['mean']:.2f} +- {100 * h['best_error']['std']:.2f}% "
            f"at lambda = {h['best_error_lam']:g}"
            + (f" (lambda = 0: {100 * h['lam0_error']['mean']:.2f}%)" if h["lam0_error"] else "")
            + "."
        )
    lines.append(f"- Raw pixels: {100 * raw['mean']:.2f} +- {100 * raw['std']:.2f}% test error.")
    lines.append("")
    long = long_rows(out_dir)
    if long:
        lines += [
            f"Convergence check: free filters trained {long[0]['steps']:.0f} steps instead of "
            f"{long[0]['main_steps']:.0f} (same schedule, stretched).",
            "",
            "| lambda | test LL, main | test LL, long | test error (%), main | test error (%), long |",
            "|---|---|---|---|---|",
        ]
        for r in sorted(long, key=lambda r: r["lam"]):
            lines.append(
                f"| {r['lam']:g} | {r['main_test_loglik']:.1f} | {r['test_loglik']:.1f} | "
                f"{100 * r['main_error_mean']:.2f} | {100 * r['error_mean']:.2f} +- {100 * r['error_std']:.2f} |"
            )
        lines.append("")
    rel = out_dir.name
    for name, caption in (("filters", "(a) digits and filters"), ("loglik", "(b) log-likelihood vs lambda"),
                          ("classification", "(c) test error vs lambda"), ("training", "training curves")):
        if (out_dir / f"{name}.png").exists():
            lines += [f"![{caption}]({rel}/{name}.png)", ""]
    return "\n".join(lines)
