"""The training recipe of the U-Net energy (:class:`~scorematch.energies.UNetEnergy`): denoising score matching
across noise levels on augmented image patches, resumable, with a validation curve."""

from __future__ import annotations

import csv
import functools
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .config import Settings
from .io import write_json
from .datasets.patches import PatchStream
from .energies.unet import UNetEnergy
from .estimators import noise_conditional_loss
from .train import FitResult, fit
from .train.sources import on_device

__all__ = ["UNetRecipe", "train_unet_energy", "tweedie_psnr"]

#: Noise levels (1/255) of the validation curve.
VALIDATION_LEVELS = (15, 25, 50)


@dataclass(frozen=True)
class UNetRecipe(Settings):
    """Settings of :func:`train_unet_energy`.

    Attributes
    ----------
    widths, blocks, experts : tuple of int, int, int
        The architecture (:class:`~scorematch.energies.UNetEnergy`).
    sigma_min, sigma_max : float
        Noise levels (on [0, 1]) drawn log-uniformly, one per patch.
    patch, batch : int
        Patch side (a multiple of ``2^(len(widths) - 1)``) and patches per step; each patch gets one of the 8
        rotations and flips.
    steps, lr : int, float
        Adam with a cosine schedule from ``lr`` to ``lr / 100``.
    seed : int
    validate_every : int
        Steps between two points of the validation curve (0: none).
    """

    widths: tuple[int, ...] = (16, 32, 64, 128)
    blocks: int = 1
    experts: int = 32
    sigma_min: float = 1 / 255
    sigma_max: float = 80 / 255
    patch: int = 64
    batch: int = 16
    steps: int = 40000
    lr: float = 1e-3
    seed: int = 0
    validate_every: int = 1000

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))
        self._check_ints(blocks=1, experts=1, patch=2, batch=1, steps=0, seed=0, validate_every=0)
        self._check_numbers(sigma_min=0.0, sigma_max=0.0, lr=0.0, strict=True)
        if self.patch % 2 ** (len(self.widths) - 1):
            raise ValueError(f"patch must be a multiple of {2 ** (len(self.widths) - 1)}, got {self.patch}")


def train_unet_energy(
    images: Sequence[Tensor],
    out: str | os.PathLike,
    recipe: UNetRecipe = UNetRecipe(),
    *,
    validation: Tensor | None = None,
    resume: bool = False,
    device: str | torch.device = "cpu",
    progress: bool = False,
    metadata: dict[str, Any] | None = None,
) -> FitResult:
    """Train a :class:`~scorematch.energies.UNetEnergy` into the run directory ``out``.

    Parameters
    ----------
    images : sequence of Tensor, each (H, W) grey or (3, H, W) colour, on [0, 1]
        The training images (a colour energy for colour images).
    out : path
        The run directory of :func:`scorematch.fit` (``model.safetensors``, ``checkpoint.safetensors``,
        ``metrics.csv``), plus ``run.json`` (the recipe and ``metadata``: what a bundled model's card needs) and
        ``validation.csv``: Tweedie PSNR on ``validation`` against training hours.
    recipe : UNetRecipe
    validation : Tensor, shape (N, C, H, W), optional
        Clean validation images (never trained on); noise drawn once per image and level (seeded).
    resume : bool
        Continue from ``out``'s checkpoint (bitwise as an uninterrupted run on the CPU).
    device : str or torch.device
        Where the model trains (``"cuda"`` for a GPU); the batches are drawn on the CPU.
    progress : bool
    metadata : dict, optional
        Stored in the model file beside the recipe (e.g. the data and the machine).

    Returns
    -------
    FitResult
    """
    device = torch.device(device)
    channels = 1 if images[0].dim() == 2 else images[0].shape[0]
    torch.manual_seed(recipe.seed)
    energy = UNetEnergy(recipe.widths, recipe.blocks, recipe.experts, in_channels=channels, sigma_min=recipe.sigma_min,
                        sigma_max=recipe.sigma_max, generator=torch.Generator().manual_seed(recipe.seed)).to(device)
    stream = on_device(PatchStream(images, recipe.patch, augment=True), device)
    loss = functools.partial(noise_conditional_loss, margin=0)
    curve = _ValidationCurve(Path(out) / "validation.csv", validation, recipe.validate_every, resume)
    if not resume or not (Path(out) / "run.json").is_file():  # the run's record, kept beside its checkpoints
        write_json(Path(out) / "run.json", {"recipe": recipe.to_dict(), **(metadata or {})})
    return fit(energy, stream, loss, run_dir=out, resume=resume, progress=progress, callback=curve,
               steps=recipe.steps, batch_size=recipe.batch, lr=recipe.lr, seed=recipe.seed,
               log_every=math.gcd(50, recipe.validate_every),  # the curve's steps are logged steps
               checkpoint_every=250, metadata={"recipe": recipe.to_dict(), **(metadata or {})})


def tweedie_psnr(energy: UNetEnergy, clean: Tensor, level: float, seed: int) -> float:
    """Mean PSNR (dB) of Tweedie's estimate ``y - sigma^2 dE_sigma/dy`` over ``clean`` (N, C, H, W) with noise of
    std ``level`` (seeded by ``seed``), clipped to [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    p = next(energy.parameters())
    psnrs = []
    for x in clean:
        x = x[None].to(p)
        y = x + level * torch.randn(x.shape, generator=g, dtype=x.dtype).to(p.device)
        _, grad = energy.at(level).energy_and_grad(y)
        mse = float(((y - level**2 * grad).clamp(0, 1) - x).pow(2).mean())
        psnrs.append(-10 * math.log10(mse))
    return sum(psnrs) / len(psnrs)


class _ValidationCurve:
    """The fit callback that appends ``step, hours, psnr_<level>...`` to ``path`` every ``every`` steps."""

    def __init__(self, path: Path, clean: Tensor | None, every: int, resume: bool) -> None:
        self.path, self.clean, self.every = path, clean, every
        self.hours0 = self._last_hours() if resume else 0.0
        self.t0 = time.perf_counter()
        if not resume and path.exists():
            path.unlink()

    def _last_hours(self) -> float:
        if not self.path.is_file():
            return 0.0
        rows = list(csv.DictReader(self.path.open()))
        return float(rows[-1]["hours"]) if rows else 0.0

    def __call__(self, step: int, loss: float, energy: UNetEnergy) -> None:
        if self.clean is None or not self.every or step % self.every:
            return
        energy.eval()
        row = {"step": step, "hours": round(self.hours0 + (time.perf_counter() - self.t0) / 3600, 4),
               "loss": loss}
        for level in VALIDATION_LEVELS:
            row[f"psnr_{level}"] = round(tweedie_psnr(energy, self.clean, level / 255, seed=level), 4)
        energy.train()
        new = not self.path.is_file()
        with self.path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)
