"""The estimator shoot-out of issue 17: the same deep energy, the same CPU time, each score-matching estimator.

    python scripts/estimator_shootout.py --minutes 5 15 60 [--estimators dsm ssm sm-curvature sm-hutchinson]
        [--out docs/results/deep_energy] [--runs runs/shootout]

For every estimator and budget, one run of ``scripts/train_deep_energy.py``'s recipe (the bundled ``deep_energy``
architecture, its patches, Adam with a cosine schedule over the run) whose number of steps is the budget divided
by the estimator's step time, measured by a 40-step run first; the row then reports the seconds the run really
took. Each model's Tweedie PSNR on the 41 held-out images (the restoration experiment's noise draws) at 15/256 and
25/256, BM3D and the bundled FoE beside it from ``docs/results/benchmarks/deep_energy_cpu.json``. Runs are kept in
``RUNS/ESTIMATOR_Mmin`` and resumed (a finished run is not retrained) while the code is the same: a run keyed on
another code fingerprint (the package's and these two scripts') is trained afresh, as is every run with ``--force``;
``OUT/shootout.json`` and ``OUT/shootout.png`` are rewritten from every finished run in ``RUNS``. Threads: torch's
default.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from train_deep_energy import ESTIMATORS, train  # noqa: E402

from scorematch import load, load_info  # noqa: E402
from scorematch.experiments.cache import code_fingerprint  # noqa: E402
from scorematch.experiments.restoration.data import noise, noise_seed, heldout_images  # noqa: E402
from scorematch.io import read_image  # noqa: E402
from scorematch.tasks import psnr, tweedie_denoise  # noqa: E402

LEVELS = (15, 25)
CALIBRATION_STEPS = 40
REFERENCE = ROOT / "docs" / "results" / "benchmarks" / "deep_energy_cpu.json"


def step_seconds(estimator: str) -> float:
    """Seconds per training step of ``estimator``, from a short run of the same recipe."""
    with tempfile.TemporaryDirectory() as tmp:
        return train(Path(tmp), estimator=estimator, steps=CALIBRATION_STEPS, progress=False).seconds / CALIBRATION_STEPS


def heldout_psnr(model_file: Path) -> dict[str, float]:
    """Mean Tweedie PSNR of a model on the held-out images, per level of :data:`LEVELS`."""
    model = load(model_file).eval()
    scores: dict[int, list[float]] = {lv: [] for lv in LEVELS}
    for name, file in heldout_images():
        x = read_image(file, dtype=torch.float32)[None, None]
        for lv in LEVELS:
            y = noise(x, lv, noise_seed(name, lv, 0))
            with torch.no_grad():
                scores[lv].append(psnr(tweedie_denoise(y, model, sigma=lv / 256).clamp(0, 1), x))
    return {str(lv): round(statistics.mean(v), 3) for lv, v in scores.items()}


def code_key() -> str:
    """The package's code fingerprint and this recipe's scripts, 16 hex digits."""
    h = hashlib.sha256(code_fingerprint().encode())
    for script in ("train_deep_energy.py", "estimator_shootout.py"):
        h.update((ROOT / "scripts" / script).read_bytes())
    return h.hexdigest()[:16]


def run_row(runs: Path, estimator: str, minutes: float, *, force: bool = False) -> dict:
    """Train (or resume) one budgeted run and measure it."""
    run = runs / f"{estimator}_{minutes:g}min"
    settings = run / "budget.json"
    budget = json.loads(settings.read_text()) if settings.is_file() else None
    if budget is None or force or budget.get("code") != code_key():
        shutil.rmtree(run, ignore_errors=True)
        budget = {"estimator": estimator, "minutes": minutes, "code": code_key(),
                  "step_seconds": round(step_seconds(estimator), 4)}
        budget["steps"] = max(1, round(minutes * 60 / budget["step_seconds"]))
        run.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps(budget, indent=2) + "\n")
    if not (run / "model.safetensors").is_file():
        train(run, estimator=estimator, steps=budget["steps"], resume=True)
    seconds = _run_seconds(run)
    return {**budget, "seconds": round(seconds, 1), "cpu_minutes": round(seconds / 60, 2),
            "heldout_psnr": heldout_psnr(run / "model.safetensors")}


def _run_seconds(run: Path) -> float:
    """The training seconds of a finished run: the last row of its ``metrics.csv``."""
    last = (run / "metrics.csv").read_text().strip().splitlines()[-1]
    return float(last.split(",")[-1])


def plot(rows: list[dict], reference: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(LEVELS), figsize=(5 * len(LEVELS), 3.6))
    for ax, lv in zip(axes, LEVELS):
        for est in sorted({r["estimator"] for r in rows}):
            mine = sorted((r for r in rows if r["estimator"] == est), key=lambda r: r["cpu_minutes"])
            ax.plot([r["cpu_minutes"] for r in mine], [r["heldout_psnr"][str(lv)] for r in mine], "o-", label=est)
        for key, style in (("bm3d_psnr", "k--"), ("foe_5x5x24_psnr", "k:")):
            ax.axhline(reference[str(lv)][key], color="k", ls=style[1:], lw=1, label=key.replace("_psnr", ""))
        ax.set(xscale="log", xlabel="CPU minutes (2 cores)", ylabel="held-out PSNR (dB)", title=f"noise {lv}/256")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, nargs="+", default=[5, 15, 60])
    ap.add_argument("--estimators", nargs="+", choices=sorted(ESTIMATORS), default=list(ESTIMATORS))
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "deep_energy")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "shootout")
    ap.add_argument("--force", action="store_true", help="train every run of this call afresh")
    args = ap.parse_args(argv)
    if any(m <= 0 for m in args.minutes):
        ap.error("--minutes must be positive")
    rows = [run_row(args.runs, est, m, force=args.force) for m in sorted(args.minutes) for est in args.estimators]
    done = {(r["estimator"], r["minutes"]) for r in rows}
    for budget in sorted(args.runs.glob("*/budget.json")):  # finished rows of earlier calls
        b = json.loads(budget.read_text())
        if ((b["estimator"], b["minutes"]) not in done and b.get("code") == code_key()
                and (budget.parent / "model.safetensors").is_file()):
            rows.append(run_row(args.runs, b["estimator"], b["minutes"]))
    reference = {lv: {k: v for k, v in row.items() if k.endswith("_psnr")}
                 for lv, row in json.loads(REFERENCE.read_text())["levels"].items() if int(lv) in LEVELS}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    model = load_info(next(args.runs.glob("*/model.safetensors")))
    result = {"experiment": "estimator_shootout", "commit": commit.strip(), "threads": torch.get_num_threads(),
              "energy": model["energy"], "config": model["config"], "reference": reference,
              "rows": sorted(rows, key=lambda r: (r["minutes"], r["estimator"]))}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "shootout.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result["rows"], reference, args.out / "shootout.png")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
