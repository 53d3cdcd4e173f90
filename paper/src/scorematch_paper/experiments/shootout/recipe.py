"""The deep energy's training recipe, shared by the bundled ``deep_energy`` and ``deep_energy_colour``
(``paper/scripts/train_deep_energy.py``) and every run of the shoot-out."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from scorematch.datasets import COLOUR_SET, PatchStream, colour_split, load_images, split_images
from scorematch.energies import DeepEnergy
from scorematch.estimators import noise_conditional_loss
from scorematch.io.images import read_image
from scorematch.train import FitResult, fit
from scorematch_paper.experiments.shootout.settings import estimator_loss
from scorematch_paper.paths import data_dir

#: The training sets: name -> what the model file's metadata says of it.
TRAINING_DATA = {"train400": "train400 (9/10)", "colour": "bsds300-train (the colour split's training images)"}


def train_deep_energy(out: str | os.PathLike, *, estimator: str = "dsm", steps: int = 4000, seed: int = 0,
                      arch: dict[str, Any] | None = None, patch: int = 40, batch: int = 32, lr: float = 1e-3,
                      data: str = "train400", resume: bool = False, progress: bool = True) -> FitResult:
    """One resumable run into ``out`` (``model.safetensors``, checkpoints, ``metrics.csv``).

    A :class:`~scorematch.energies.DeepEnergy` (``arch``: ``channels``, ``depth``, ``kernel_size``; default 32, 4,
    3) trained by ``estimator`` (a name of :data:`~.settings.ESTIMATORS`) across noise levels (log-uniform in
    the model's range; the loss on the patch interiors, ``noise_conditional_loss``'s margin) on ``patch`` x
    ``patch`` patches of ``data`` (:data:`TRAINING_DATA`): ``"train400"``, the training nine tenths of Train400
    (the validation tenth and Set12 are never seen), or ``"colour"``, the training images of the colour set
    (:func:`~scorematch.datasets.colour_split`; its tuning and validation images are never seen), RGB, for a
    colour energy (``in_channels=3``). Adam with a cosine schedule, batch ``batch``, learning rate ``lr``.
    """
    energy, stream, loss, metadata = setup(estimator=estimator, seed=seed, arch=arch, patch=patch, data=data)
    return fit(energy, stream, loss, run_dir=Path(out), resume=resume, progress=progress, steps=steps,
               batch_size=batch, lr=lr, seed=seed, log_every=50, checkpoint_every=250, metadata=metadata)


def setup(*, estimator: str, seed: int, arch: dict[str, Any] | None, patch: int, data: str = "train400",
          lam: float = 0.0) -> tuple[DeepEnergy, PatchStream, Callable[..., Any], dict[str, Any]]:
    """The seeded energy, the patch stream, the noise-conditional loss of ``estimator`` (with curvature penalty
    ``lam``, :func:`~.settings.estimator_loss`) and the model file's metadata of one run."""
    if data not in TRAINING_DATA:
        raise ValueError(f"data must be one of {sorted(TRAINING_DATA)}, got {data!r}")
    per_level = estimator_loss(estimator, lam)
    arch = {"channels": 32, "depth": 4, "kernel_size": 3, **(arch or {})}
    torch.manual_seed(seed)
    train_images = _training_images(data)
    channels = 1 if train_images[0].dim() == 2 else train_images[0].shape[0]
    energy = DeepEnergy(**arch, in_channels=channels, generator=torch.Generator().manual_seed(seed))
    loss = functools.partial(noise_conditional_loss, estimator=per_level)
    metadata = {"estimator": estimator, **({"lam": lam} if lam else {}), "patch": patch,
                "margin": energy.support - 1, "data": TRAINING_DATA[data], **arch}
    return energy, PatchStream(train_images, patch), loss, metadata


def _training_images(data: str) -> list[torch.Tensor]:
    """The images of a training set of :data:`TRAINING_DATA`: (H, W) grey or (3, H, W) colour."""
    if data == "colour":
        return [read_image(f, colour=True) for f in colour_split(data_dir() / COLOUR_SET)["train"]]
    return split_images(load_images(data_dir() / "train400"), holdout=0.1)[0]
