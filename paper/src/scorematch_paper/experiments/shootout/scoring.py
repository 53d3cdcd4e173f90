"""What a shoot-out snapshot is worth: Tweedie's and MAP's PSNR on validation (or tuning) images, and the exact
score-matching loss on validation patches."""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable

import torch
from torch import Tensor

from scorematch.estimators import score_matching_loss
from scorematch.io.images import read_image
from scorematch.prior import ImagePrior, load_prior
from scorematch.tasks import denoise, psnr, tweedie
from scorematch_paper.experiments.restoration.data import heldout_images, image, noise, noise_seed
from scorematch_paper.experiments.restoration.settings import TUNE_IMAGES
from scorematch_paper.experiments.shootout.settings import LEVELS

#: The bundled prior whose denoising presets (MAP's weight, field level, iterations, start) every row's MAP uses.
MAP_PRESETS = "deep_energy"

Images = list[tuple[str, Tensor]]


def validation_images(limit: int | None, crop: int | None) -> Images:
    """(name, image (1, 1, H, W)) of the first ``limit`` validation images, cropped to ``crop`` (top left)."""
    out = []
    for name, file in heldout_images(limit):
        x = read_image(file, dtype=torch.float32)
        out.append((name, (x[:crop, :crop] if crop else x)[None, None]))
    return out


def tuning_images(crop: int) -> Images:
    """(name, central ``crop`` x ``crop`` crop) of the six tuning images."""
    return [(f"tune/{n}", image(n, crop)) for n in TUNE_IMAGES]


def tweedie_psnr(energy: torch.nn.Module, images: Images) -> dict[str, float | None]:
    """Mean PSNR of Tweedie's estimate per level of :data:`~.settings.LEVELS` (None where it is not finite)."""
    def restore(y: Tensor, sigma: float) -> Tensor:
        with torch.no_grad():
            return tweedie(y, energy, sigma=sigma)

    return mean_psnr(restore, images)


def map_psnr(energy: torch.nn.Module, images: Images) -> dict[str, float | None]:
    """Mean PSNR of the MAP estimate with the denoising presets of :data:`MAP_PRESETS` per level."""
    prior = ImagePrior(energy, presets=_presets())
    return mean_psnr(lambda y, sigma: denoise(y, prior, sigma=sigma), images)


@functools.cache
def _presets():
    return load_prior(MAP_PRESETS).presets


def mean_psnr(restore: Callable[[Tensor, float], Tensor], images: Images) -> dict[str, float | None]:
    scores: dict[int, list[float]] = {lv: [] for lv in LEVELS}
    for name, x in images:
        for lv in LEVELS:
            out = restore(noise(x, lv, noise_seed(name, lv, 0)), lv / 256)
            scores[lv].append(psnr(out.clamp(0, 1), x) if torch.isfinite(out).all() else math.nan)
    return {str(lv): _finite(statistics.mean(v)) for lv, v in scores.items()}


def loss_patches(images: Images, side: int, count: int) -> Tensor:
    """``count`` patches (count, 1, side, side) of ``images`` at seeded positions, one image after another."""
    g = torch.Generator().manual_seed(0)
    out = []
    for k in range(count):
        x = images[k % len(images)][1]
        i, j = (int(torch.randint(0, n - side + 1, (1,), generator=g)) for n in x.shape[-2:])
        out.append(x[0, :, i : i + side, j : j + side])
    return torch.stack(out)


def exact_loss(energy: torch.nn.Module, patches: Tensor) -> dict[str, float | None]:
    """The exact score-matching loss (eq. 2, the Hessian's diagonal computed whole, lambda = 0) of the noisy
    ``patches`` per level, in units of the noise (what every estimator fits: ``noise_conditional_loss``), on the
    patches' interior; seeded noise."""
    out = {}
    for lv in LEVELS:
        sigma = lv / 256
        g = torch.Generator().manual_seed(lv)
        u = patches / sigma + torch.randn(patches.shape, generator=g)
        field = energy.scaled(sigma)
        values = [float(score_matching_loss(field, u[b : b + 1], method="exact", margin=energy.support - 1).detach())
                  for b in range(len(u))]  # one patch at a time: the exact Hessian diagonal holds D copies of it
        out[str(lv)] = _finite(statistics.mean(values))
    return out


def _finite(v: float) -> float | None:
    return round(v, 4) if math.isfinite(v) else None
