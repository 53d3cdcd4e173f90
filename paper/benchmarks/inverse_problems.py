"""One prior on the beyond stage's grey inverse problems (deblurring, inpainting, super-resolution 2x/3x/4x and Table
2's images at 2x) beside their anchors (Wiener, biharmonic, bicubic + projection), without rerunning the stage's
other priors and colour rows.

    python paper/benchmarks/inverse_problems.py PRIOR [--run runs/inverse_problems/PRIOR] [--jobs N] [--out FILE.json]

Runs :func:`scorematch_paper.experiments.beyond.compute.run` with ``priors=(PRIOR,)`` (the stage's settings
otherwise; its colour rows cut to one crop at one level, and left out of the JSON) in ``--run`` (its units are cached
there, keyed on their settings and the code), then writes the grey problems of its summary (means, the levels chosen
on the tuning crops, per-image PSNRs, the paired comparisons with the anchors) with a stamp. The levels it chose
are what ``paper/scripts/bundle_presets.py PRIOR --beyond RUN`` writes into the prior's presets.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _output import cpu_model, emit, load_average  # noqa: E402

from scorematch.pretrained import resolve  # noqa: E402
from scorematch_paper.experiments.beyond.compute import run  # noqa: E402
from scorematch_paper.experiments.beyond.settings import GREY_PROBLEMS, TABLE2_PROBLEM, BeyondConfig  # noqa: E402
from scorematch_paper.stamps import stamp  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prior")
    ap.add_argument("--run", type=Path, help="the run folder (default runs/inverse_problems/PRIOR)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--jobs", type=int, default=1, help="worker processes over the stage's units")
    args = ap.parse_args(argv)
    folder = args.run or ROOT / "runs" / "inverse_problems" / args.prior
    config = BeyondConfig(priors=(args.prior,), colour_priors=(), colour_levels=(15,), colour_images=1,
                          colour_crop=64, colour_tune_crop=48, tv_weights=(0.04,))
    t0 = time.perf_counter()
    summary = run(folder, config=config, jobs=args.jobs)
    problems = {p: e for p, e in summary["problems"].items() if p in GREY_PROBLEMS or p == TABLE2_PROBLEM}
    emit({"benchmark": "inverse_problems", "prior": args.prior,
          **stamp("scorematch_paper.experiments.beyond.compute",
                  models={args.prior: resolve(args.prior).resolve().relative_to(ROOT)},
                  parts=("weights",)),  # the levels it tries are its own; it chooses the presets' task levels
          "config": config.to_dict(), "cpu": cpu_model(), "load_average_end": load_average(),
          "seconds": round(time.perf_counter() - t0, 1), "problems": problems}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
