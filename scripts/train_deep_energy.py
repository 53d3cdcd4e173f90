"""Train the noise-conditional deep energy (``DeepEnergy``) by an estimator across noise levels; resumable.

    python scripts/train_deep_energy.py --out runs/deep_energy [--estimator dsm] [--steps 4000] [--resume]
        [--channels 32] [--depth 4] [--kernel-size 3] [--patch 40]

Patches (40x40 by default) from the training nine tenths of ``data/train400`` (the held-out tenth and Set12 are never
seen), the loss on their interior (``noise_conditional_loss``'s margin, ``support - 1``: 8 pixels for the default architecture), levels log-uniform in [1/256, 50/256], Adam with a cosine schedule. The model is written to
``OUT/model.safetensors`` with the run's settings in its metadata.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from scorematch import fit, score_matching_loss, sliced_score_matching_loss  # noqa: E402
from scorematch.datasets import load_images, split_images  # noqa: E402
from scorematch.datasets.patches import PatchSampler  # noqa: E402
from scorematch.energies import DeepEnergy  # noqa: E402
from scorematch.estimators import denoising_score_matching_loss, noise_conditional_loss  # noqa: E402

ESTIMATORS = {
    "dsm": denoising_score_matching_loss,
    "ssm": sliced_score_matching_loss,
    "sm-curvature": functools.partial(score_matching_loss, method="curvature"),
    "sm-hutchinson": functools.partial(score_matching_loss, method="hutchinson", n_probes=1),
}
BATCH, LR = 32, 1e-3
ARCH = dict(channels=32, depth=4, kernel_size=3)
PATCH = 40


def train(out: Path, *, estimator: str = "dsm", steps: int = 4000, seed: int = 0, arch: dict | None = None,
          patch: int = PATCH, resume: bool = False, progress: bool = True):
    """One resumable run of the recipe into ``out``; returns :class:`scorematch.train.FitResult`."""
    arch = {**ARCH, **(arch or {})}
    torch.manual_seed(seed)
    train_images, _ = split_images(load_images("train400"), holdout=0.1)
    energy = DeepEnergy(**arch, generator=torch.Generator().manual_seed(seed))
    loss = functools.partial(noise_conditional_loss, estimator=ESTIMATORS[estimator])
    return fit(energy, PatchSampler(train_images, patch), loss, run_dir=out, resume=resume, progress=progress,
               steps=steps, batch_size=BATCH, lr=LR, seed=seed, log_every=50, checkpoint_every=250,
               metadata={"estimator": estimator, "patch": patch, "margin": energy.support - 1,
                         "data": "train400 (9/10)", **arch})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--estimator", choices=sorted(ESTIMATORS), default="dsm")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--channels", type=int, default=ARCH["channels"])
    ap.add_argument("--depth", type=int, default=ARCH["depth"])
    ap.add_argument("--kernel-size", type=int, default=ARCH["kernel_size"])
    ap.add_argument("--patch", type=int, default=PATCH, help="side of the training patches (the loss covers their "
                    "interior: patch - 2 (support - 1) pixels a side)")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)
    arch = dict(channels=args.channels, depth=args.depth, kernel_size=args.kernel_size)
    start = time.perf_counter()
    result = train(args.out, estimator=args.estimator, steps=args.steps, seed=args.seed, arch=arch,
                   patch=args.patch, resume=args.resume)
    print(f"{result.steps} steps in {time.perf_counter() - start:.0f} s, final loss {result.final_loss:.4g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
