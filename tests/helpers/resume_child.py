"""A short training run for the kill-and-resume tests (run as a subprocess; not a test module).

``python resume_child.py RUN_DIR [--resume] [--sleep S]`` trains :func:`problem` in RUN_DIR, printing
``step K`` after every step (and sleeping ``S`` seconds there, so that a signal lands mid-run).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time

import torch

import scorematch

STEPS = 40


def problem():
    """(energy, data, loss_fn, settings): a float64 PoE fit by Hutchinson-regularized score matching,
    so both the minibatch sampling and the loss's random probes draw from the run's generator."""
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    data = torch.randn(400, 8, generator=gen, dtype=torch.float64) @ torch.randn(8, 8, generator=gen, dtype=torch.float64)
    energy = scorematch.ProductOfExperts(8, 12, generator=torch.Generator().manual_seed(1)).double()
    loss = functools.partial(scorematch.score_matching_loss, lam=0.01, method="hutchinson", n_probes=2)
    settings = dict(steps=STEPS, batch_size=32, lr=0.05, schedule="cosine", seed=7, log_every=1, checkpoint_every=3)
    return energy, data, loss, settings


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args()
    energy, data, loss, settings = problem()

    def report(step: int, value: float, _energy) -> None:
        print(f"step {step}", flush=True)
        time.sleep(args.sleep)

    try:
        scorematch.fit(energy, data, loss, run_dir=args.run_dir, resume=args.resume, callback=report, **settings)
    except scorematch.TrainingInterrupted as exc:
        print(f"interrupted {exc.step}", flush=True)
        return 128 + exc.signum
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
