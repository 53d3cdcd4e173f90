"""Write the measured figures of RESULTS.md and the model cards from the artifacts under ``docs/results/``.

    python paper/scripts/build_results.py                    # rewrites RESULTS.md's blocks and every model card
    python paper/scripts/build_results.py --check            # exit 1 and print a diff if a page differs from what it
                                                             # would write, or name each stale block
    python paper/scripts/build_results.py --pages deep_energy  # only these pages (RESULTS or model names)

The pages (:func:`pages`): ``RESULTS.md``, its own template, and one model card per bundled model file,
``src/scorematch/pretrained/NAME.md``, written from its template ``paper/cards/NAME.md``. Every sentence that states a
measured number sits in a block

    <!-- results:NAME -->
    ...written by this script...
    <!-- /results:NAME -->

whose text a renderer formats from the JSON/CSV files that the measuring scripts stored under ``docs/results/`` (or,
for a card's ``model`` block, from the model file's metadata: ``scorematch.load_info`` and
``scorematch.load_prior(NAME).presets``); prose without numbers stays outside the blocks. RESULTS.md keeps its
markers; a card drops them and ends with a line saying where it comes from. The renderers: :data:`BLOCKS` for
RESULTS.md, :func:`card_blocks` (``model`` and the model's :data:`CARD_FIGURES`) for a card. A card's history (earlier
runs and their figures) is ``paper/cards/CHANGELOG.md``, not the card. CI runs the check
(``paper/tests/docs/test_results_page.py``).

Provenance: every block ends with a line built from the artifacts its renderer read (:func:`_provenance`). An artifact
that carries a :func:`scorematch_paper.stamps.stamp` (keys ``code`` and ``models``; for the files a ``scorematch
reproduce`` stage published, its folder's provenance file carries the stage's: :func:`_published_stamp`) is checked by
:func:`scorematch_paper.stamps.stale`: when the import closure of the modules that computed it or one of its model
files has changed since, the block says ``**stale**: <reasons>`` and ``--check`` fails naming it. An artifact written
before stamps is marked ``unstamped`` with the commit that measured it (its own ``commit`` or its folder's
``provenance.json``), and is not checked.

Adding a block: write ``def _name(results: Path) -> str``, which reads its files with :func:`_json` / :func:`_csv`
(a missing field raises ``KeyError`` naming the file; the read is recorded for the provenance line) and formats
numbers with :func:`_f` (which refuses nan), add ``"name": _name`` to :data:`BLOCKS` (or to a model's
:data:`CARD_FIGURES`), put the two markers in RESULTS.md (or the card's template), and run this script.

The restoration blocks take every number from the summaries of :mod:`scorematch_paper.experiments.restoration`
(``table1_summary``, ``heldout_summary``, ``sweep_summary``), the functions its report uses, applied to the run
files that ``paper/scripts/publish_results.py`` copied to ``docs/results/restoration/`` with their ``provenance.json``.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import functools
import json
import math
import re
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))  # this checkout's package: its restoration summaries are the report's
sys.path.insert(0, str(ROOT / "paper" / "src"))

from scorematch_paper.experiments import mnist, patches, restoration, shootout  # noqa: E402
from scorematch_paper.experiments.shootout.report import (choices_text, missing_text,  # noqa: E402
                                                            regularizer_text)
from scorematch_paper.experiments.shootout.report import describe as shootout_recipe  # noqa: E402
from scorematch_paper.experiments.shootout.report import table as shootout_table  # noqa: E402
from scorematch_paper.experiments.shootout.summaries import groups  # noqa: E402
from scorematch_paper.experiments.beyond import settings as beyond_settings  # noqa: E402
from scorematch_paper.experiments.compare import (  # noqa: E402
    RESOLVE_SIGMAS,
    UNRESOLVED,
    describe,
    is_unresolved,
    paired_difference,
    std_of_mean,
)
from scorematch import ModelFileError, load_info, load_prior  # noqa: E402
from scorematch.pretrained import models_dir  # noqa: E402
from scorematch.prior import DEFAULT_PRIORS  # noqa: E402
from scorematch_paper import stamps  # noqa: E402

WIDTH = 115  # the README's line length; tables are not wrapped
BLOCK = re.compile(r"(<!-- results:([\w-]+) -->\n)(.*?)(<!-- /results:\2 -->)", flags=re.S)

#: The MNIST lambdas shown in the README's table (the CSVs hold more).
MNIST_LAMBDAS = (0.0, 3e-4, 1e-3, 3e-3, 1e-2, 2e-2, 3e-2, 1e-1)
#: Restoration columns (table1.json, table2.json, heldout.json) -> the README's name for them.
METHOD_NAMES = {"noisy": "noisy", "tv": "TV (scikit-image)", "rb": "R&B 3x3x8", "cd1": "CD-1 (same recipe)",
                "rsm": "RSM", "rsm_paper_solver": "RSM, paper's solver", "foe_5x5x24": "bundled foe_5x5x24",
                "lowpass_start_projected": "low-pass start, projected", "bicubic_projected": "bicubic, projected"}
#: The columns of Table 1, Table 2 and the validation table, in order.
TABLE1_METHODS = ("noisy", "tv", "rb", "cd1", "rsm", "rsm_paper_solver")
TABLE2_METHODS = ("lowpass_start_projected", "bicubic_projected", "rb", "cd1", "rsm", "rsm_paper_solver")
HELDOUT_METHODS = ("noisy", "tv", "cd1", "rsm", "foe_5x5x24")
#: dB by which our RSM FoE should beat the bicubic, projected start in Table 2 (else a known gap).
SR_MARGIN = 0.1


# --- reading artifacts ------------------------------------------------------------------------------------------

#: The artifacts (names relative to the results folder) that the block being rendered has read, in order; None
#: outside :func:`render`. Each block's provenance line and staleness come from them.
_READ: list[str] | None = None


def _note(name: str) -> None:
    """Record that the block being rendered read the artifact ``name``."""
    if _READ is not None and name not in _READ:
        _READ.append(name)


class _Fields(dict):
    """A dict read from an artifact whose missing keys raise ``KeyError`` naming the artifact."""

    def __init__(self, source: str, data: dict):
        super().__init__(data)
        self.source = source

    def __missing__(self, key):
        raise KeyError(f"{self.source} has no field {key!r}")


def _wrap(obj: Any, source: str) -> Any:
    if isinstance(obj, dict):
        return _Fields(source, {k: _wrap(v, source) for k, v in obj.items()})
    if isinstance(obj, list):
        return [_wrap(v, source) for v in obj]
    return obj


def _json(results: Path, name: str) -> Any:
    """The JSON artifact ``results/name``, its dicts raising ``KeyError`` with the file name."""
    data = json.loads((results / name).read_text())
    _note(name)
    return _wrap(data, name)


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _csv(results: Path, name: str) -> list[_Fields]:
    """The CSV artifact ``results/name`` as rows of fields (numbers as floats)."""
    with open(results / name, newline="") as f:
        rows = [_Fields(name, {k: _value(v) for k, v in row.items()}) for row in csv.DictReader(f)]
    _note(name)
    return rows


def _by(rows: list[_Fields], key: str, name: str) -> _Fields:
    """Rows keyed by the value of column ``key``."""
    return _Fields(name, {row[key]: row for row in rows})


# --- formatting -------------------------------------------------------------------------------------------------

def _f(value: float, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals; refuses nan and inf, so a missing number never prints."""
    if not math.isfinite(value):
        raise ValueError(f"refusing to print the non-finite value {value!r}")
    return f"{value:.{digits}f}"


def _signed(value: float, digits: int = 2) -> str:
    """``value`` with its sign: +0.93, -0.04."""
    return ("+" if value >= 0 else "") + _f(value, digits)


def _lam(lam: float) -> str:
    """A lambda as the README writes it: 0, 3e-4, 1e-2."""
    return "0" if lam == 0 else f"{lam:.0e}".replace("e-0", "e-")


def _count(n: int, noun: str) -> str:
    """``1 draw``, ``3 draws``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _names(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _reflow(text: str) -> str:
    """Wrap a block's prose and bullets at :data:`WIDTH`, leaving table rows as they are."""
    def fill(line: str) -> str:
        if not line or line.startswith("|"):
            return line
        kept = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", "\0"), line)  # no breaks inside `code`
        kept = kept.replace(" = ", "\0=\0")  # nor in "lambda = 0"
        indent = "  " if line.startswith("- ") else ""
        return textwrap.fill(kept, WIDTH, subsequent_indent=indent, break_long_words=False,
                             break_on_hyphens=False).replace("\0", " ")

    return "\n".join(fill(line) for line in text.strip("\n").splitlines())


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


# --- blocks -----------------------------------------------------------------------------------------------------

def _verdict_rule(results: Path) -> str:
    return (f"Where two numbers are compared, a difference smaller than {RESOLVE_SIGMAS:g} standard deviations of "
            "the difference over the random draws behind it (noise draws, training subsets, images) is written as "
            f"{UNRESOLVED}: neither a win nor a tie (`scorematch_paper.experiments.compare`, "
            "[`docs/evaluation.md`](docs/evaluation.md)).")


def _core_speed(results: Path) -> str:
    sm = _json(results, "benchmarks/sm_loss.json")
    poe, foe, m = sm["poe"], sm["foe"], sm["machine"]
    t = poe["median_seconds"]
    rows = [["curvature backpropagation (`method=\"curvature\"`)", _f(t["curvature"], 4), "1"],
            ["hand-written closed form (the floor)", _f(t["closed_form"], 4),
             f"curvature / closed form = {_f(poe['curvature_over_closed_form'])}"],
            ["one energy forward + backward", _f(t["energy_fwd_bwd"], 4),
             f"curvature / it = {_f(poe['curvature_over_energy_fwd_bwd'])}"],
            ["exact Hessian diagonal (`method=\"exact\"`)", _f(t["exact"]),
             f"{_f(poe['exact_over_curvature'], 0)}x slower"]]
    if "torchebm_version" in poe:  # a run without torchebm installed has no such row
        rows.append([f"torchebm {poe['torchebm_version']} `ScoreMatching(hessian_method=\"exact\")`",
                     _f(t["torchebm_exact"]), f"{_f(poe['torchebm_exact_over_curvature'], 0)}x slower"])
    load = ("other jobs running" if "load_average_start" not in sm  # written before the script recorded it
            else f"{m['cpu']}, load average {_f(sm['load_average_start'])} at the start")
    return "\n".join([
        f"`python paper/benchmarks/sm_loss.py --rounds {sm['rounds']}` (this 2-core machine, {m['threads']} torch thread, "
        f"torch {m['torch']}, {poe['dtype']}, median of interleaved runs, {load}): {poe['model']}, "
        f"batch {poe['batch']}, loss + parameter gradient:", "",
        _table(["", "seconds", "ratio"], rows), "",
        f"{foe['model']} on {foe['images']} images: curvature / closed form = {_f(foe['curvature_over_closed_form'])}.",
        _cost_growth(results)])


def _cost_growth(results: Path) -> str:
    cg = _json(results, "benchmarks/cost_growth.json")
    slopes = cg["poe"]["exponent_in_D"]
    return (f"Cost growth (`python paper/benchmarks/cost_growth.py`, {cg['threads']} thread, also in the report): fitted "
            f"log-log slopes for a PoE with M = D: curvature {_f(slopes['curvature'])} (the number of weights grows "
            f"as D^2), exact {_f(slopes['exact'])} (one power of D more); FoE {_f(cg['foe']['exponent_in_pixels'])} "
            "in the number of pixels (linear up to 512x512; the 1024x1024 point is slowed by memory traffic).")


def _mnist_errors(results: Path) -> _Fields:
    """Free-filter classification rows keyed by lambda, plus ``"raw"``."""
    name = "mnist/classification.csv"
    rows = _csv(results, name)
    free = {r["lam"]: r for r in rows if r["features"] == "free"}
    return _Fields(name, {**free, "raw": _by(rows, "features", name)["raw"]})


def _mnist_loglik(results: Path) -> _Fields:
    """Free-filter likelihood rows keyed by lambda."""
    return _by([r for r in _csv(results, "mnist/loglik.csv") if r["parameterization"] == "free"], "lam",
               "mnist/loglik.csv")


def _best_loglik(ll: _Fields) -> float:
    return max(ll, key=lambda lam: ll[lam]["test_loglik"])


def _best_error(err: _Fields) -> float:
    return min((lam for lam in err if lam != "raw"), key=lambda lam: err[lam]["error_mean"])


def _draws(row: _Fields) -> list[float]:
    return [float(v) for v in row["errors"].split()]


def _mnist(results: Path) -> str:
    ll, err = _mnist_loglik(results), _mnist_errors(results)
    best_ll, best_err = _best_loglik(ll), _best_error(err)

    def bold(text: str, lam: float, best: float) -> str:
        return f"**{text}**" if lam == best else text

    def error(row: _Fields) -> str:
        return f"{_f(100 * row['error_mean'], 1)} ± {_f(100 * row['error_std'], 1)}"

    table = _table(["lambda"] + [_lam(lam) for lam in MNIST_LAMBDAS] + ["raw pixels"], [
        ["test log-likelihood (nats/digit)"] + [bold(_f(ll[lam]["test_loglik"], 1), lam, best_ll)
                                                for lam in MNIST_LAMBDAS] + [""],
        ["test error (%)"] + [bold(error(err[lam]), lam, best_err) for lam in MNIST_LAMBDAS] + [error(err["raw"])]])
    return "\n".join([
        f"Test error: mean ± std over the {len(_draws(err['raw']))} draws of training digits.", "", table, "",
        f"Classification is lowest at lambda = {_lam(best_err)} ({error(err[best_err])} %); "
        f"{_mnist_ties(err, best_err)}. "
        f"The likelihood peaks at lambda = {_lam(best_ll)}, not at the paper's {mnist.PAPER_BEST_LAM:g}: score "
        "matching's optimum is not the likelihood's, and at larger lambda the likelihood falls as training continues "
        "(the report's convergence check)."])


def _mnist_ties(err: _Fields, best: float) -> str:
    """Which lambdas' test errors are not resolved from the best one, the errors paired over the draws (the same
    digits)."""
    close = [_lam(lam) for lam in err if lam not in ("raw", best)
             and is_unresolved(*paired_difference(_draws(err[lam]), _draws(err[best])))]
    if not close:
        return "every other lambda is worse by the verdict rule (test errors paired over the draws)"
    return (f"its difference to lambda = {_names(close)} is {UNRESOLVED} (test errors paired over the "
            f"{_count(len(_draws(err[best])), 'draw')})")


def _patches(results: Path) -> str:
    summary = _json(results, "patches/summary.json")
    base, dq = summary["baseline"], summary["dequantized_train"]
    best, best_dq = base["best_lambda"], dq["best_lambda"]
    return (f"Square PoE on 8x8 Train400 patches ([0, 1] scale, free filters, alpha = 1), held-out log-likelihood of "
            f"10,000 patches from 40 unseen images: best at lambda = {_lam(float(best))} ({_f(base['ll'][best])} "
            f"nats; the paper's best: {_lam(patches.PAPER_BEST_LAM)}) against {_f(base['ll']['0'])} at lambda = 0, "
            "once the fit starts from the ZCA filters (from random filters L-BFGS stops far from the score-matching "
            "optimum and the curve is flat: the issue's quick run). Dequantizing the training data raises lambda = 0 "
            f"to {_f(dq['ll']['0'])}; the best is then "
            f"lambda = {_lam(float(best_dq))} ({_f(dq['ll'][best_dq])}).")


# --- restoration: every number from the summaries of scorematch_paper.experiments.restoration, as in the report -------

def _table1(results: Path) -> _Fields:
    """Table 1 per image (:func:`restoration.table1_summary`: means, stds and paired differences over the draws)."""
    name = "restoration/table1.json"
    rows = restoration.table1_summary(results / "restoration")
    _note(name)
    return _by(_wrap(rows, name), "image", name)


def _table2(results: Path) -> _Fields:
    """Table 2 per image (one deterministic run each)."""
    name = "restoration/table2.json"
    return _by(_json(results, name)["result"], "image", name)


def _heldout(results: Path) -> _Fields:
    """The validation table (:func:`restoration.heldout_summary`) as noise level -> method -> row."""
    name = "restoration/heldout.json"
    levels = _Fields(name, {})
    rows = restoration.heldout_summary(results / "restoration")
    _note(name)
    for row in _wrap(rows, name):
        levels.setdefault(row["level"], _Fields(name, {}))[row["method"]] = row
    return levels


def _sweep(results: Path) -> _Fields:
    """Figure 2e-g per noise level (:func:`restoration.sweep_summary`)."""
    sweep = restoration.sweep_summary(results / "restoration")
    _note("restoration/lambda_sweep.json")
    return _wrap(sweep, "restoration/lambda_sweep.json")


def _choices(results: Path) -> _Fields:
    """Every choice made on the tuning crops: prior weights, the paper solver's weight, super-resolution settings."""
    return _json(results, "restoration/choices.json")


def _measured_by(results: Path, provenance: str = "restoration/provenance.json") -> str:
    """Which commit, machine and finish time measured a stage's blocks (its published ``provenance``)."""
    prov = _json(results, provenance)
    stamp, m = prov["stage_stamp"], prov["machine"]
    dirty = f" with uncommitted changes (code fingerprint {stamp['fingerprint']})" if stamp["dirty"] else ""
    return (f"Measured at commit {stamp['commit'][:7]}{dirty} on {m['cpu_count']} {m['processor']} cores, "
            f"{m['cuda'] or 'no GPU'} (torch {m['torch']}, {m['torch_threads']} threads), finished {prov['finished']}")


def _pm(mean: float, std: float) -> str:
    """``mean ± std``, or ``mean (std unknown)`` where one draw gives no spread (std nan)."""
    return _f(mean) + (" (std unknown)" if math.isnan(std) else f" ± {_f(std)}")


def _settings_text(choice: _Fields) -> str:
    """A per-model choice as prose: ``RSM: 0.3, CD-1 (same recipe): 0.3, R&B 3x3x8: 1``."""
    return ", ".join(f"{METHOD_NAMES[model]}: {value:g}" for model, value in choice.items())


def _verdicts(diffs: dict[str, tuple[float, float]]) -> dict[str, list[str]]:
    """Names above, not resolved and below by the verdict rule; ``diffs``: name -> (difference, its std)."""
    verdict: dict[str, list[str]] = {"above": [], UNRESOLVED: [], "below": []}
    for name, (diff, std) in diffs.items():
        key = UNRESOLVED if is_unresolved(diff, std) or diff == 0 else "above" if diff > 0 else "below"
        verdict[key].append(name + ("" if key == UNRESOLVED else f" by {describe(diff, std)}"))
    return verdict


def _other_minus_rsm(t1: _Fields, other: str) -> dict[str, tuple[float, float]]:
    """Per image: ``other`` minus our RSM FoE, paired over the noise draws."""
    return {name.capitalize(): (-r[f"rsm_minus_{other}"], r[f"rsm_minus_{other}_std"]) for name, r in t1.items()}


def _table1_means(t1: _Fields) -> _Fields:
    """The mean over images of each Table 1 column, with the std over the draws of that mean (every image has
    its own noise draws: :func:`std_of_mean`)."""
    rows, cols = list(t1.values()), TABLE1_METHODS + ("rsm_minus_cd1", "rsm_minus_rsm_paper_solver")
    means = {c: _mean([r[c] for r in rows]) for c in cols + ("paper_rsm",)}
    means.update({c + "_std": std_of_mean([r[c + "_std"] for r in rows]) for c in cols})
    return _Fields("restoration/table1.json (mean over images)", means)


def _table1_row(label: str, r: _Fields) -> list[str]:
    """One row of Table 1: the means, the paper's RSM column (beside ours, no verdict: our image files are not the
    paper's) and the two paired verdicts by the verdict rule."""
    return [label] + [_f(r[c]) for c in TABLE1_METHODS] + [
        _f(r["paper_rsm"]), describe(r["rsm_minus_cd1"], r["rsm_minus_cd1_std"], unit=""),
        describe(r["rsm_minus_rsm_paper_solver"], r["rsm_minus_rsm_paper_solver_std"], unit="")]


def _draws_text(results: Path, t1: _Fields) -> str:
    """How many noise draws each Table 1 mean has, and their largest std."""
    stds = [r[c + "_std"] for r in t1.values() for c in TABLE1_METHODS]
    if any(math.isnan(s) for s in stds):
        return "one noise draw per image, so no spread over the draws is measured"
    rows = _json(results, "restoration/table1.json")["result"]
    n_draws = sum(r["image"] == rows[0]["image"] for r in rows)
    return f"mean of {n_draws} noise draws per image, std over the draws <= {_f(max(stds))}"


def _restoration_table1(results: Path) -> str:
    t1, choices = _table1(results), _choices(results)
    level = "5"
    weights = _Fields("restoration/choices.json", {m: w[level] for m, w in choices["weights"].items()})
    header = ["image"] + [METHOD_NAMES[c] for c in TABLE1_METHODS] + [
        "paper's RSM", "RSM - CD-1 (dB)", "RSM - paper solver (dB)"]
    rows = [_table1_row(name.capitalize(), r) for name, r in t1.items()] + [_table1_row("mean", _table1_means(t1))]
    return "\n".join([
        f"Denoising at sigma = {level}/256 (PSNR dB, {_draws_text(results, t1)}; L-BFGS MAP; prior weights chosen on "
        f"Set12 images that are in neither table: {_settings_text(weights)}). {_measured_by(results)} "
        f"(`{_json(results, 'restoration/provenance.json')['command']}`). CD-1 (same recipe) is a 5x5x24 FoE trained "
        "with the RSM FoE's recipe, only the estimator swapped (contrastive divergence): its learning rate and step "
        "count were chosen for RSM, not tuned for CD-1, so \"RSM - CD-1\" compares the estimators at RSM's "
        "settings; \"RSM, paper's solver\" is our RSM FoE denoised by the paper's annealed gradient "
        f"steps preconditioned by sigma^2, at its own weight, {choices['paper_weight']:g}, chosen on the same "
        "crops. \"RSM - CD-1\" and \"RSM - paper solver\" are paired over the noise draws, by the verdict rule. The "
        "paper's RSM column stands beside ours without a verdict: our image files are not the paper's, and its spread "
        "over noise draws is unknown. The mean row's stds are those of the mean over images:", "",
        _table(header, rows)])


def _gain_cell(entry: _Fields, other: str) -> str:
    """The best lambda's paired gain over ``other`` (``"lam0"`` or ``"runner_up"``) by the verdict rule; "-" where
    there is none (the best lambda is 0, or only one lambda was run)."""
    key = "gain_over_" + other
    return describe(entry[key], entry[key + "_std"], unit="") if key in entry else "-"


def _restoration_lambda(results: Path) -> str:
    sweep = _sweep(results)
    levels = sorted(sweep, key=int)
    entries = [sweep[lv] for lv in levels]
    return "\n".join([
        "**Figure 2e-g**: PSNR on the tuning crops against the training lambda. Each lambda's prior weight is "
        f"chosen on one noise draw, then scored on {_count(entries[0]['n_draws'], 'further draw')} at that weight "
        "(mean ± std); the gains are paired over those draws, by the verdict rule. " + _measured_by(results) + ".", "",
        _table(["noise level"] + [f"{lv}/256" for lv in levels], [
            ["best lambda"] + [_lam(e["lam"]) for e in entries],
            ["its PSNR (dB)"] + [_pm(e["psnr"], e["psnr_std"]) for e in entries],
            ["gain over lambda = 0 (dB)"] + [_gain_cell(e, "lam0") for e in entries],
            ["runner-up lambda"] + [_lam(e["runner_up_lam"]) if "runner_up_lam" in e else "-" for e in entries],
            ["gain over the runner-up (dB)"] + [_gain_cell(e, "runner_up") for e in entries]])])


def _sr_gain(t2: _Fields) -> dict[str, float]:
    """Per image: our RSM FoE minus the bicubic, projected start."""
    return {name.capitalize(): r["rsm"] - r["bicubic_projected"] for name, r in t2.items()}


def _restoration_superres(results: Path) -> str:
    t2, choices = _table2(results), _choices(results)
    gain = _sr_gain(t2)
    low, high = min(gain, key=gain.get), max(gain, key=gain.get)
    return "\n".join([
        "2x super-resolution (PSNR dB; our images are not the paper's versions, so every start is computed by the "
        "same code; no noise, so one deterministic run per image). L-BFGS iterations chosen per model on the "
        f"tuning crops: {_settings_text(choices['sr_iters'])}; the paper's solver (projected gradient steps, on "
        f"our RSM FoE) at the step scale chosen there, {choices['sr_paper_step']:.3g}. {_measured_by(results)}.", "",
        _table(["image"] + [METHOD_NAMES[c] for c in TABLE2_METHODS],
               [[name.capitalize()] + [_f(r[c]) for c in TABLE2_METHODS] for name, r in t2.items()]), "",
        f"Our RSM FoE minus the bicubic start: {_signed(gain[low])} dB ({low}) to {_signed(gain[high])} dB ({high})."])


def _heldout_cells(row: _Fields) -> list[str]:
    """A method's mean ± std over the images at one level, and its paired difference to our RSM FoE."""
    if row["method"] == "rsm":
        return [_pm(row["psnr"], row["psnr_std"]), ""]
    minus = describe(row["minus_rsm"], row["minus_rsm_std"], unit="")
    return [_pm(row["psnr"], row["psnr_std"]), f"{minus}; {int(row['images_above_rsm'])}/{int(row['n_images'])} above"]


def _restoration_heldout(results: Path) -> str:
    held = _heldout(results)
    header = ["method"] + [h for lv in held for h in (f"{lv}/256 (dB)", "minus RSM")]
    rows = [[METHOD_NAMES[m]] + [cell for lv in held for cell in _heldout_cells(held[lv][m])]
            for m in HELDOUT_METHODS]
    n_images = next(iter(held.values()))["rsm"]["n_images"]
    return "\n".join([
        f"Denoising (PSNR dB) on the {n_images} validation images (Set12's airplane and the tenth of Train400 that no "
        "prior trains on; one noise draw per image and level; no setting is tuned on them, but choices were made after "
        "looking at them, so they are validation, not test images): mean ± std over the images, and each method "
        f"minus our RSM FoE, paired over the images ({UNRESOLVED} when within two standard deviations of the mean "
        "difference), with the number of images on which the method scored higher. Bundled foe_5x5x24 is the "
        f"model file bundled under that name, at its presets. {_measured_by(results)}.", "",
        _table(header, rows)])


def _listed(names: list[str]) -> str:
    return _names(names) if names else "no image"


def _table1_gaps(t1: _Fields) -> list[str]:
    """Where CD-1 or the paper's solver is above our RSM FoE by the verdict rule."""
    return [
        "- Table 1: CD-1 (same recipe) above our RSM FoE by the verdict rule on "
        f"{_listed(_verdicts(_other_minus_rsm(t1, 'cd1'))['above'])}; the paper's solver above it on "
        f"{_listed(_verdicts(_other_minus_rsm(t1, 'rsm_paper_solver'))['above'])}."]


def _heldout_gap(held: _Fields) -> str:
    """The methods above our RSM FoE on the validation images by the verdict rule, per noise level."""
    per_level = []
    for lv, rows in held.items():
        above = _verdicts({METHOD_NAMES[m]: (r["minus_rsm"], r["minus_rsm_std"])
                           for m, r in rows.items() if m != "rsm"})["above"]
        per_level.append(f"at {lv}/256: {_names(above) if above else 'none'}")
    return "- Validation images: above our RSM FoE by the verdict rule " + "; ".join(per_level) + "."


def _superres_gap(t2: _Fields) -> str:
    """Where our RSM FoE fails to beat the bicubic start by :data:`SR_MARGIN`, and which models score above it."""
    short = [f"{name} ({_signed(g)} dB)" for name, g in _sr_gain(t2).items() if g < SR_MARGIN]
    above = []
    for col in ("rb", "cd1", "rsm_paper_solver"):
        images = [f"{name.capitalize()} ({_signed(r[col] - r['rsm'])} dB)" for name, r in t2.items()
                  if r[col] > r["rsm"]]
        if images:
            above.append(f"{METHOD_NAMES[col]} on {_names(images)}")
    return (f"- Super-resolution: our RSM FoE is less than {_f(SR_MARGIN, 1)} dB above the bicubic, projected start on "
            f"{_listed(short)}; above our RSM FoE: {'; '.join(above) if above else 'no model on any image'}.")


def _known_gaps(results: Path) -> str:
    return "\n".join(_table1_gaps(_table1(results)) + [_heldout_gap(_heldout(results)), _bm3d_gap(results),
                                                        _superres_gap(_table2(results)), _mnist_gap(results)])


def _bm3d_gap(results: Path) -> str:
    """BM3D against our RSM FoE on the validation images and noise draws (paper/benchmarks/heldout_bm3d.py)."""
    levels = _json(results, "benchmarks/heldout_bm3d_cpu.json")["levels"]
    gaps = [f"{describe(e['bm3d_minus']['rsm']['mean'], e['bm3d_minus']['rsm']['std_of_mean'])} at {lv}/256 "
            f"(higher on {e['bm3d_minus']['rsm']['images_bm3d_higher']} of {e['n_images']} images)"
            for lv, e in sorted(levels.items(), key=lambda kv: int(kv[0]))]
    return ("- BM3D (`paper/benchmarks/heldout_bm3d.py`, the same validation images and noise draws) is above our "
            "RSM FoE by "
            + "; ".join(gaps) + ".")


def _mnist_gap(results: Path) -> str:
    err = _mnist_errors(results)
    best = _best_error(err)
    return (f"- MNIST: the likelihood peaks at lambda = {_lam(_best_loglik(_mnist_loglik(results)))}, not at the "
            f"paper's {mnist.PAPER_BEST_LAM:g}; the test error is lowest at {_lam(best)}, and {_mnist_ties(err, best)}.")


#: The issue's acceptance bar (dB over the anchor) per inverse problem of the beyond stage.
INVERSE_BARS = {"deblur": 1.0, "inpaint": 0.5, "superres_3x": 0.1, "superres_4x": 0.1, "table2_superres_2x": 0.1}


def _beyond_diff(entry: _Fields, ours: str, other: str) -> str:
    c = next(c for c in entry["comparisons"] if c["ours"] == ours and c["other"] == other)
    unresolved = f" ({UNRESOLVED})" if is_unresolved(c["diff"], c["std_of_mean"]) else ""
    return f"{_signed(c['diff'])} ± {_f(c['std_of_mean'])}{unresolved}"


def _bar(problem: str) -> str:
    if problem not in INVERSE_BARS:
        return "-"
    each = " on each image" if problem == beyond_settings.TABLE2_PROBLEM else ""
    return _signed(INVERSE_BARS[problem]) + each


def _inverse_problems(results: Path) -> str:
    t = _json(results, "beyond/summary.json")
    c, priors = t["config"], t["config"]["priors"]
    rows = []
    for key, (title, anchor) in beyond_settings.GREY_PROBLEMS.items():
        e = t["problems"][key]
        rows.append([title, beyond_settings.METHOD_NAMES[anchor], _f(e["means"][anchor]),
                     *(cell for p in priors for cell in (_f(e["means"][p]), _beyond_diff(e, p, anchor))),
                     _bar(key)])
    first, table2 = t["problems"]["deblur"], t["problems"][beyond_settings.TABLE2_PROBLEM]
    base = table2["per_image"]["bicubic"]
    def gains(i: int) -> str:
        return ", ".join(f"{_signed(table2['per_image'][p][i] - base[i])} ({p})" for p in priors)

    per_image = "; ".join(f"{name.capitalize()} {gains(i)}" for i, name in enumerate(table2["images"]))
    return "\n".join([
        f"Beyond the paper (`scorematch reproduce beyond`, report section 'Beyond the paper'): the bundled priors "
        f"through `tasks.restore` on {first['n_images']} validation images ({c['grey_crop']}x{c['grey_crop']} central "
        "crops), every choice (the FoE's weight and inpainting iterations, the deep energy's level per problem, "
        "Wiener's balance) made on the 6 tuning crops; mean PSNR (dB), and each prior minus the anchor paired over "
        f"the images (mean ± std of the mean; {UNRESOLVED} within two std). "
        f"{_measured_by(results, 'beyond/provenance.json')}.",
        "", _table(["problem", "anchor", "its PSNR", *(h for p in priors for h in (p, "minus anchor")),
                    "issue's bar"], rows), "",
        _reflow(f"2x super-resolution, each Table 2 image minus bicubic + projection (the issue's bar: +0.10 on each; "
                f"the deep energy's level for 2x chosen on the tuning crops): {per_image}.")])


def _unet_inverse_problems(results: Path) -> str:
    """The U-Net's rows of the grey inverse problems (``unet/inverse_problems.json``) beside the beyond stage's
    published priors (``beyond/summary.json``): the same crops, settings and anchors."""
    u, t = _json(results, "unet/inverse_problems.json"), _json(results, "beyond/summary.json")
    prior = u["prior"]
    others = [p for p in t["config"]["priors"] if p != prior]  # the stage's run may hold this prior too
    rows = []
    for key, (title, anchor) in beyond_settings.GREY_PROBLEMS.items():
        e, old = u["problems"][key], t["problems"][key]
        level = e["choices"][prior][0]
        rows.append([title, beyond_settings.METHOD_NAMES[anchor], _f(e["means"][anchor]), _f(e["means"][prior]),
                     _beyond_diff(e, prior, anchor), f"{level}/256", *(_beyond_diff(old, p, anchor) for p in others),
                     _bar(key)])
    table2 = u["problems"][beyond_settings.TABLE2_PROBLEM]
    base = table2["per_image"]["bicubic"]
    per_image = "; ".join(f"{name.capitalize()} {_signed(table2['per_image'][prior][i] - base[i])}"
                          for i, name in enumerate(table2["images"]))
    return "\n".join([
        f"`{prior}` through `tasks.restore` on the beyond stage's grey inverse problems (`python paper/benchmarks/"
        f"inverse_problems.py {prior}`: the stage's {table2['n_images']} Table 2 images and "
        f"{u['problems']['deblur']['n_images']} validation crops, {u['config']['grey_crop']}x{u['config']['grey_crop']}; "
        "its field's level per problem chosen on the 6 tuning crops among "
        f"{', '.join(f'{lv:g}' for lv in u['config']['deep_levels'])} (/256) and written into its presets), beside the "
        "stage's published priors on the same crops (`scorematch reproduce beyond`, measured at commit "
        f"{_measured_commit(results, 'beyond/summary.json', t)}; the stage's own `{prior}` run is in the block above); "
        f"mean PSNR (dB), each prior minus the anchor paired over the images (mean ± std of the mean; {UNRESOLVED} "
        "within two std).", "",
        _table(["problem", "anchor", "its PSNR", prior, "minus anchor", "level", *(f"{p} minus anchor" for p in others),
                "issue's bar"], rows), "",
        _reflow(f"2x super-resolution, each Table 2 image minus bicubic + projection (the issue's bar: +0.10 on each): "
                f"{per_image}.")])


def _colour_denoise(results: Path) -> str:
    t = _json(results, "beyond/summary.json")
    levels = [k for k in t["problems"] if k.startswith("colour_")]
    others = ("grey_per_channel", "cbm3d", "tv")
    colour_priors = tuple(t["config"].get("colour_priors", ()))  # a run before colour priors whole records none
    ours = [m for m in beyond_settings.colour_methods(tuple(t["config"]["priors"]), colour_priors)
            if m not in others and m in t["problems"][levels[0]]["means"]]
    rows, diffs = [], []
    for key in levels:
        e, level = t["problems"][key], f"{key.removeprefix('colour_')}/256"
        rows.append([level, _f(e["means"]["noisy"]), *(_f(e["means"][m]) for m in (*others, *ours))])
        diffs += [[level, beyond_settings.method_name(m), *(_beyond_diff(e, m, o) for o in others)] for m in ours]
    c, n = t["config"], t["problems"][levels[0]]["n_images"]
    names = [beyond_settings.method_name(m) for m in (*others, *ours)]
    return "\n".join([
        f"Colour denoising (`scorematch reproduce beyond`): {n} validation BSDS300 colour images ({c['colour_crop']}x"
        f"{c['colour_crop']} central crops), noise i.i.d. per pixel and channel; the bundled colour prior, "
        + "".join(f"`{p}` on the colour image whole (as `scorematch denoise --model {p}` runs it), " for p in colour_priors)
        + "and each grey prior on the luminance and two opponent channels at their own noise levels (what `scorematch denoise "
        f"--model NAME` does with a colour image; `{DEFAULT_PRIORS[3]}` there is its default), against the grey prior applied to each RGB channel (at its card's "
        "weights), colour BM3D (`bm3d.bm3d_rgb`) and colour TV (weight per level chosen on the colour tuning crops); "
        f"mean PSNR (dB), then ours minus each, paired over the images (mean ± std of the mean; {UNRESOLVED} "
        "within two std).", "",
        _table(["noise", "noisy", *names], rows), "",
        _table(["noise", "ours", *(f"minus {beyond_settings.method_name(o)}" for o in others)], diffs)])


def _deep_energy(results: Path) -> str:
    d = _json(results, "benchmarks/deep_energy_cpu.json")
    rows = []
    for lv, e in d["levels"].items():
        pm = {k: f"{_signed(e[k]['mean'])} ± {_f(e[k]['std_of_mean'])}" for k in
              ("deep_minus_bm3d", "deep_minus_foe_5x5x24", "deep_tweedie_minus_bm3d")}
        rows.append([f"{lv}/256", _f(e["deep_energy_psnr"]), _f(e["deep_energy_tweedie_psnr"]), _f(e["bm3d_psnr"]),
                     _f(e["foe_5x5x24_psnr"]), pm["deep_minus_bm3d"], pm["deep_minus_foe_5x5x24"],
                     pm["deep_tweedie_minus_bm3d"]])
    times = _deep_times(d)
    n = next(iter(d["levels"].values()))["n_images"]
    return "\n".join([
        f"Deep energy (`python paper/benchmarks/deep_energy.py`, commit {d['commit'][:7]}): the bundled noise-conditional "
        "`deep_energy` as `scorematch denoise --model deep_energy` runs it (MAP with its field `E_s` at `s = a sigma`, "
        "weight `w` and L-BFGS iterations per level from its Tweedie estimate, chosen on the tuning crops by "
        "`paper/benchmarks/deep_energy_map.py`), its Tweedie "
        f"estimate, BM3D and the bundled FoE on the {n} validation images; mean PSNR (dB) and paired differences "
        f"(mean ± std of the mean; {UNRESOLVED} within two std).", "",
        _table(["noise", "deep_energy (MAP)", "its Tweedie", "BM3D", "foe_5x5x24", "MAP minus BM3D", "MAP minus FoE",
                "Tweedie minus BM3D"], rows), "",
        _reflow(f"Time on the 512x512 Lena, medians of 3 on the 2-core {d.get('cpu', 'shared')} machine: {times}.")])


def _deep_times(d: dict) -> str:
    return "; ".join(f"{lv}/256: {_f(t['deep_energy_s'], 1)} s (BM3D {_f(t['bm3d_s'], 1)} s)"
                     for lv, t in d["timing_512_by_level"].items())


def _shootout(results: Path) -> str:
    d = _json(results, "shootout/shootout.json")
    c = d["config"]
    rows = groups(d["rows"], c["minutes"])
    levels = " / ".join(f"{lv}/256" for lv in shootout.LEVELS)
    reference = [f"bundled `{name}` ({'Tweedie' if name == 'deep_energy' else 'MAP'}) "
                 + " / ".join(_f(p[str(lv)]) for lv in shootout.LEVELS) for name, p in sorted(d["reference"].items())]
    after = [regularizer_text(rows, c["minutes"]), f"On the same images, dB at {levels}: {_names(reference)}.",
             missing_text(d["missing"]) if d.get("missing") else ""]
    return "\n".join([
        _reflow("Estimator shoot-out (`python paper/scripts/estimator_shootout.py`). " + shootout_recipe(c)), "",
        _reflow(choices_text(d["choices"])), "", shootout_table(rows), "", _reflow(" ".join(filter(None, after))),
        "", "![estimator shoot-out](docs/results/shootout/shootout.png)",
        "", "![training loss of the regularized estimators](docs/results/shootout/shootout_loss.png)"])


#: README block name -> renderer.
BLOCKS: dict[str, Callable[[Path], str]] = {
    "verdict-rule": _verdict_rule,
    "core-speed": _core_speed,
    "mnist": _mnist,
    "patches": _patches,
    "restoration-table1": _restoration_table1,
    "restoration-lambda": _restoration_lambda,
    "restoration-superres": _restoration_superres,
    "restoration-heldout": _restoration_heldout,
    "inverse-problems": _inverse_problems,
    "colour-denoise": _colour_denoise,
    "deep-energy": _deep_energy,
    "shootout": _shootout,
    "known-gaps": _known_gaps,
}


# --- the page ---------------------------------------------------------------------------------------------------

def renderable(results: Path) -> list[str]:
    """The blocks whose artifacts are all present in ``results`` in today's format (a block missing one raises
    FileNotFoundError; an artifact of an older format, KeyError)."""
    names = []
    for name, render in BLOCKS.items():
        try:
            render(results)
        except (FileNotFoundError, KeyError):
            continue
        names.append(name)
    return names


class Rendered(NamedTuple):
    """A page as rendered: its ``text`` and, per block whose artifacts no longer describe today's code or models
    (:func:`scorematch_paper.stamps.stale`), the reasons."""

    text: str
    stale: dict[str, list[str]]


def render(template: str, blocks: Mapping[str, Callable[[Path], str]], results: Path, *,
           only: list[str] | None = None, keep_markers: bool = True, page: str = "RESULTS.md") -> Rendered:
    """``template`` with every result block (or those named in ``only``) rendered from the artifacts in
    ``results`` by ``blocks``, each followed by its provenance (:func:`_provenance`); ``keep_markers``: keep the
    ``<!-- results:NAME -->`` markers (a page that is its own template) or drop them (a model card).

    Raises ``ValueError`` if a block of ``blocks`` is missing from the template, or a marked block has no renderer
    or is repeated.
    """
    found = [m.group(2) for m in BLOCK.finditer(template)]
    missing, unknown = sorted(set(blocks) - set(found)), sorted(set(found) - set(blocks))
    duplicated = sorted({name for name in found if found.count(name) > 1})
    if missing or unknown or duplicated:
        raise ValueError(f"{page} result blocks: missing {missing}, without a renderer {unknown}, "
                         f"repeated {duplicated}")
    stale: dict[str, list[str]] = {}

    def sub(m: re.Match) -> str:
        name = m.group(2)
        if only is not None and name not in only:
            return m.group(0)
        body, reasons = _render_block(blocks[name], results)
        if reasons:
            stale[name] = reasons
        return m.group(1) + body + "\n" + m.group(4) if keep_markers else body

    return Rendered(BLOCK.sub(sub, template), stale)


def build(readme: str, results: Path, only: list[str] | None = None) -> str:
    """``readme`` (RESULTS.md's text) with every result block (or those named in ``only``) rewritten from the
    artifacts in ``results``.

    Raises ``ValueError`` if a registered block is missing from the page or a marked block has no renderer.
    """
    return render(readme, BLOCKS, results, only=only).text


def _diff(current: str, generated: str, path: Path, results: Path) -> str:
    lines = difflib.unified_diff(current.splitlines(keepends=True), generated.splitlines(keepends=True),
                                 fromfile=str(path), tofile="generated from " + str(results))
    return "".join(lines)


def check(readme_path: Path, results: Path, only: list[str] | None = None) -> str:
    """The unified diff from ``readme_path`` to what :func:`build` writes; empty when they agree."""
    current = readme_path.read_text()
    return _diff(current, build(current, results, only), readme_path, results)


# --- provenance: stamped artifacts are checked, unstamped ones say so -------------------------------------------

def _render_block(renderer: Callable[[Path], str], results: Path) -> tuple[str, list[str]]:
    """A block's text (wrapped) followed by its provenance line, and the reasons it is stale (empty if not)."""
    global _READ
    _READ = []
    try:
        text = _reflow(renderer(results))
        read = list(_READ)
    finally:
        _READ = None
    line, reasons = _provenance(results, read)
    return text + ("\n\n" + _reflow(line) if line else ""), reasons


def _record(results: Path, name: str) -> dict:
    """The top-level fields of a JSON artifact (empty for a CSV, a log or a JSON list)."""
    if not name.endswith(".json"):
        return {}
    data = json.loads((results / name).read_text())
    return data if isinstance(data, dict) else {}


def _stamp_of(record: dict) -> dict | None:
    """The artifact's :func:`scorematch_paper.stamps.stamp` (keys ``code`` and ``models``, at its top level or under
    ``stamp``), or None for an artifact written before stamps."""
    for candidate in (record, record.get("stamp")):
        if isinstance(candidate, dict) and "code" in candidate and "models" in candidate:
            return candidate
    return None


def _published_stamp(results: Path, name: str) -> dict | None:
    """The stamp of the ``scorematch reproduce`` stage that published the artifact ``name``: the ``stamp`` of a
    provenance file in its folder (``provenance.json``, ``STAGE_provenance.json``) whose ``published`` files include
    it (``paper/scripts/publish_results.py``), which covers the stage's CSVs too; None when none does."""
    for path in sorted((results / name).parent.glob("*provenance.json")):
        record = json.loads(path.read_text())
        if Path(name).name in record.get("published", []):
            return _stamp_of(record.get("stamp") or {})
    return None


def _measured_commit(results: Path, name: str, record: dict) -> str | None:
    """The commit an unstamped artifact says measured it: its own ``commit`` (or its cache or stage stamp's), else
    the ``provenance.json`` of its folder or a folder above it; None when none records one."""
    records = [record, *(_record(results, str(folder / "provenance.json")) for folder in Path(name).parents
                         if (results / folder / "provenance.json").is_file())]
    for r in records:
        for commit in (r.get("commit"), *(r[k].get("commit") for k in ("stamp", "stage_stamp")
                                          if isinstance(r.get(k), dict))):
            if isinstance(commit, str) and commit:
                return commit[:7]
    return None


def _provenance(results: Path, names: list[str]) -> tuple[str, list[str]]:
    """The provenance line of a block that read the artifacts ``names``, and why it is stale.

    A stamped artifact is checked by :func:`scorematch_paper.stamps.stale` against today's code (the import closure
    of the modules that computed it) and model files: each reason becomes part of a visible ``**stale**`` line and
    of the returned reasons (which fail ``--check``). An artifact without a stamp cannot be checked: the line says
    ``unstamped (measured at commit X)``. ``provenance.json`` files are the records of others, not measurements.
    """
    reasons: list[str] = []
    unstamped: dict[str | None, list[str]] = {}
    for name in names:
        if Path(name).name == "provenance.json":
            continue
        record = _record(results, name)
        found = _stamp_of(record) or _published_stamp(results, name)
        if found is None:
            unstamped.setdefault(_measured_commit(results, name, record), []).append(f"`{name}`")
        else:
            reasons += [f"`{name}`: {why}" for why in stamps.stale(found, root=ROOT)]
    lines = []
    if reasons:
        lines.append("**stale**: " + "; ".join(reasons) + ".")
    if unstamped:
        groups = [(f"measured at commit {commit}" if commit else "commit not recorded") + ": " + ", ".join(files)
                  for commit, files in unstamped.items()]
        lines.append("*Provenance: unstamped (no code fingerprint or model hashes to check); " + "; ".join(groups)
                     + ".*")
    return "\n\n".join(lines), reasons


# --- the pages: RESULTS.md and the model cards ------------------------------------------------------------------

#: The folder of the model cards' templates (``NAME.md``, prose and result blocks) and of their changelog.
CARD_TEMPLATES = ROOT / "paper" / "cards"


class Page(NamedTuple):
    """A generated page: ``path``, written from ``template`` (None: the page is its own template and keeps its
    markers, as RESULTS.md) with the renderers ``blocks``; ``default`` stands in for a template file not yet
    written, ``footer`` ends a card."""

    name: str
    path: Path
    blocks: Mapping[str, Callable[[Path], str]]
    template: Path | None = None
    default: str = ""
    footer: str = ""

    def source(self) -> str:
        if self.template is None:
            return self.path.read_text()
        return self.template.read_text() if self.template.is_file() else self.default


def card_blocks(name: str) -> dict[str, Callable[[Path], str]]:
    """The blocks of ``name``'s card: ``model`` (from the model file) and the model's figure blocks
    (:data:`CARD_FIGURES`)."""
    return {"model": functools.partial(_card_model, name), **CARD_FIGURES.get(name, {})}


def pages(*, readme: Path = ROOT / "RESULTS.md", cards: Path | None = None,
          templates: Path = CARD_TEMPLATES) -> list[Page]:
    """RESULTS.md, then one card per bundled model file (``cards``: the folder the cards are written to, by default
    the bundled models' own)."""
    out = [Page("RESULTS", readme, BLOCKS)]
    for model in sorted(models_dir().glob("*.safetensors")):
        name = model.stem
        out.append(Page(
            name, (cards or models_dir()) / f"{name}.md", card_blocks(name), templates / f"{name}.md",
            default=(f"# {name}\n\nA bundled `{load_info(model)['energy']}` model; its card template "
                     f"`paper/cards/{name}.md` is not written yet.\n\n<!-- results:model -->\n"
                     "<!-- /results:model -->\n"),
            footer=(f"*Generated by `python paper/scripts/build_results.py` from `paper/cards/{name}.md`, the model "
                    "file's metadata and `docs/results/`: edit those, not this file. Earlier runs and figures: "
                    "`paper/cards/CHANGELOG.md`.*")))
    return out


def build_page(page: Page, results: Path, only: list[str] | None = None) -> Rendered:
    """``page`` as generated from ``results`` (``only``: these blocks of a page that is its own template)."""
    own = page.template is None
    r = render(page.source(), page.blocks, results, only=only if own else None, keep_markers=own,
               page=page.path.name)
    return r if own else Rendered(r.text.rstrip("\n") + "\n\n" + _reflow(page.footer) + "\n", r.stale)


def check_page(page: Page, results: Path, only: list[str] | None = None) -> tuple[str, dict[str, list[str]]]:
    """The unified diff from the page on disk to what :func:`build_page` writes (empty when it is current), and its
    stale blocks."""
    r = build_page(page, results, only)
    current = page.path.read_text() if page.path.is_file() else ""
    return _diff(current, r.text, page.path, results), r.stale


# --- model cards: the model file's metadata and each model's current figures ------------------------------------

def _value_text(value: Any) -> str:
    """A metadata value as the card writes it: numbers to 4 significant digits, long lists by their length."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "none"}[value]
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "(" + _settings_of(value) + ")"
    if isinstance(value, list):
        return f"{len(value)} entries" if len(value) > 8 else "[" + ", ".join(_value_text(v) for v in value) + "]"
    return str(value)


def _settings_of(d: Mapping[str, Any]) -> str:
    """``key = value, ...`` of a metadata dict."""
    return ", ".join(f"{k} = {_value_text(v)}" for k, v in d.items())


def _unset(value: Any) -> str:
    """A preset's setting, "-" where it is unset (the solver's default)."""
    return "-" if value is None else _value_text(value)


def _level(sigma: float) -> str:
    """A noise std on [0, 1] as the cards write it: ``5/256``."""
    return f"{sigma * 256:g}/256"


#: Metadata keys of a model file that :func:`_card_model` writes on their own lines (the rest go to 'also
#: recorded'); ``tuning`` appears through the presets table.
_CARD_KEYS = ("recipe", "train", "settings", "data", "holdout", "train_seconds", "seconds", "machine", "tuning",
              "presets")


def _card_model(name: str, results: Path) -> str:
    """What the model file says of itself: energy and configuration, recipe, data, training time and machine, the
    presets (with their tuning-crop PSNR where the file has it), the file's size and SHA-256."""
    path = models_dir() / f"{name}.safetensors"
    info = load_info(path)
    extra = info.get("extra") or {}
    lines = [f"- Energy: `{info['energy']}` ({_settings_of(info['config'])})."]
    for key, label in (("recipe", "Recipe"), ("train", "Training"), ("settings", "Training settings")):
        if key in extra:
            lines.append(f"- {label} (`extra[\"{key}\"]`): {_settings_of(extra[key])}.")
    if "data" in extra:
        data = extra["data"]
        lines.append(f"- Data: {_settings_of(data) if isinstance(data, dict) else data}"
                     + (f"; held out of training: a fraction {_value_text(extra['holdout'])} of the images"
                        if "holdout" in extra else "") + ".")
    elif "holdout" in extra:
        lines.append(f"- Data held out of training: a fraction {_value_text(extra['holdout'])} of the images "
                     "(`extra[\"holdout\"]`).")
    seconds = extra.get("train_seconds", extra.get("seconds"))
    machine = extra.get("machine")
    if seconds is not None or machine is not None:
        lines.append("- Training time: " + (f"{_f(float(seconds), 1)} s" if seconds is not None else "not recorded")
                     + "; machine: " + (_value_text(machine) if machine is not None else "not recorded in the file")
                     + ".")
    other = {k: v for k, v in extra.items() if k not in _CARD_KEYS}
    if other:
        lines.append(f"- Also recorded: {_settings_of(other)}.")
    defaults = [f"{'colour' if channels == 3 else 'grey'} images" for channels, prior in DEFAULT_PRIORS.items()
                if prior == name]
    if defaults:
        lines.append(f"- The restoration commands' default prior for {_names(defaults)} "
                     "(`scorematch.prior.DEFAULT_PRIORS`).")
    lines.append(f"- File: `src/scorematch/pretrained/{name}.safetensors`, {path.stat().st_size:,} bytes, SHA-256 "
                 f"`{stamps.model_sha256(path)[:16]}`; the metadata is `scorematch.load_info(\"{name}\")`.")
    return "\n".join(lines + _presets_lines(name, extra))


def _tuning_psnr(extra: Mapping[str, Any], sigma: float, weight: float) -> str:
    """The tuning-crop PSNR the model file records for ``weight`` at ``sigma``, or "" where it records none."""
    grid = (extra.get("tuning") or {}).get("psnr", {}).get(f"{sigma * 256:g}", {})
    value = next((v for w, v in grid.items() if math.isclose(float(w), weight)), None)
    return "" if value is None else _f(value)


def _presets_lines(name: str, extra: Mapping[str, Any]) -> list[str]:
    """The presets (``scorematch.load_prior(name).presets``) as tables; none for a model that is not an image prior."""
    try:
        presets = load_prior(name).presets
    except ModelFileError:  # not an image prior (the MNIST PoE)
        return []
    if not presets.denoise and not presets.tasks:
        return ["- Presets: none recorded in the file."]
    lines = ["", f"Presets (`scorematch.load_prior(\"{name}\").presets`), whose source the file records as: "
             f"{presets.source or 'not recorded'}."]
    if presets.denoise:
        tuned = any(_tuning_psnr(extra, s, p.weight) for s, p in presets.denoise.items())
        header = ["denoise at", "method", "weight", "level ratio", "iterations", "start"]
        rows = [[_level(s), p.method, f"{p.weight:g}", _unset(p.level_ratio), _unset(p.iterations),
                 p.start] + ([_tuning_psnr(extra, s, p.weight)] if tuned else [])
                for s, p in sorted(presets.denoise.items())]
        lines += ["", _table(header + (["tuning-crop PSNR (dB)"] if tuned else []), rows)]
    if presets.tasks:
        rows = [[task, _level(t.level) if t.level is not None else "-", _unset(t.weight), _unset(t.iterations)]
                for task, t in presets.tasks.items()]
        lines += ["", _table(["task", "field level", "weight", "iterations"], rows)]
    return lines


def _verdict_cell(mean: float, std: float) -> str:
    """A paired difference with its std of the mean, by the verdict rule: ``+0.15 ± 0.02`` or
    ``not resolved (+0.03 ± 0.03)``."""
    text = f"{_signed(mean)} ± {_f(std)}"
    return f"{UNRESOLVED} ({text})" if is_unresolved(mean, std) else text


def _card_foe_validation(results: Path) -> str:
    held = _heldout(results)
    rows = [[f"{lv}/256", _pm(r["foe_5x5x24"]["psnr"], r["foe_5x5x24"]["psnr_std"]),
             _pm(r["rsm"]["psnr"], r["rsm"]["psnr_std"]),
             describe(r["foe_5x5x24"]["minus_rsm"], r["foe_5x5x24"]["minus_rsm_std"], unit=""),
             f"{int(r['foe_5x5x24']['images_above_rsm'])}/{int(r['foe_5x5x24']['n_images'])}"]
            for lv, r in held.items()]
    n = next(iter(held.values()))["rsm"]["n_images"]
    return "\n".join([
        f"On the {n} validation images (`scorematch reproduce restoration`; one noise draw per image and level, this "
        "model at its presets under the current solver), beside the RSM FoE that run retrained with today's recipe; "
        f"mean ± std over the images, and this model minus it paired over the images. {_measured_by(results)}.", "",
        _table(["noise", "this model (dB)", "the run's RSM FoE (dB)", "minus it (dB)", "images above it"], rows)])


def _card_foe_training(results: Path) -> str:
    t = _json(results, "benchmarks/train_foe_cpu.json")
    base, quality = t["baseline"], t["card_quality"]
    rows = [[f"{lv}/256", f"{q['weight']:g}", _f(q["bundled"], 3), _f(q["trained"], 3), _signed(q["difference"], 3)]
            for lv, q in quality.items()]
    return "\n".join([
        f"Training time (`paper/benchmarks/train_foe.py --baseline {base['rev']}`, {t['threads']} threads, "
        f"{t['cpu']}): this file's recipe (lr {base['recipe']['lr']:g}, {base['recipe']['steps']} steps, the code of "
        f"{base['rev']}) trained in {_f(base['train_seconds_total'], 1)} s, today's recipe (`RECIPE`: lr "
        f"{t['recipe']['lr']:g}, {t['recipe']['steps']} steps) in {_f(t['train_seconds_total'], 1)} s "
        f"({_f(t['time_ratio_to_baseline'])}x). The model today's recipe trained, on the tuning crops at this model's "
        "weights (mean PSNR, one noise draw):", "",
        _table(["noise", "weight", "this model (dB)", "today's recipe (dB)", "difference (dB)"], rows)])


def _card_colour_validation(results: Path) -> str:
    t = _json(results, "beyond/summary.json")
    levels = [k for k in t["problems"] if k.startswith("colour_")]
    others = ("grey_per_channel", "cbm3d", "tv")
    rows = []
    for key in levels:
        e = t["problems"][key]
        diffs = {c["other"]: c for c in e["comparisons"] if c["ours"] == "colour_prior"}
        rows.append([f"{key.removeprefix('colour_')}/256", _f(e["means"]["noisy"]), _f(e["means"]["colour_prior"]),
                     *(_f(e["means"][o]) for o in others),
                     *(_verdict_cell(diffs[o]["diff"], diffs[o]["std_of_mean"]) for o in others)])
    c, n = t["config"], t["problems"][levels[0]]["n_images"]
    names = [beyond_settings.method_name(o) for o in others]
    return "\n".join([
        f"Colour denoising on the {n} validation colour images (`scorematch reproduce beyond`; {c['colour_crop']}x"
        f"{c['colour_crop']} central crops, i.i.d. noise per pixel and channel, each prior at its presets, colour BM3D "
        "`bm3d.bm3d_rgb` at the true sigma, colour TV at a weight per level chosen on the colour tuning crops); mean "
        f"PSNR (dB), and this model minus each, paired over the images (mean ± std of the mean). "
        f"{_measured_by(results, 'beyond/provenance.json')}.", "",
        _table(["noise", "noisy", "this model", *names, *(f"minus {m}" for m in names)], rows)])


def _card_deep_validation(results: Path) -> str:
    d = _json(results, "benchmarks/deep_energy_cpu.json")
    rows = [[f"{lv}/256", _f(e["deep_energy_psnr"], 3), _f(e["deep_energy_tweedie_psnr"], 3), _f(e["bm3d_psnr"], 3),
             _f(e["foe_5x5x24_psnr"], 3),
             *(_verdict_cell(e[k]["mean"], e[k]["std_of_mean"]) for k in
               ("deep_minus_bm3d", "deep_minus_foe_5x5x24", "deep_tweedie_minus_bm3d"))]
            for lv, e in d["levels"].items()]
    n = next(iter(d["levels"].values()))["n_images"]
    return "\n".join([
        f"On the {n} validation images (`python paper/benchmarks/deep_energy.py --model deep_energy`; the restoration "
        "experiment's noise draws, BM3D (`bm3d`, true sigma) in the same script, the FoE from the stored validation "
        "table): 'MAP' is the default denoiser (its presets), 'Tweedie' the same model's one-gradient estimate; mean "
        "PSNR (dB) and paired differences (mean ± std of the mean).", "",
        _table(["noise", "MAP", "Tweedie", "BM3D", "foe_5x5x24", "MAP minus BM3D", "MAP minus FoE",
                "Tweedie minus BM3D"], rows), "",
        f"Time of the default denoiser on the 512x512 Lena (medians of 3, BM3D interleaved in the same script, "
        f"{d['threads']} threads, {d['cpu']}): {_deep_times(d)}."])


def _card_deep_map(results: Path) -> str:
    m = _json(results, "benchmarks/deep_energy_map.json")
    rows = [[f"{lv}/256", f"{e['best']['level_ratio']:g}", f"{e['best']['weight']:g}", str(e["best"]["iterations"]),
             _f(e["best"]["psnr"], 3), _f(e["tweedie"], 3), _f(e["bm3d"], 3)] for lv, e in m["levels"].items()]
    return "\n".join([
        "How the denoising presets were chosen (`python paper/benchmarks/deep_energy_map.py`): MAP with the field "
        "`w E_s`, `s = a sigma`, by L-BFGS from the model's Tweedie estimate, stopped after `n` iterations, on the "
        f"central {m['crop']}x{m['crop']} crops of the six tuning images; `a` from {_value_text(m['ratios'])}, `w` from "
        f"{_value_text(m['weights'])}, `n` from {_value_text(m['iterations'])}, taking the fewest iterations within "
        f"{_f(m['tie_db'])} dB of the best mean PSNR (the iteration budget is a tuned setting: the converged MAP "
        "over-smooths a little). Mean PSNR (dB) on the tuning crops:", "",
        _table(["noise", "a", "w", "n", "MAP", "Tweedie", "BM3D"], rows)])


#: The deep energy's recipe alternatives in ``deep_energy_tuning.json`` -> how the card names them.
DEEP_RECIPES = {"deep_energy": "this model (the loss on the patches' interior)",
                "d4_whole_patch": "the same recipe, the loss on whole patches",
                "d6_p48": "depth 6 on 48x48 patches"}


def _card_deep_recipe(results: Path) -> str:
    t = _json(results, "benchmarks/deep_energy_tuning.json")
    levels = list(t["levels"])
    rows = [[label, *(_f(t["levels"][lv][f"{key}_psnr"], 3) for lv in levels)] for key, label in DEEP_RECIPES.items()]
    rows.append(["BM3D", *(_f(t["levels"][lv]["bm3d_psnr"], 3) for lv in levels)])
    run = _csv(results, "benchmarks/deep_energy_bundled_run/metrics.csv")
    repro = _json(results, "benchmarks/deep_energy_bundled_run/reproduction.json")
    return "\n".join([
        "Why this recipe (`paper/benchmarks/deep_energy_tuning.py`): Tweedie PSNR (dB) on the six tuning images:", "",
        _table(["recipe", *(f"{lv}/256" for lv in levels)], rows), "",
        f"The run that made this file took {_f(run[-1]['seconds'], 0)} s for {int(run[-1]['step'])} steps on the "
        "2-core CPU machine (`docs/results/benchmarks/deep_energy_bundled_run/`); rerunning its command wrote "
        + ("every tensor of this file bitwise" if repro["bitwise_equal"] else "different tensors")
        + " (`paper/scripts/compare_models.py`)."])


def _card_deep_beyond(results: Path) -> str:
    t = _json(results, "beyond/summary.json")
    rows = []
    for key, (title, anchor) in beyond_settings.GREY_PROBLEMS.items():
        e = t["problems"][key]
        rows.append([title, beyond_settings.METHOD_NAMES[anchor], _f(e["means"][anchor]), _f(e["means"]["deep_energy"]),
                     _beyond_diff(e, "deep_energy", anchor)])
    for key in (k for k in t["problems"] if k.startswith("colour_")):
        e = t["problems"][key]
        diffs = {c["other"]: c for c in e["comparisons"] if c["ours"] == "opponent_deep_energy"}
        rows.append([f"colour denoising at {key.removeprefix('colour_')}/256, on the opponent channels", "colour BM3D",
                     _f(e["means"]["cbm3d"]), _f(e["means"]["opponent_deep_energy"]),
                     _verdict_cell(diffs["cbm3d"]["diff"], diffs["cbm3d"]["std_of_mean"])])
    colour = _json(results, "benchmarks/deep_energy_colour_map.json")["levels"]
    return "\n".join([
        "Restoration beyond denoising and colour (`scorematch reproduce beyond`; validation crops, the field level per "
        "problem from the presets, chosen on the tuning crops): mean PSNR (dB), and this model minus the anchor "
        f"paired over the images. {_measured_by(results, 'beyond/provenance.json')}.", "",
        _table(["problem", "anchor", "its PSNR", "this model", "minus anchor"], rows), "",
        "On a colour image `scorematch denoise` runs this model on the luminance and two opponent channels (the default "
        "for colour input). A deep energy of the same recipe trained on RGB patches "
        "(`docs/results/benchmarks/deep_energy_colour_run/`), at its own tuned MAP settings, scored "
        + " / ".join(_f(e["best"]["psnr"], 3) for e in colour.values()) + " dB on the colour tuning crops at "
        + " / ".join(colour) + " (/256), this model on the opponent channels "
        + " / ".join(_f(e["opponent"], 3) for e in colour.values()) + ", colour BM3D "
        + " / ".join(_f(e["bm3d"], 3) for e in colour.values()) + "."])


def _card_mnist(results: Path) -> str:
    lam = 0.01
    row = next(r for r in _csv(results, "mnist/long.csv") if math.isclose(r["lam"], lam))
    raw = _mnist_errors(results)["raw"]
    return (f"The MNIST stage (`scorematch reproduce mnist`) retrains this recipe as its convergence check (free "
            f"filters, lambda = {lam:g}, {int(row['steps'])} steps); this file is that recipe's model from an earlier "
            f"run, so the figures describe the recipe: test log-likelihood {_f(row['test_loglik'], 1)} nats per digit, "
            f"and logistic regression on its features with 100 training digits per class "
            f"{_f(100 * row['error_mean'])} ± {_f(100 * row['error_std'])} % test error, against "
            f"{_f(100 * raw['error_mean'])} ± {_f(100 * raw['error_std'])} % for raw pixels (mean ± std over "
            f"{_count(len(_draws(raw)), 'draw')}).")


def _card_roth_black(results: Path) -> str:
    t1, t2 = _table1(results), _table2(results)
    rows = [[name.capitalize(), _pm(r["rb"], r["rb_std"]), _pm(r["rsm"], r["rsm_std"])] for name, r in t1.items()]
    return "\n".join([
        "The R&B 3x3x8 column of Table 1 (`scorematch reproduce restoration`: denoising at 5/256, L-BFGS MAP at the "
        "weight chosen on the tuning crops, mean ± std over the noise draws), beside the RSM FoE that run trained. "
        f"{_measured_by(results)}.", "",
        _table(["image", "this model (dB)", "the run's RSM FoE (dB)"], rows), "",
        "2x super-resolution (Table 2, one deterministic run per image): "
        + ", ".join(f"{name.capitalize()} {_f(r['rb'])} dB" for name, r in t2.items()) + "."])


#: Model name -> its card's figure blocks (block name -> renderer), beside the ``model`` block every card has.
#: The sets of ``unet/denoise_photos.json`` in the order the pages show them, and their names there.
PHOTO_SETS = {"test": "test set (29 photos, whole)", "validation": "validation (41 grey images)",
              "validation-colour": "validation (20 colour photos)", "set12": "Set12 (whole)"}


def _photos_rows(d: Mapping[str, Any], kind: str) -> list[list[str]]:
    """The rows of ``unet/denoise_photos.json``'s summary for ``kind`` (grey, colour): set, noise, means, verdict."""
    rows = []
    for set_name, label in PHOTO_SETS.items():
        for key, e in d["summary"].items():
            s, k, level = key.split("/", 2)
            if s != set_name or k != kind:
                continue
            noise = level if "/" in level else f"{level}/255"
            rows.append([label, noise, _f(e["ours"], 3), _f(e["bm3d"], 3),
                         f"{_signed(e['diff'], 3)} ± {_f(e['diff_stderr'], 3)}",
                         f"{e['ours_better']} / {e['bm3d_better']}", e["verdict"]])
    return rows


def _photos(results: Path, kind: str) -> str:
    d = _json(results, "unet/denoise_photos.json")
    bm3d = "colour BM3D (`bm3d.bm3d_rgb`)" if kind == "colour" else "BM3D (`bm3d.bm3d`)"
    return "\n".join([
        f"The default denoiser (`scorematch.denoise` with the default {kind} prior and its presets) against {bm3d} at "
        "the true noise level, on whole images, one noise draw per image and level (`python paper/benchmarks/"
        f"denoise_photos.py`, torch threads: {d['threads']}, {d['cpu']}). Mean PSNR (dB); the difference paired over the "
        "images (mean ± standard error), how many images went each way, and the verdict: above or below only beyond "
        "two standard errors (`docs/evaluation.md`).", "",
        _table(["images", "noise", "ours", "BM3D", "ours minus BM3D", "images ours / BM3D better", "verdict"],
               _photos_rows(d, kind))])


def _colour_choice(results: Path) -> str:
    d = _json(results, "unet/colour_choice.json")
    first, others = d["priors"][0], d["priors"][1:]
    rows = []
    for level, e in d["levels"].items():
        for other in others:
            m = e["minus_first"][other]
            verdict = ("not resolved" if is_unresolved(m["mean"], m["stderr"])
                       else f"`{other}` better" if m["mean"] > 0 else f"`{first}` better")
            rows.append([level if "/" in level else f"{level}/255", *(_f(e["mean_psnr"][p], 3) for p in d["priors"]),
                         f"{_signed(m['mean'], 3)} ± {_f(m['stderr'], 3)}", f"{m['better']} / {m['worse']}", verdict])
    return "\n".join([
        f"How the colour default was chosen (`python paper/benchmarks/colour_choice.py`): the {len(d['photos'])} colour "
        "tuning photos, whole, one noise draw each, each prior as `scorematch.denoise` runs it (its presets; a grey "
        "prior on the opponent channels); each photo holds a Train400 crop (what the grey model trained on; found by "
        f"correlation, {min(p['train400_correlation'] for p in d['photos']):.3f} or more), left out of the PSNR. "
        "Mean PSNR (dB), the difference paired over the photos (mean ± standard error), photos each way:", "",
        _table(["noise", *(f"`{p}`" for p in d["priors"]), f"{' / '.join(others)} minus `{first}`",
                "photos better / worse", "verdict"], rows)])


def _border(results: Path) -> str:
    d = _json(results, "unet/border_quality.json")
    m = d["means"]
    rows = [[who, _f(m[key]["interior_psnr"]), _f(m[key]["frame_psnr"]), f"{100 * m[key]['interior_off']:.2f} %",
             f"{100 * m[key]['frame_off']:.2f} %"] for who, key in (("ours", "ours"), ("colour BM3D", "bm3d"))]
    return "\n".join([
        f"The image border (`python paper/benchmarks/border_quality.py`): the first {len(d['rows'])} colour validation "
        f"photos, whole, noise {d['level']:g}/255, the default denoiser and colour BM3D; PSNR (dB) of the interior and "
        f"of the {d['frame']}-pixel frame, and the values off the clean photo by more than {d['off_levels']} grey "
        "levels (means over the photos):", "",
        _table(["denoiser", "interior PSNR", "frame PSNR", "interior values off", "frame values off"], rows)])


def _border_rule(results: Path) -> str:
    d = _json(results, "unet/border_rule.json")
    levels = [f"{lv:g}" for lv in d["levels_over_255"]]
    rows = []
    for rule, means in d["means"].items():
        gain = d["gain_over_valid"].get(rule)
        rows.append([f"`{rule}`" + (" (chosen)" if rule == d["best"] else ""),
                     *(f"{_f(means[lv]['frame_psnr'])} / {_f(means[lv]['whole_psnr'], 3)}" for lv in levels),
                     *((f"{_signed(gain['per_level'][lv]['mean'], 3)} ± {_f(gain['per_level'][lv]['std'], 3)} "
                        f"({gain['per_level'][lv]['above']} / {gain['per_level'][lv]['n']})" for lv in levels)
                       if gain else ("" for _ in levels))])
    photos = d["gain_over_valid"][d["best"]]["per_level"][levels[0]]["n"]
    return "\n".join([
        f"How the prior meets the border (`python paper/benchmarks/border_rule.py`): the {photos} colour tuning "
        "photos, whole, one noise draw each, denoised with each rule: "
        "`valid` (the network's zero padding) or the photo extended by so many pixels (symmetric: the edge pixel "
        "repeated; reflect: not). PSNR (dB) of the 2-pixel frame / of the whole photo, and the whole photo's gain over "
        "`valid` (mean ± std over the photos, photos above); the rule with the largest mean gain is chosen:", "",
        _table(["rule", *(f"{lv}/255 frame / whole" for lv in levels), *(f"gain at {lv}/255" for lv in levels)],
               rows)])


def _curve(results: Path, name: str) -> str:
    rows = _csv(results, f"unet/{name}_curve.csv")
    last = rows[-1]
    levels = [k[5:] for k in last if k.startswith("psnr_")]
    values = ", ".join(f"{_f(last['psnr_' + lv])} dB at {lv}/255" for lv in levels)
    return "\n".join([
        f"Training curve: Tweedie's PSNR on the run's validation images (`paper/scripts/train_unet.py`, every "
        f"{int(rows[1]['step']) - int(rows[0]['step'])} steps) against training hours; at step {int(last['step'])}: "
        f"{values}.", "", f"![validation curve](../../../docs/results/unet/{name}_curve.png)"])


def _presets_choice(results: Path, file: str, what: str) -> str:
    d = _json(results, f"unet/{file}")
    first = next(iter(d["levels"].values()))
    keys, others = list(first["mean_psnr"]), list(first.get("compare", {}))
    rows = [[level if "/" in level else f"{level}/255", *(_f(e["mean_psnr"][k], 3) for k in keys),
             e["best"]["method"] if e["best"]["method"] == "tweedie" else
             f"map a={e['best']['level_ratio']:g} w={e['best']['weight']:g}",
             *(_f(e["compare"][k], 3) for k in others)] for level, e in d["levels"].items()]
    return "\n".join([
        f"How the denoising presets were chosen (`python paper/benchmarks/unet_presets.py`): {what}, on central "
        f"256x256 crops of the {len(d['images'])} tuning images, one noise draw each; Tweedie's estimate and MAP with "
        "the field at `a sigma`, weight `w`, from Tweedie's estimate (5 L-BFGS iterations)"
        + (", beside other priors as their own presets run them" if others else "")
        + ". Mean PSNR (dB):", "",
        _table(["noise", *keys, "chosen", *(f"`{k}`" for k in others)], rows)])


def _time(results: Path, case: str) -> str:
    d = _json(results, "unet/denoise_time.json")
    c = d[case]
    text = (f"Time end to end (`python paper/benchmarks/denoise_time.py`: a fresh `scorematch denoise` process, from the "
            f"PNG to the written PNG, against a BM3D process doing the same; medians of {len(c['seconds']['ours'])} "
            f"interleaved rounds, {d['threads']} threads, {d['cpu']}, load average {d['load_average_start']} at the "
            f"start): {_f(c['median']['ours'])} s against {_f(c['median']['bm3d'])} s "
            f"({_f(c['ratio_ours_to_bm3d'])}x) on a {c['shape'][1]}x{c['shape'][0]} {case.split('_')[0]} image")
    if "ours_auto" in c["median"]:
        text += (f"; without `--sigma` (the level estimated by the prior, the command's default) "
                 f"{_f(c['median']['ours_auto'])} s ({_f(c['ratio_auto_to_bm3d'])}x)")
    text += "."
    if case == "colour_768x512" and "large" in d:
        g = d["large"]
        auto = f" ({_f(g['seconds_auto'], 1)} s without `--sigma`)" if "seconds_auto" in g else ""
        text += (f" A {g['shape'][1]}x{g['shape'][0]} colour photo (tiled automatically): {_f(g['seconds'], 1)} s{auto}, peak "
                 f"memory {_f(g['peak_memory_gib'])} GiB, {_f(g['per_pixel_ratio_to_768x512'])}x the 768x512 time "
                 "per pixel.")
    return text


def _noise_estimation(results: Path) -> str:
    d = _json(results, "unet/noise_estimation.json")
    rows = []
    for kind in ("grey", "colour"):
        for level, e in d[kind].items():
            for method in ("mad", "energy"):
                if method not in e:
                    continue
                m = e[method]
                rows.append([kind, f"{level}/255", method, f"{_f(m['ratio']['mean'], 3)} [{_f(m['ratio']['min'], 3)}, "
                             f"{_f(m['ratio']['max'], 3)}]", f"{m['within_10pct']} / {e['n_images']}",
                             f"{_signed(m['psnr_est_minus_true']['mean'], 3)} ± "
                             f"{_f(m['psnr_est_minus_true']['std'], 3)}"])
    return "\n".join([
        "Estimating the noise level (`python paper/benchmarks/noise_estimation.py --model "
        f"{d['model']}" + (f" --limit {d['limit']}" if d.get("limit") else "") + "`; validation images"
        + (f", the first {d['limit']} of each set" if d.get("limit") else "") + ", one draw per image and level): "
        "estimated / true sigma (mean [min, max]), "
        "the images within 10 % of the truth, and the PSNR of the default denoiser with the estimate minus with the "
        "truth (mean ± std over the images). `mad`: the wavelet median absolute deviation; `energy`: the prior's own "
        "self-consistency (`scorematch.tasks.estimate_noise`).", "",
        _table(["images", "noise", "method", "estimate / truth", "within 10 %", "PSNR with the estimate minus "
                "with the truth (dB)"], rows)])


CARD_FIGURES: dict[str, dict[str, Callable[[Path], str]]] = {
    "foe_5x5x24": {"validation": _card_foe_validation, "training": _card_foe_training},
    "foe_colour_5x5x24": {"validation": _card_colour_validation},
    "deep_energy": {"validation": _card_deep_validation, "presets-choice": _card_deep_map,
                    "recipe-choice": _card_deep_recipe, "beyond": _card_deep_beyond},
    "mnist_poe_196": {"recipe-figures": _card_mnist},
    "roth_black_3x3x8": {"tables": _card_roth_black},
    "unet": {"curve": functools.partial(_curve, name="unet"),
             "presets-choice": functools.partial(_presets_choice, file="presets_grey.json",
                                                 what="this model on grey images (beside the other grey priors: how the "
                                                      "grey default was chosen)"),
             "photos-grey": functools.partial(_photos, kind="grey"),
             "photos-colour": functools.partial(_photos, kind="colour"),
             "time-grey": functools.partial(_time, case="grey_512x512"),
             "time-colour": functools.partial(_time, case="colour_768x512"),
             "colour-choice": _colour_choice, "inverse-problems": _unet_inverse_problems,
             "border": _border, "border-rule": _border_rule},
    "unet_colour": {"curve": functools.partial(_curve, name="unet_colour"),
                    "presets-choice": functools.partial(_presets_choice, file="presets_colour.json",
                                                        what="this model on colour images (the grey `unet` among the last "
                                                             "columns runs on the opponent channels)"),
                    "colour-choice": _colour_choice},
}


#: The default denoiser's blocks of RESULTS.md (defined here, beside the card figures they share code with).
BLOCKS.update({"inverse-problems-unet": _unet_inverse_problems,
               "photos-grey": functools.partial(_photos, kind="grey"),
               "photos-colour": functools.partial(_photos, kind="colour"),
               "time-grey": functools.partial(_time, case="grey_512x512"),
               "time-colour": functools.partial(_time, case="colour_768x512"),
               "noise-estimation": _noise_estimation})

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true",
                    help="exit 1, printing a diff, if a page is out of date, and naming each stale block")
    ap.add_argument("--readme", type=Path, default=ROOT / "RESULTS.md")
    ap.add_argument("--cards", type=Path, default=None, help="the folder of the generated model cards (default: the "
                    "bundled models' folder)")
    ap.add_argument("--templates", type=Path, default=CARD_TEMPLATES, help="the folder of the cards' templates")
    ap.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    ap.add_argument("--pages", nargs="+", metavar="PAGE", help="only these pages: RESULTS and/or model names")
    ap.add_argument("--only", nargs="+", choices=sorted(BLOCKS), help="rewrite (or check) only these blocks of "
                    "RESULTS.md (and no card)")
    args = ap.parse_args(argv)
    selected = pages(readme=args.readme, cards=args.cards, templates=args.templates)
    wanted = ["RESULTS"] if args.only else args.pages
    if wanted is not None:
        unknown = sorted(set(wanted) - {p.name for p in selected})
        if unknown:
            ap.error(f"no page named {unknown}; pages: {', '.join(p.name for p in selected)}")
        selected = [p for p in selected if p.name in wanted]
    failed = False
    for page in selected:
        if args.check:
            diff, stale = check_page(page, args.results, args.only)
            if diff:
                print(diff + f"\n{page.path} is out of date: run python paper/scripts/build_results.py",
                      file=sys.stderr)
                failed = True
        else:
            r = build_page(page, args.results, args.only)
            page.path.write_text(r.text)
            stale = r.stale
            print(f"wrote {page.path}")
        for block, reasons in stale.items():
            print(f"{page.path}: block {block!r} is stale: {'; '.join(reasons)}", file=sys.stderr)
            failed = failed or args.check
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
