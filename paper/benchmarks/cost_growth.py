"""How the cost of the score-matching loss + gradient grows: curvature vs exact vs Hutchinson.

Prints JSON (see :mod:`scorematch_paper.experiments.speed`, which ``scorematch reproduce speed`` also runs), with a
stamp (:func:`scorematch_paper.stamps.stamp`) of the code it timed and the load average at the start and the end.

    python paper/benchmarks/cost_growth.py [--quick] [--plot cost_growth.png] [--out cost_growth.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))
sys.path.append(str(ROOT / "benchmarks"))  # _output: what the benchmark scripts share

from _output import emit, load_average  # noqa: E402

from scorematch_paper.experiments.speed import draw_figure, measure  # noqa: E402
from scorematch_paper.stamps import stamp  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer sizes (a smoke test)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--exact-max", type=int, default=512, help="largest D for the (slow) exact method")
    ap.add_argument("--plot", default=None, help="write a PNG of the curves")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--dims", type=int, nargs="+", default=None, help="PoE sizes D (default 64..1024)")
    ap.add_argument("--sides", type=int, nargs="+", default=None, help="FoE image sides (default 64..1024)")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args()
    load_start = load_average()
    result = measure(quick=args.quick, threads=args.threads, batch=args.batch, repeats=args.repeats,
                     exact_max=args.exact_max, device=args.device,
                     dims=args.dims, sides=args.sides)
    result = {**result, **stamp("scorematch_paper.experiments.speed"), "load_average_start": load_start,
              "load_average_end": load_average()}
    emit(result, args.out)
    if args.plot:
        draw_figure(result, args.plot)


if __name__ == "__main__":
    main()
