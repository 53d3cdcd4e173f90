"""Write the measured figures of ``RESULTS.md`` from the stored artifacts under ``docs/results/``.

    python paper/scripts/build_results.py            # rewrites RESULTS.md's result blocks in place
    python paper/scripts/build_results.py --check    # exit 1 and print a diff if RESULTS.md differs from what it would write

Every sentence of the results page that states a measured number sits in a block

    <!-- results:NAME -->
    ...written by this script...
    <!-- /results:NAME -->

whose text the renderer ``BLOCKS[NAME]`` formats from the JSON/CSV files that the measuring scripts stored under
``docs/results/``; prose without numbers stays outside the blocks. CI runs the check (tests/docs/test_readme_results.py).

Adding a block: write ``def _name(results: Path) -> str``, which reads its files with :func:`_json` / :func:`_csv`
(a missing field raises ``KeyError`` naming the file) and formats numbers with :func:`_f` (which refuses nan), add
``"name": _name`` to :data:`BLOCKS`, put the two markers in RESULTS.md, and run this script.

The restoration blocks take every number from the summaries of :mod:`scorematch_paper.experiments.restoration`
(``table1_summary``, ``heldout_summary``, ``sweep_summary``), the functions its report uses, applied to the run
files that ``paper/scripts/publish_results.py`` copied to ``docs/results/restoration/`` with their ``provenance.json``.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import math
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))  # this checkout's package: its restoration summaries are the report's
sys.path.insert(0, str(ROOT / "paper" / "src"))

from scorematch_paper.experiments import mnist, patches, restoration, shootout  # noqa: E402
from scorematch_paper.experiments.beyond import settings as beyond_settings  # noqa: E402
from scorematch_paper.experiments.compare import TIE_SIGMAS, describe, is_tie, paired_difference, std_of_mean  # noqa: E402
from scorematch.prior import DEFAULT_PRIORS  # noqa: E402

WIDTH = 115  # the README's line length; tables are not wrapped
BLOCK = re.compile(r"(<!-- results:([\w-]+) -->\n)(.*?)(<!-- /results:\2 -->)", flags=re.S)

#: The MNIST lambdas shown in the README's table (the CSVs hold more).
MNIST_LAMBDAS = (0.0, 3e-4, 1e-3, 3e-3, 1e-2, 2e-2, 3e-2, 1e-1)
#: Restoration columns (table1.json, table2.json, heldout.json) -> the README's name for them.
METHOD_NAMES = {"noisy": "noisy", "tv": "TV (scikit-image)", "rb": "R&B 3x3x8", "cd1": "CD-1 (same recipe)",
                "rsm": "RSM", "rsm_paper_solver": "RSM, paper's solver", "foe_5x5x24": "bundled foe_5x5x24",
                "lowpass_start_projected": "low-pass start, projected", "bicubic_projected": "bicubic, projected"}
#: The columns of Table 1, Table 2 and the held-out table, in order.
TABLE1_METHODS = ("noisy", "tv", "rb", "cd1", "rsm", "rsm_paper_solver")
TABLE2_METHODS = ("lowpass_start_projected", "bicubic_projected", "rb", "cd1", "rsm", "rsm_paper_solver")
HELDOUT_METHODS = ("noisy", "tv", "cd1", "rsm", "foe_5x5x24")
#: dB by which our RSM FoE should beat the bicubic, projected start in Table 2 (else a known gap).
SR_MARGIN = 0.1


# --- reading artifacts ------------------------------------------------------------------------------------------

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
    return _wrap(json.loads((results / name).read_text()), name)


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _csv(results: Path, name: str) -> list[_Fields]:
    """The CSV artifact ``results/name`` as rows of fields (numbers as floats)."""
    with open(results / name, newline="") as f:
        return [_Fields(name, {k: _value(v) for k, v in row.items()}) for row in csv.DictReader(f)]


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

def _tie_rule(results: Path) -> str:
    return (f"Where two numbers are compared, a difference smaller than {TIE_SIGMAS:g} standard deviations of the "
            "difference over the random draws behind it (noise draws, training subsets) is written as a tie "
            "(`scorematch_paper.experiments.compare`).")


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
             f"{_f(poe['exact_over_curvature'], 0)}x slower"],
            [f"torchebm {poe['torchebm_version']} `ScoreMatching(hessian_method=\"exact\")`", _f(t["torchebm_exact"]),
             f"{_f(poe['torchebm_exact_over_curvature'], 0)}x slower"]]
    return "\n".join([
        f"`python paper/benchmarks/sm_loss.py --rounds {sm['rounds']}` (this 2-core machine, {m['threads']} torch thread, "
        f"torch {m['torch']}, {poe['dtype']}, median of interleaved runs, other jobs running): {poe['model']}, "
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
        f"Classification is best at lambda = {_lam(best_err)} ({error(err[best_err])} %); "
        f"{_mnist_ties(err, best_err)}. "
        f"The likelihood peaks at lambda = {_lam(best_ll)}, not at the paper's {mnist.PAPER_BEST_LAM:g}: score "
        "matching's optimum is not the likelihood's, and at larger lambda the likelihood falls as training continues "
        "(the report's convergence check)."])


def _mnist_ties(err: _Fields, best: float) -> str:
    """Which lambdas tie with the best test error, the errors paired over the draws (the same digits)."""
    ties = [_lam(lam) for lam in err if lam not in ("raw", best)
            and is_tie(*paired_difference(_draws(err[lam]), _draws(err[best])))]
    if not ties:
        return "every other lambda is worse by the tie rule (test errors paired over the draws)"
    return f"lambda = {_names(ties)} tie with it (test errors paired over the draws)"


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
    return _by(_wrap(restoration.table1_summary(results / "restoration"), name), "image", name)


def _table2(results: Path) -> _Fields:
    """Table 2 per image (one deterministic run each)."""
    name = "restoration/table2.json"
    return _by(_json(results, name)["result"], "image", name)


def _heldout(results: Path) -> _Fields:
    """The held-out table (:func:`restoration.heldout_summary`) as noise level -> method -> row."""
    name = "restoration/heldout.json"
    levels = _Fields(name, {})
    for row in _wrap(restoration.heldout_summary(results / "restoration"), name):
        levels.setdefault(row["level"], _Fields(name, {}))[row["method"]] = row
    return levels


def _sweep(results: Path) -> _Fields:
    """Figure 2e-g per noise level (:func:`restoration.sweep_summary`)."""
    return _wrap(restoration.sweep_summary(results / "restoration"), "restoration/lambda_sweep.json")


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
    """Names above, tied and below by the tie rule; ``diffs``: name -> (difference, its std)."""
    verdict: dict[str, list[str]] = {"above": [], "tie": [], "below": []}
    for name, (diff, std) in diffs.items():
        key = "tie" if is_tie(diff, std) or diff == 0 else "above" if diff > 0 else "below"
        verdict[key].append(name + ("" if key == "tie" else f" by {describe(diff, std)}"))
    return verdict


def _vs_paper(t1: _Fields) -> dict[str, tuple[float, float]]:
    """Per image: our RSM FoE minus the paper's RSM column, and our std over the noise draws."""
    return {name.capitalize(): (r["rsm_minus_paper"], r["rsm_std"]) for name, r in t1.items()}


def _other_minus_rsm(t1: _Fields, other: str) -> dict[str, tuple[float, float]]:
    """Per image: ``other`` minus our RSM FoE, paired over the noise draws."""
    return {name.capitalize(): (-r[f"rsm_minus_{other}"], r[f"rsm_minus_{other}_std"]) for name, r in t1.items()}


def _table1_means(t1: _Fields) -> _Fields:
    """The mean over images of each Table 1 column, with the std over the draws of that mean (every image has
    its own noise draws: :func:`std_of_mean`)."""
    rows, cols = list(t1.values()), TABLE1_METHODS + ("rsm_minus_cd1", "rsm_minus_rsm_paper_solver")
    means = {c: _mean([r[c] for r in rows]) for c in cols + ("paper_rsm", "rsm_minus_paper")}
    means.update({c + "_std": std_of_mean([r[c + "_std"] for r in rows]) for c in cols})
    return _Fields("restoration/table1.json (mean over images)", means)


def _table1_row(label: str, r: _Fields) -> list[str]:
    """One row of Table 1: the means, the paper's RSM and the three verdicts by the tie rule."""
    return [label] + [_f(r[c]) for c in TABLE1_METHODS] + [
        _f(r["paper_rsm"]), describe(r["rsm_minus_cd1"], r["rsm_minus_cd1_std"], unit=""),
        describe(r["rsm_minus_rsm_paper_solver"], r["rsm_minus_rsm_paper_solver_std"], unit=""),
        describe(r["rsm_minus_paper"], r["rsm_std"], unit="")]


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
        "paper RSM", "RSM - CD-1 (dB)", "RSM - paper solver (dB)", "ours - paper (dB)"]
    rows = [_table1_row(name.capitalize(), r) for name, r in t1.items()] + [_table1_row("mean", _table1_means(t1))]
    against = "; ".join(f"{what} on {_names(names)}" for what, names in _verdicts(_vs_paper(t1)).items() if names)
    return "\n".join([
        f"Denoising at sigma = {level}/256 (PSNR dB, {_draws_text(results, t1)}; L-BFGS MAP; prior weights chosen on "
        f"Set12 images that are in neither table: {_settings_text(weights)}). {_measured_by(results)} "
        f"(`{_json(results, 'restoration/provenance.json')['command']}`). CD-1 (same recipe) is a 5x5x24 FoE trained "
        "with the RSM FoE's exact recipe, only the estimator swapped (contrastive divergence), so \"RSM - CD-1\" "
        "isolates the estimator; \"RSM, paper's solver\" is our RSM FoE denoised by the paper's annealed gradient "
        f"steps preconditioned by sigma^2, at its own weight, {choices['paper_weight']:g}, chosen on the same "
        "crops. \"RSM - CD-1\" and \"RSM - paper solver\" are paired over the noise "
        f"draws; \"ours - paper\" is a tie when within {TIE_SIGMAS:g} of our standard deviations over the draws "
        "(the paper's spread is unknown). The mean row's stds are those of the mean over images:", "",
        _table(header, rows), "",
        f"Our RSM FoE against the paper's RSM column: {against}."])


def _gain_cell(entry: _Fields, other: str) -> str:
    """The best lambda's paired gain over ``other`` (``"lam0"`` or ``"runner_up"``) by the tie rule; "-" where
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
        "(mean ± std); the gains are paired over those draws, by the tie rule. " + _measured_by(results) + ".", "",
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
        f"Held-out denoising (PSNR dB) on {n_images} images that no choice looked at (Set12's airplane and the tenth "
        "of Train400 that no prior trains on; one noise draw per image and level): mean ± std over the images, and "
        "each method minus our RSM FoE, paired over the images (a tie when within two standard deviations of the "
        "mean difference), with the number of images on which the method scored higher. Bundled foe_5x5x24 is the "
        f"package's default prior at its model card's weights. {_measured_by(results)}.", "",
        _table(header, rows)])


def _denoise_speed(results: Path) -> str:
    d = _json(results, "benchmarks/denoise_512_cpu.json")
    big = _json(results, "benchmarks/denoise_large_cpu.json")
    tiled = big["tiled"]
    return (f"Denoising the 512x512 {d['image'].capitalize()} takes {_f(d['float32']['seconds'], 1)} s "
            f"({d['threads']} threads, torch {d['torch']}, load average {_f(d['load_avg_1min'])} at the start, L-BFGS, "
            f"{d['float32']['evaluations']} evaluations, {_f(100 * d['float32']['prior_share'], 0)}% of the time in "
            f"the prior; `benchmarks/denoise.py`); a {tiled['size']}x{tiled['size']} image is denoised in "
            f"{tiled['tile']}x{tiled['tile']} tiles with {_f(tiled['peak_rss_mib'] / 1024, 1)} GiB peak memory "
            f"({big['threads']} threads on {big['cpus']} cores, load average {_f(big['load_avg_1min'])} at the start; "
            f"`benchmarks/denoise_large.py`). " + _versus_bm3d(results))


def _versus_bm3d(results: Path) -> str:
    """What a user runs against BM3D on the same noisy image, in one script (benchmarks/denoise_vs_bm3d.py)."""
    v = _json(results, "benchmarks/denoise_vs_bm3d_cpu.json")
    t, q, r, s = v["seconds_median"], v["psnr"], v["roofline"], v["startup_seconds_median"]
    a = v["allocation"]["evaluation_seconds_median"]
    return (f"Beside BM3D in one script (`benchmarks/denoise_vs_bm3d.py`, the same noisy {v['image'].capitalize()} at "
            f"{_f(v['sigma'] * 256, 0)}/256, medians of {len(v['seconds_all']['cli'])} interleaved rounds, load average "
            f"{_f(v['load_avg_start'])} at the start): `scorematch denoise` end to end {_f(t['cli'], 1)} s "
            f"({_f(q['cli'])} dB, 8-bit output), the library call {_f(t['library'], 1)} s ({_f(q['library'])} dB), "
            f"BM3D {_f(t['bm3d'], 1)} s ({_f(q['bm3d'])} dB): the command takes {_f(v['cli_over_bm3d'])}x BM3D's time. "
            f"Of that, {_f(s['import_torch'], 1)} s ({_f(v['startup_over_bm3d'])}x BM3D's time) is start-up before "
            f"any work, importing torch (the command does not import `torch._dynamo`, which would add "
            f"{_f(s['import_torch_and_dynamo'] - s['import_torch'], 1)} s). One prior evaluation takes "
            f"{_f(1000 * a['reuse'], 0)} ms in a fresh process that reuses the memory it frees, as the restoration "
            f"commands do (`scorematch.devices.reuse_freed_memory`), against {_f(1000 * a['default'], 0)} ms with the "
            "C library's default, which maps every large array afresh. "
            f"One prior evaluation runs at {_f(r['prior_evaluation']['gflops'], 1)} GFLOP/s, "
            f"{_f(100 * r['fraction_of_matmul'], 1)}% of a matrix product's {_f(r['matmul_gflops'], 0)} GFLOP/s on the "
            "same cores.")


def _listed(names: list[str]) -> str:
    return _names(names) if names else "no image"


def _table1_gaps(t1: _Fields) -> list[str]:
    """Where our RSM FoE is below the paper's column, or below CD-1 or the paper's solver, by the tie rule."""
    return [
        f"- Table 1: below the paper's RSM column beyond the tie rule on {_listed(_verdicts(_vs_paper(t1))['below'])}.",
        "- Table 1: CD-1 (same recipe) above our RSM FoE beyond the tie rule on "
        f"{_listed(_verdicts(_other_minus_rsm(t1, 'cd1'))['above'])}; the paper's solver above it on "
        f"{_listed(_verdicts(_other_minus_rsm(t1, 'rsm_paper_solver'))['above'])}."]


def _heldout_gap(held: _Fields) -> str:
    """The methods above our RSM FoE on the held-out images beyond the tie rule, per noise level."""
    per_level = []
    for lv, rows in held.items():
        above = _verdicts({METHOD_NAMES[m]: (r["minus_rsm"], r["minus_rsm_std"])
                           for m, r in rows.items() if m != "rsm"})["above"]
        per_level.append(f"at {lv}/256: {_names(above) if above else 'none'}")
    return "- Held-out images: above our RSM FoE beyond the tie rule " + "; ".join(per_level) + "."


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
    """BM3D against our RSM FoE on the held-out images and noise draws (paper/benchmarks/heldout_bm3d.py)."""
    levels = _json(results, "benchmarks/heldout_bm3d_cpu.json")["levels"]
    gaps = [f"{describe(e['bm3d_minus']['rsm']['mean'], e['bm3d_minus']['rsm']['std_of_mean'])} at {lv}/256 "
            f"(higher on {e['bm3d_minus']['rsm']['images_bm3d_higher']} of {e['n_images']} images)"
            for lv, e in sorted(levels.items(), key=lambda kv: int(kv[0]))]
    return ("- BM3D (`paper/benchmarks/heldout_bm3d.py`, the same held-out images and noise draws) is above our RSM FoE by "
            + "; ".join(gaps) + ".")


def _mnist_gap(results: Path) -> str:
    err = _mnist_errors(results)
    best = _best_error(err)
    return (f"- MNIST: the likelihood peaks at lambda = {_lam(_best_loglik(_mnist_loglik(results)))}, not at the "
            f"paper's {mnist.PAPER_BEST_LAM:g}; classification is best at {_lam(best)}, and {_mnist_ties(err, best)}.")


def _gpu(results: Path) -> str:
    gpu = "benchmarks/gpu_h100/"
    prov = _json(results, gpu + "provenance.json")
    train, dn = _json(results, gpu + "train_foe_cuda.json"), _json(results, gpu + "denoise_cuda.json")
    sm_gpu, sm_cpu = _json(results, gpu + "sm_loss_cuda.json"), _json(results, "benchmarks/sm_loss.json")
    exact_gpu, exact_cpu = sm_gpu["poe"]["median_seconds"]["exact"], sm_cpu["poe"]["median_seconds"]["exact"]
    return (f"- GPU: `--device cuda` everywhere. Measured at commit {prov['commit']} ({prov['date']}) on an "
            f"{train['device']} (`{prov['command']}`, torch {prov['torch']}), with an older model and "
            f"recipe than the CPU figures above: the {_passed(results, gpu + 'pytest_gpu.log')} GPU tests pass "
            "(every energy, estimator, sampler, both restoration solvers and the commands agree with the CPU); the "
            f"5x5x24 FoE of that recipe trains in {_f(train['train_seconds_total'], 1)} s ({train['recipe']['steps']} "
            f"Adam steps), a 512x512 image denoises in {_f(dn['float32']['seconds'], 3)} s, and the exact-Hessian SM "
            f"loss takes {_f(1000 * exact_gpu, 1)} ms, {_f(exact_cpu / exact_gpu, 0)}x less than on this 2-core CPU "
            "(`docs/results/benchmarks/sm_loss.json`). Details: `docs/results/benchmarks/gpu_h100/README.md`.")


def _passed(results: Path, name: str) -> int:
    """The number of passed tests in a stored pytest log."""
    found = re.search(r"(\d+) passed", (results / name).read_text())
    if found is None:
        raise KeyError(f"{name} has no 'N passed' line")
    return int(found.group(1))


#: The issue's acceptance bar (dB over the anchor) per inverse problem of the beyond stage.
INVERSE_BARS = {"deblur": 1.0, "inpaint": 0.5, "superres_3x": 0.1, "superres_4x": 0.1, "table2_superres_2x": 0.1}


def _beyond_diff(entry: _Fields, ours: str, other: str) -> str:
    c = next(c for c in entry["comparisons"] if c["ours"] == ours and c["other"] == other)
    tie = " (a tie)" if is_tie(c["diff"], c["std_of_mean"]) else ""
    return f"{_signed(c['diff'])} ± {_f(c['std_of_mean'])}{tie}"


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
        f"through `tasks.restore` on {first['n_images']} held-out images ({c['grey_crop']}x{c['grey_crop']} central "
        "crops), every choice (the FoE's weight and inpainting iterations, the deep energy's level per problem, "
        "Wiener's balance) made on the 6 tuning crops; mean PSNR (dB), and each prior minus the anchor paired over "
        "the images (mean ± std of the mean; a tie within two std). "
        f"{_measured_by(results, 'beyond/provenance.json')}.",
        "", _table(["problem", "anchor", "its PSNR", *(h for p in priors for h in (p, "minus anchor")),
                    "issue's bar"], rows), "",
        _reflow(f"2x super-resolution, each Table 2 image minus bicubic + projection (the issue's bar: +0.10 on each; "
                f"the deep energy's level for 2x chosen on the tuning crops): {per_image}.")])


def _colour_denoise(results: Path) -> str:
    t = _json(results, "beyond/summary.json")
    levels = [k for k in t["problems"] if k.startswith("colour_")]
    others = ("grey_per_channel", "cbm3d", "tv")
    ours = [m for m in beyond_settings.colour_methods(tuple(t["config"]["priors"]))
            if m not in others and m in t["problems"][levels[0]]["means"]]
    rows, diffs = [], []
    for key in levels:
        e, level = t["problems"][key], f"{key.removeprefix('colour_')}/256"
        rows.append([level, _f(e["means"]["noisy"]), *(_f(e["means"][m]) for m in (*others, *ours))])
        diffs += [[level, beyond_settings.method_name(m), *(_beyond_diff(e, m, o) for o in others)] for m in ours]
    c, n = t["config"], t["problems"][levels[0]]["n_images"]
    names = [beyond_settings.method_name(m) for m in (*others, *ours)]
    return "\n".join([
        f"Colour denoising (`scorematch reproduce beyond`): {n} held-out BSDS300 colour images ({c['colour_crop']}x"
        f"{c['colour_crop']} central crops), noise i.i.d. per pixel and channel; the bundled colour prior, and each "
        "grey prior on the luminance and two opponent channels at their own noise levels (what `scorematch denoise "
        f"--model NAME` does with a colour image; `{DEFAULT_PRIORS[3]}` there is its default), against the grey prior applied to each RGB channel (at its card's "
        "weights), colour BM3D (`bm3d.bm3d_rgb`) and colour TV (weight per level chosen on the colour tuning crops); "
        "mean PSNR (dB), then ours minus each, paired over the images (mean ± std of the mean).", "",
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
        f"Deep energy (`python paper/benchmarks/deep_energy.py`, commit {d['commit']}): the bundled noise-conditional "
        "`deep_energy` as `scorematch denoise --model deep_energy` runs it (MAP with its field `E_s` at `s = a sigma`, "
        "weight `w` and L-BFGS iterations per level from its Tweedie estimate, chosen on the tuning crops by "
        "`paper/benchmarks/deep_energy_map.py`), its Tweedie "
        f"estimate, BM3D and the bundled FoE on the {n} held-out images; mean PSNR (dB) and paired differences "
        "(mean ± std of the mean).", "",
        _table(["noise", "deep_energy (MAP)", "its Tweedie", "BM3D", "foe_5x5x24", "MAP minus BM3D", "MAP minus FoE",
                "Tweedie minus BM3D"], rows), "",
        _reflow(f"Time on the 512x512 Lena, medians of 3 on the 2-core {d.get('cpu', 'shared')} machine: {times}."
                + "".join(f" An earlier run (commit {e['commit']}, `{p.name}`): {_deep_times(e)}."
                          for p, e in _earlier_runs(results, "benchmarks/deep_energy_cpu_*.json")))])


def _deep_times(d: dict) -> str:
    return "; ".join(f"{lv}/256: {_f(t['deep_energy_s'], 1)} s (BM3D {_f(t['bm3d_s'], 1)} s)"
                     for lv, t in d["timing_512_by_level"].items())


def _earlier_runs(results: Path, pattern: str) -> list[tuple[Path, dict]]:
    """Other stored runs of a benchmark (files named by the commit that measured them), reported beside it."""
    return [(p, json.loads(p.read_text())) for p in sorted(results.glob(pattern))]


def _shootout(results: Path) -> str:
    d = _json(results, "deep_energy/shootout.json")
    c, rows = d["config"], sorted(d["rows"], key=lambda r: (r["minutes"], r["estimator"]))
    levels = sorted(rows[0]["heldout_psnr"], key=float)
    table = [[r["estimator"], _f(r["minutes"], 0), str(r["steps"]), _f(r["cpu_minutes"], 1),
              *(_f(r["heldout_psnr"][lv]) for lv in levels)] for r in rows]
    table += [[f"bundled `{name}` ({'Tweedie' if name == 'deep_energy' else 'MAP'})", "", "", "",
               *(_f(p[lv]) for lv in levels)] for name, p in sorted(d["reference"].items())]
    grid = shootout.ShootoutConfig()
    done = {(r["estimator"], r["minutes"]) for r in rows}
    missing = [f"{e} {m:g} min" for m in grid.minutes for e in grid.estimators if (e, m) not in done]
    held = "the 41" if c["heldout_limit"] is None else f"the first {c['heldout_limit']}"
    return "\n".join([
        _reflow(f"Estimator shoot-out (`python paper/scripts/estimator_shootout.py`, commit {d['commit']}, "
                f"{d['threads']} torch threads): the same noise-conditional `DeepEnergy` ({c['channels']} channels, "
                f"depth {c['depth']}, {c['kernel_size']}x{c['kernel_size']}) trained by each estimator across noise "
                f"levels on {c['patch']}x{c['patch']} Train400 patches for a CPU budget: steps = the budget over the "
                f"step time of a {c['calibration_steps']}-step calibration run; 'CPU minutes' is what the run took. "
                f"Mean PSNR (dB) of Tweedie's estimate on {held} held-out images; the SM rows fit the noisy patches' "
                "score without the curvature penalty (lambda = 0)."
                + (f" Not run yet: {_names(missing)}." if missing else "")), "",
        _table(["estimator", "budget (min)", "steps", "CPU minutes", *(f"PSNR {lv}/256" for lv in levels)], table),
        "", "![estimator shoot-out](docs/results/deep_energy/shootout.png)"])


#: README block name -> renderer.
BLOCKS: dict[str, Callable[[Path], str]] = {
    "tie-rule": _tie_rule,
    "core-speed": _core_speed,
    "mnist": _mnist,
    "patches": _patches,
    "restoration-table1": _restoration_table1,
    "restoration-lambda": _restoration_lambda,
    "restoration-superres": _restoration_superres,
    "restoration-heldout": _restoration_heldout,
    "denoise-speed": _denoise_speed,
    "inverse-problems": _inverse_problems,
    "colour-denoise": _colour_denoise,
    "deep-energy": _deep_energy,
    "shootout": _shootout,
    "known-gaps": _known_gaps,
    "gpu": _gpu,
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


def build(readme: str, results: Path, only: list[str] | None = None) -> str:
    """``readme`` with every result block (or those named in ``only``) rewritten from the artifacts in ``results``.

    Raises ``ValueError`` if a registered block is missing from the page or a marked block has no renderer.
    """
    found = [m.group(2) for m in BLOCK.finditer(readme)]
    missing, unknown = sorted(set(BLOCKS) - set(found)), sorted(set(found) - set(BLOCKS))
    duplicated = sorted({name for name in found if found.count(name) > 1})
    if missing or unknown or duplicated:
        raise ValueError(f"RESULTS.md result blocks: missing {missing}, without a renderer {unknown}, "
                         f"repeated {duplicated}")
    def render(m: re.Match) -> str:
        if only is not None and m.group(2) not in only:
            return m.group(0)
        return m.group(1) + _reflow(BLOCKS[m.group(2)](results)) + "\n" + m.group(4)

    return BLOCK.sub(render, readme)


def check(readme_path: Path, results: Path, only: list[str] | None = None) -> str:
    """The unified diff from ``readme_path`` to what :func:`build` writes; empty when they agree."""
    current = readme_path.read_text()
    lines = difflib.unified_diff(current.splitlines(keepends=True),
                                 build(current, results, only).splitlines(keepends=True),
                                 fromfile=str(readme_path), tofile="generated from " + str(results))
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 and print a diff if RESULTS.md is out of date")
    ap.add_argument("--readme", type=Path, default=ROOT / "RESULTS.md")
    ap.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    ap.add_argument("--only", nargs="+", choices=sorted(BLOCKS), help="rewrite (or check) only these blocks")
    args = ap.parse_args(argv)
    if args.check:
        diff = check(args.readme, args.results, args.only)
        if diff:
            print(diff + f"\n{args.readme} is out of date: run python paper/scripts/build_results.py", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(build(args.readme.read_text(), args.results, args.only))
    print(f"wrote {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
