"""How the cost of the score-matching loss + gradient grows: curvature vs exact vs Hutchinson.

Prints JSON (see :mod:`scorematch_paper.experiments.speed`, which ``scorematch reproduce speed`` also runs).

    python paper/benchmarks/cost_growth.py [--quick] [--plot cost_growth.png]
"""

from __future__ import annotations

import argparse
import json

from scorematch_paper.experiments.speed import draw_figure, measure


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
    args = ap.parse_args()
    result = measure(quick=args.quick, threads=args.threads, batch=args.batch, repeats=args.repeats,
                     exact_max=args.exact_max, device=args.device,
                     dims=args.dims, sides=args.sides)
    print(json.dumps(result, indent=2))
    if args.plot:
        draw_figure(result, args.plot)


if __name__ == "__main__":
    main()
