"""The estimator shoot-out of issue 17, for a chosen set of budgets and estimators, published into ``docs/results``.

    python paper/scripts/estimator_shootout.py --minutes 5 15 60 [--estimators dsm ssm sm-curvature sm-hutchinson]
        [--runs runs/shootout] [--out docs/results/deep_energy] [--force]

The same computation as ``scorematch reproduce shootout`` (:mod:`scorematch_paper.experiments.shootout`; each row a
cached unit keyed on its settings and the package's code, an interrupted training run resumes), run here for the
rows asked for; ``OUT/shootout.json`` and ``OUT/shootout.png`` are then written from every current row in ``RUNS``
(earlier calls' rows included), with the commit and the machine. Threads: torch's default.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))

from scorematch_paper.experiments import shootout  # noqa: E402
from scorematch_paper.experiments.cache import Cache  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, nargs="+", default=[5, 15, 60])
    ap.add_argument("--estimators", nargs="+", choices=sorted(shootout.ESTIMATORS), default=list(shootout.ESTIMATORS))
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "shootout")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "deep_energy")
    ap.add_argument("--force", action="store_true", help="train every row of this call afresh")
    args = ap.parse_args(argv)
    cache = Cache(force=args.force)
    shootout.run(args.runs, config=shootout.ShootoutConfig(minutes=tuple(args.minutes),
                                                           estimators=tuple(args.estimators)), cache=cache)
    done = [json.loads(p.read_text()) for p in sorted((args.runs / "rows").glob("*.json"))]
    rows_cache = shootout.rows_cache(cache)
    rows = [r["result"] for r in done if rows_cache.is_current(r["stamp"], r["settings"])]  # every current row
    table = shootout.summary(args.runs)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    table.update(rows=sorted(rows, key=lambda r: (r["minutes"], r["estimator"])), commit=commit.strip(),
                 machine=f"{platform.node()}: {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "shootout.json").write_text(json.dumps(table, indent=2) + "\n")
    shootout.plot(args.out)
    print(json.dumps(table, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
