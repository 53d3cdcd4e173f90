"""The estimator shoot-out of issue 38, published into ``docs/results/shootout``.

    python paper/scripts/estimator_shootout.py [--jobs 2] [--runs runs/shootout] [--out docs/results/shootout]
        [--force]

The same computation as ``scorematch reproduce shootout`` (:mod:`scorematch_paper.experiments.shootout`) at the full
settings: the choices on the tuning crops, then every row and seed. Each choice and row is a cached unit stored in
``OUT/choices`` and ``OUT/rows`` (committed, so a new machine keeps what was done), keyed on its settings and the
rows' code; its training run lives in ``RUNS`` and resumes from its last checkpoint when interrupted. ``--jobs``
runs that many training runs at once, one torch thread each (budgets are each process's CPU time). Stop it at any
time (Ctrl-C); the next call continues. ``OUT/shootout.json`` and the figures are written when every unit is done;
``--publish`` writes them from the units done so far (the rows not yet run listed) without training.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))

from scorematch_paper.experiments import shootout  # noqa: E402
from scorematch_paper.experiments.cache import Cache  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=1, help="training runs at once (one torch thread each)")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "shootout")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "shootout")
    ap.add_argument("--force", action="store_true", help="recompute every unit (the training runs resume)")
    ap.add_argument("--publish", action="store_true", help="write the table from the units done so far, train nothing")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(processName)s %(message)s",
                        stream=sys.stdout, force=True)
    for noisy in ("scorematch.tasks.restore", "scorematch.train.fit"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.publish:
        table = shootout.publish(args.out, runs=args.runs)
    else:
        table = shootout.run(args.out, runs=args.runs, jobs=args.jobs, cache=Cache(force=args.force))
    print(shootout.report(args.out))
    return 0 if table["rows"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
