"""Train the noise-conditional deep energy (``DeepEnergy``) by an estimator across noise levels; resumable.

    python paper/scripts/train_deep_energy.py --out runs/deep_energy [--estimator dsm] [--steps 4000] [--resume]
        [--channels 32] [--depth 4] [--kernel-size 3] [--patch 40] [--data train400|colour]

The recipe is :func:`scorematch_paper.experiments.shootout.train_deep_energy` (the shoot-out trains every estimator
with it): patches (40x40 by default) from the training nine tenths of ``data/train400`` (the held-out tenth and
Set12 are never seen), the loss on their interior (``noise_conditional_loss``'s margin, ``support - 1``: 8 pixels
for the default architecture), levels log-uniform in [1/256, 50/256], Adam with a cosine schedule. ``--data colour``
trains a colour energy (RGB input) on the training images of the colour set instead (``deep_energy_colour``). The
model is written to ``OUT/model.safetensors`` with the run's settings in its metadata.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository root
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "paper" / "src"))

from scorematch_paper.experiments.shootout import ESTIMATORS, ShootoutConfig, train_deep_energy  # noqa: E402
from scorematch_paper.experiments.shootout.recipe import TRAINING_DATA  # noqa: E402

CONFIG = ShootoutConfig()
DEFAULT = CONFIG.arch("deep")  # the bundled deep_energy's architecture


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--estimator", choices=sorted(ESTIMATORS), default="dsm")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--channels", type=int, default=DEFAULT["channels"])
    ap.add_argument("--depth", type=int, default=DEFAULT["depth"])
    ap.add_argument("--kernel-size", type=int, default=DEFAULT["kernel_size"])
    ap.add_argument("--patch", type=int, default=CONFIG.patch, help="side of the training patches (the loss covers "
                    "their interior: patch - 2 (support - 1) pixels a side)")
    ap.add_argument("--data", choices=sorted(TRAINING_DATA), default="train400",
                    help="train400 (grey) or colour (RGB patches of the colour set's training images)")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)
    arch = dict(channels=args.channels, depth=args.depth, kernel_size=args.kernel_size)
    start = time.perf_counter()
    result = train_deep_energy(args.out, estimator=args.estimator, steps=args.steps, seed=args.seed, arch=arch,
                               patch=args.patch, data=args.data, resume=args.resume)
    print(f"{result.steps} steps in {time.perf_counter() - start:.0f} s, final loss {result.final_loss:.4g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
