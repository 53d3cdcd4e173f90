"""The deep energy's training recipe, shared by the bundled ``deep_energy`` (``scripts/train_deep_energy.py``) and
every run of the shoot-out."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import torch

from ...datasets import PatchStream, load_images, split_images
from ...energies import DeepEnergy
from ...estimators import noise_conditional_loss
from ...train import FitResult, fit
from .settings import ESTIMATORS


def train_deep_energy(out: str | os.PathLike, *, estimator: str = "dsm", steps: int = 4000, seed: int = 0,
                      arch: dict[str, Any] | None = None, patch: int = 40, batch: int = 32, lr: float = 1e-3,
                      resume: bool = False, progress: bool = True) -> FitResult:
    """One resumable run into ``out`` (``model.safetensors``, checkpoints, ``metrics.csv``).

    A :class:`~scorematch.energies.DeepEnergy` (``arch``: ``channels``, ``depth``, ``kernel_size``; default 32, 4,
    3) trained by ``estimator`` (a name of :data:`~.settings.ESTIMATORS`) across noise levels (log-uniform in
    the model's range; the loss on the patch interiors, ``noise_conditional_loss``'s margin) on ``patch`` x
    ``patch`` patches of the training nine tenths of Train400 (the held-out tenth and Set12 are never seen),
    Adam with a cosine schedule, batch ``batch``, learning rate ``lr``.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}, got {estimator!r}")
    arch = {"channels": 32, "depth": 4, "kernel_size": 3, **(arch or {})}
    torch.manual_seed(seed)
    train_images, _ = split_images(load_images("train400"), holdout=0.1)
    energy = DeepEnergy(**arch, generator=torch.Generator().manual_seed(seed))
    loss = functools.partial(noise_conditional_loss, estimator=ESTIMATORS[estimator])
    return fit(energy, PatchStream(train_images, patch), loss, run_dir=Path(out), resume=resume, progress=progress,
               steps=steps, batch_size=batch, lr=lr, seed=seed, log_every=50, checkpoint_every=250,
               metadata={"estimator": estimator, "patch": patch, "margin": energy.support - 1,
                         "data": "train400 (9/10)", **arch})
