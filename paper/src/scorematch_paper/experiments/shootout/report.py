"""The shoot-out's section of the reproduction report."""

from __future__ import annotations

import os
from pathlib import Path

from scorematch_paper.experiments.shootout.settings import CD_STEP_SIZE, LEVELS, REGULARIZED
from scorematch_paper.experiments.shootout.summaries import HEADER, summary, table_cells


def report(out_dir: str | os.PathLike) -> str:
    """The recipe, the choices, the table (a line per row at each budget, mean ± std over seeds) and the figures."""
    out_dir = Path(out_dir)
    t = summary(out_dir)
    lines = [describe(t["config"]), "", choices_text(t["choices"]), "", table(t["groups"]), "",
             regularizer_text(t["groups"], t["config"]["minutes"]), ""]
    if t.get("missing"):
        lines += [missing_text(t["missing"]), ""]
    lines += [f"Bundled `{name}` on the same images: " + ", ".join(f"{v:.2f} dB at {lv}/256" for lv, v in p.items())
              + "." for name, p in sorted(t["reference"].items())]
    for name in ("shootout.png", "shootout_loss.png"):
        lines += ["", f"![estimator shoot-out]({out_dir.name}/{name})" if (out_dir / name).is_file()
                  else f"*{name}: not drawn in this run.*"]
    return "\n".join(lines)


def table(groups: list[dict]) -> str:
    """The markdown table of :func:`~.summaries.table_cells`, or a line saying no row is done."""
    cells = table_cells(groups)
    if not cells:
        return "No row run yet."
    return "\n".join(["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER),
                      *("| " + " | ".join(c) + " |" for c in cells)])


def describe(c: dict) -> str:
    """The recipe in words, from the config."""
    archs = "; ".join(f"`{n}`: {ch} channels, depth {d}, {k}x{k}" + (" (a Field of Experts: the curvature rule is "
                                                                       "exact)" if d == 1 else "")
                      for n, ch, d, k in c["architectures"])
    held = "all 41" if c["heldout_limit"] is None else f"the first {c['heldout_limit']}"
    return (f"A noise-conditional `DeepEnergy` of each architecture ({archs}) trained by each estimator across noise "
            f"levels on {c['patch']}x{c['patch']} Train400 patches (batch {c['batch']}, Adam at a constant learning "
            f"rate), one torch thread, until the run's process had used {c['minutes']:g} CPU minutes "
            f"({c['long_minutes']:g} for the long rows), a snapshot every {c['point_minutes']:g}; seeds "
            f"{', '.join(map(str, c['seeds']))}. Scores on {held} validation images (choices were made after looking "
            "at them: `docs/evaluation.md`), one noise draw per image and level: Tweedie's estimate at every "
            "snapshot; MAP (with the bundled `deep_energy`'s denoising presets) and the exact score-matching loss "
            f"(eq. 2, on {c['loss_patches']} validation patches of {c['loss_patch']}x{c['loss_patch']}, in units of "
            f"the noise) at {c['minutes']:g} minutes and at the budget. CD-1: one Langevin step of {CD_STEP_SIZE:g}. "
            "Every estimator but DSM sees the noisy patches and fits their score.")


def choices_text(choices: dict) -> str:
    """The learning rates and lambdas and the tuning scores that chose them (the choices not run yet named)."""
    parts, pending = [], []
    for arch, ests in choices.items():
        for est, e in ests.items():
            if not e["lr_grid"]:
                pending.append(f"`{arch}` {est}")
                continue
            lrs = ", ".join(f"{k}: {_tuning(v)}" for k, v in e["lr_grid"].items())
            text = f"`{arch}` {est}: lr " + (f"{e['lr']:g}" if "lr" in e else "not chosen yet") + f" ({lrs})"
            if e["lam_grid"]:
                lams = ", ".join(f"{k}: {_tuning(v)}" for k, v in e["lam_grid"].items())
                text += ", lambda " + (f"{e['lam']:g}" if "lam" in e else "not chosen yet") + f" ({lams})"
            parts.append(text)
    text = ("Choices on the six tuning crops (mean Tweedie PSNR over the levels after the choice budget, seed 0): "
            + "; ".join(parts) + ".") if parts else "No choice made yet."
    return text + (f" Not run yet: {', '.join(pending)}." if pending else "")


def regularizer_text(groups: list[dict], minutes: float) -> str:
    """What the curvature penalty does for each regularized estimator: divergences and Tweedie's PSNR at
    ``minutes``, lambda = 0 against the chosen lambda, per architecture."""
    parts = []
    for g0 in (g for g in groups if g["estimator"] in REGULARIZED and not g["lam"]):
        for g in (g for g in groups if (g["architecture"], g["estimator"]) == (g0["architecture"], g0["estimator"])
                  and g["lam"]):
            parts.append(f"`{g0['architecture']}` {g0['estimator']}: at lambda = 0 {_outcome(g0, minutes)}; at lambda "
                         f"= {g['lam']:g} {_outcome(g, minutes)}")
    return ("What the penalty does (lambda = 0 against the chosen lambda, Tweedie at 15/256 after "
            f"{minutes:g} CPU minutes): " + "; ".join(parts) + ".") if parts else ""


def _outcome(g: dict, minutes: float) -> str:
    at = g["at"][f"{minutes:g}"]
    diverged = f"{len(g['diverged'])} of {len(g['seeds'])} seeds diverged (non-finite)"
    psnr = at["tweedie"][str(LEVELS[0])]
    return diverged + (f", {psnr['mean']:.2f} dB over {psnr['n']}" if psnr else "")


def missing_text(missing: list[dict]) -> str:
    """The rows and seeds not run yet, by row."""
    rows: dict[str, list[int]] = {}
    for m in missing:
        lam = "" if m["lam"] == 0 else " (lambda > 0)" if m["lam"] is None else f" (lambda {m['lam']:g})"
        rows.setdefault(f"{m['architecture']} {m['estimator']}{lam}", []).append(m["seed"])
    return (f"Not run yet ({len(missing)} runs): "
            + "; ".join(f"{name} seed{'s' if len(s) > 1 else ''} {', '.join(map(str, s))}" for name, s in rows.items())
            + ".")


def _tuning(result: dict) -> str:
    p = result["tuning_psnr"]
    return "diverged" if not p or None in p.values() else f"{sum(p.values()) / len(p):.2f}"
