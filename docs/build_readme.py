"""Write the measured figures of ``README.md`` from the stored artifacts under ``docs/results/``.

    python docs/build_readme.py            # rewrites README.md's result blocks in place
    python docs/build_readme.py --check    # exit 1 and print a diff if README.md differs from what it would write

Every sentence of the README that states a measured number sits in a block

    <!-- results:NAME -->
    ...written by this script...
    <!-- /results:NAME -->

whose text the renderer ``BLOCKS[NAME]`` formats from the JSON/CSV files that the measuring scripts stored under
``docs/results/``; prose without numbers stays outside the blocks. CI runs the check (tests/test_readme_results.py).

Adding a block: write ``def _name(results: Path) -> str``, which reads its files with :func:`_json` / :func:`_csv`
(a missing field raises ``KeyError`` naming the file) and formats numbers with :func:`_f` (which refuses nan), add
``"name": _name`` to :data:`BLOCKS`, put the two markers in README.md, and run this script.
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

from scorematch.experiments import mnist, patches
from scorematch.experiments.compare import TIE_SIGMAS, describe, is_tie, paired_difference, std_of_mean

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 115  # the README's line length; tables are not wrapped
BLOCK = re.compile(r"(<!-- results:([\w-]+) -->\n)(.*?)(<!-- /results:\2 -->)", flags=re.S)

#: The MNIST lambdas shown in the README's table (the CSVs hold more).
MNIST_LAMBDAS = (0.0, 3e-4, 1e-3, 3e-3, 1e-2, 2e-2, 3e-2, 1e-1)
#: Table 1's methods: (column in table1.csv, header).
TABLE1_METHODS = (("noisy", "noisy"), ("tv", "TV (scikit-image)"), ("rb", "Roth & Black 3x3x8"),
                  ("cd1", "our CD-1 FoE"), ("rsm", "**our RSM FoE**"))
#: Table 2's starts and models: (column in table2.csv, header).
TABLE2_METHODS = (("lowpass_start_projected", "low-pass start, projected"), ("bicubic_projected", "bicubic, projected"),
                  ("rb", "Roth & Black 3x3x8"), ("cd1", "our CD-1 FoE"), ("rsm", "our RSM FoE"))


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
            "(`scorematch.experiments.compare`).")


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
        f"`python benchmarks/sm_loss.py --rounds {sm['rounds']}` (this 2-core machine, {m['threads']} torch thread, "
        f"torch {m['torch']}, {poe['dtype']}, median of interleaved runs, other jobs running): {poe['model']}, "
        f"batch {poe['batch']}, loss + parameter gradient:", "",
        _table(["", "seconds", "ratio"], rows), "",
        f"{foe['model']} on {foe['images']} images: curvature / closed form = {_f(foe['curvature_over_closed_form'])}.",
        _cost_growth(results)])


def _cost_growth(results: Path) -> str:
    cg = _json(results, "benchmarks/cost_growth.json")
    slopes = cg["poe"]["exponent_in_D"]
    return (f"Cost growth (`python benchmarks/cost_growth.py`, {cg['threads']} thread, also in the report): fitted "
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


def _table1(results: Path) -> _Fields:
    return _by(_csv(results, "restoration/table1.csv"), "image", "restoration/table1.csv")


def _vs_paper(row: _Fields) -> tuple[float, float]:
    """Our RSM FoE minus the paper's RSM column, and our std over the noise draws."""
    return row["rsm"] - row["paper_rsm"], row["rsm_std"]


def _mean_row(t1: _Fields, col: str) -> tuple[float, float]:
    """The mean over images of ``col`` and its std over the noise draws (each image has its own draws)."""
    return _mean([r[col] for r in t1.values()]), std_of_mean([r[col + "_std"] for r in t1.values()])


def _table1_rows(t1: _Fields, means: dict[str, tuple[float, float]]) -> list[list[str]]:
    """Table 1's rows, one per image and the mean; "ours - paper" by the tie rule."""
    rows = [[name.capitalize()] + [_f(r[c]) for c, _ in TABLE1_METHODS[:-1]] + [f"**{_f(r['rsm'])}**",
            _f(r["paper_rsm"]), describe(*_vs_paper(r), unit="")] for name, r in t1.items()]
    paper = _mean([r["paper_rsm"] for r in t1.values()])
    return rows + [["mean"] + [_f(means[c][0]) for c, _ in TABLE1_METHODS[:-1]] + [
        f"**{_f(means['rsm'][0])}**", _f(paper), describe(means["rsm"][0] - paper, means["rsm"][1], unit="")]]


def _restoration_table1(results: Path) -> str:
    t1 = _table1(results)
    cli = _json(results, "restoration/cli_table1.json")["images"]
    n_draws = len(next(iter(cli.values()))["psnr"])
    max_std = max(r[c + "_std"] for r in t1.values() for c, _ in TABLE1_METHODS)
    cli_gap = max(abs(cli[name]["mean"] - r["rsm"]) for name, r in t1.items())
    means = {c: _mean_row(t1, c) for c, _ in TABLE1_METHODS}
    return "\n".join([
        f"Denoising at sigma = 5/256 (PSNR dB, mean of {n_draws} noise draws, std <= {_f(max_std)}; L-BFGS MAP with "
        "the image border extended by replication; prior weights tuned on Set12 images that are in neither table), "
        "from the full run (`scorematch reproduce all`; restoration stage rerun on 2026-11-27 after the changes "
        "below). Our RSM FoE 5x5x24 is the bundled `foe_5x5x24` (`scorematch denoise` without `--model` gives these "
        f"numbers to {_f(cli_gap, 3)} dB: `scripts/cli_table1.py`). \"ours - paper\" applies the tie rule above "
        "with our std over the noise draws (the mean row: the std of the mean over images):", "",
        _table(["image"] + [h for _, h in TABLE1_METHODS] + ["paper RSM", "ours - paper (dB)"],
               _table1_rows(t1, means)), "",
        _table1_summary(t1, means)])


def _vs_paper_verdicts(t1: _Fields) -> dict[str, list[str]]:
    """The images above the paper's RSM column, tied with it and below it (with the difference)."""
    verdict: dict[str, list[str]] = {"above": [], "tie": [], "below": []}
    for name, r in t1.items():
        diff, std = _vs_paper(r)
        key = "tie" if is_tie(diff, std) else "above" if diff > 0 else "below"
        verdict[key].append(name.capitalize() + ("" if key == "tie" else f" ({describe(diff, std)})"))
    return verdict


def _table1_summary(t1: _Fields, means: dict[str, tuple[float, float]]) -> str:
    against = "; ".join(f"{what} on {_names(names)}" for what, names in _vs_paper_verdicts(t1).items() if names)

    def versus(col: str) -> str:  # the two methods' draw spreads taken as independent: an upper bound
        return describe(means["rsm"][0] - means[col][0], math.hypot(means["rsm"][1], means[col][1]))

    return (f"Our RSM FoE against the paper's RSM column: {against}. Its mean minus that of our CD-1 FoE of the same "
            f"size: {versus('cd1')}; minus that of Roth & Black's CD-trained 3x3x8: {versus('rb')}.")


def _restoration_lambda(results: Path) -> str:
    sweep = _json(results, "restoration/lambda_sweep.json")
    levels = sorted(sweep[0]["curves"], key=int)
    best = {lv: _best_lambda(sweep, lv) for lv in levels}
    return "\n".join([
        "**Figure 2e-g reproduced**: with free filter norms the regularizer matters as in the paper. On the tuning "
        "crops (PSNR at the best prior weight for each lambda, one noise draw per level, so no spread is measured):",
        "", _table(["noise level"] + [f"{lv}/256" for lv in levels], [
            ["best lambda"] + [_lam(best[lv][0]) for lv in levels],
            ["its PSNR (dB)"] + [_f(best[lv][1]) for lv in levels],
            ["gain over lambda = 0 (dB)"] + [_signed(best[lv][2]) for lv in levels]])])


def _best_lambda(sweep: list[_Fields], level: str) -> tuple[float, float, float]:
    """(best lambda, its PSNR, its gain over lambda = 0) at one noise level, each at its best prior weight."""
    scores = _Fields("restoration/lambda_sweep.json (lambda)",
                     {row["lam"]: max(row["curves"][level].values()) for row in sweep})
    lam = max(scores, key=scores.get)
    return lam, scores[lam], scores[lam] - scores[0.0]


def _table2(results: Path) -> _Fields:
    return _by(_csv(results, "restoration/table2.csv"), "image", "restoration/table2.csv")


def _restoration_superres(results: Path) -> str:
    t2 = _table2(results)
    gain = {name.capitalize(): r["rsm"] - r["bicubic_projected"] for name, r in t2.items()}
    low, high = min(gain, key=gain.get), max(gain, key=gain.get)
    return "\n".join([
        "2x super-resolution (PSNR dB; our images are not the paper's versions, so every start is computed by the "
        "same code; no noise, so one deterministic run per image):", "",
        _table(["image"] + [h for _, h in TABLE2_METHODS],
               [[name.capitalize()] + [_f(r[c]) for c, _ in TABLE2_METHODS] for name, r in t2.items()]), "",
        f"Our RSM FoE minus the bicubic start: {_signed(gain[low])} dB ({low}) to {_signed(gain[high])} dB ({high})."])


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
            f"`benchmarks/denoise_large.py`).")


def _known_gaps(results: Path) -> str:
    t1, t2 = _table1(results), _table2(results)
    below = _vs_paper_verdicts(t1)["below"]
    castle = t2["castle"]
    near = max(abs(castle[c] - castle["bicubic_projected"]) for c in ("rsm", "cd1", "rb"))
    paper_solver = _mean([r["rsm_paper_solver"] for r in t1.values()])
    return "\n".join([
        f"- Table 1: below the paper's RSM column beyond the tie rule on {_names(below) if below else 'no image'}.",
        f"- Super-resolution: {_cd1_above_rsm(t2)}, and on Castle every model is within {_f(near)} dB of the "
        "bicubic start.",
        "- The paper's own denoising schedule (300 fixed steps) barely moves the estimate for our models "
        f"({_f(paper_solver)} dB on average in Table 1, against {_f(_mean([r['noisy'] for r in t1.values()]))} for "
        "the noisy images); the L-BFGS default is used for every number above.",
        _mnist_gap(results)])


def _mnist_gap(results: Path) -> str:
    err = _mnist_errors(results)
    best = _best_error(err)
    return (f"- MNIST: the likelihood peaks at lambda = {_lam(_best_loglik(_mnist_loglik(results)))}, not at the "
            f"paper's {mnist.PAPER_BEST_LAM:g}; classification is best at {_lam(best)}, and {_mnist_ties(err, best)}.")


def _cd1_above_rsm(t2: _Fields) -> str:
    up = {name.capitalize(): r["cd1"] - r["rsm"] for name, r in t2.items() if r["cd1"] > r["rsm"]}
    if not up:
        return "our RSM FoE scores at or above our CD-1 FoE on every image"
    return (f"our CD-1 FoE scores above the RSM FoE on {_names(list(up))} (by {_f(min(up.values()))}-"
            f"{_f(max(up.values()))} dB; the table above)")


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


#: README block name -> renderer.
BLOCKS: dict[str, Callable[[Path], str]] = {
    "tie-rule": _tie_rule,
    "core-speed": _core_speed,
    "mnist": _mnist,
    "patches": _patches,
    "restoration-table1": _restoration_table1,
    "restoration-lambda": _restoration_lambda,
    "restoration-superres": _restoration_superres,
    "denoise-speed": _denoise_speed,
    "known-gaps": _known_gaps,
    "gpu": _gpu,
}


# --- the page ---------------------------------------------------------------------------------------------------

def build(readme: str, results: Path) -> str:
    """``readme`` with every result block rewritten from the artifacts in ``results``.

    Raises ``ValueError`` if a registered block is missing from the page or a marked block has no renderer.
    """
    found = [m.group(2) for m in BLOCK.finditer(readme)]
    missing, unknown = sorted(set(BLOCKS) - set(found)), sorted(set(found) - set(BLOCKS))
    duplicated = sorted({name for name in found if found.count(name) > 1})
    if missing or unknown or duplicated:
        raise ValueError(f"README result blocks: missing {missing}, without a renderer {unknown}, "
                         f"repeated {duplicated}")
    return BLOCK.sub(lambda m: m.group(1) + _reflow(BLOCKS[m.group(2)](results)) + "\n" + m.group(4), readme)


def check(readme_path: Path, results: Path) -> str:
    """The unified diff from ``readme_path`` to what :func:`build` writes; empty when they agree."""
    current = readme_path.read_text()
    lines = difflib.unified_diff(current.splitlines(keepends=True), build(current, results).splitlines(keepends=True),
                                 fromfile=str(readme_path), tofile="generated from " + str(results))
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 and print a diff if README.md is out of date")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    args = ap.parse_args(argv)
    if args.check:
        diff = check(args.readme, args.results)
        if diff:
            print(diff + f"\n{args.readme} is out of date: run python docs/build_readme.py", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(build(args.readme.read_text(), args.results))
    print(f"wrote {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
