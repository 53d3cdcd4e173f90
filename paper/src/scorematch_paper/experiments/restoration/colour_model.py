"""The bundled colour prior (``pretrained/foe_colour_5x5x24``): a :class:`~scorematch.energies.ColourFoE` trained by
regularized score matching on colour patches of the training part of ``data/bsds300-train``
(:func:`~scorematch.datasets.colour_split`), its prior weight per noise level chosen on the tuning crops.

Recreate the bundled file (``torch.set_num_threads(1)``)::

    PYTHONPATH=src:paper/src python -c "import torch; torch.set_num_threads(1); \\
    from scorematch_paper.experiments.restoration.colour_model import build_colour_model; \\
    build_colour_model('src/scorematch/pretrained/foe_colour_5x5x24.safetensors')"
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from torch import Tensor

from scorematch.datasets.colour import COLOUR_SET, TUNE_INDICES, colour_crops, colour_split
from scorematch.datasets.patches import load_images
from scorematch.energies.base import Energy
from scorematch.prior import DEFAULT_BOUNDARY, DenoisePreset, ImagePrior, Presets
from scorematch.priors import FoERecipe, train_image_foe
from scorematch.serialization import save
from scorematch.tasks import MAP, denoise
from scorematch_paper.experiments.restoration.data import frozen, mean_psnr, noise, noise_seed
from scorematch_paper.experiments.restoration.tuning import climb
from scorematch_paper.paths import data_dir

__all__ = ["COLOUR_PRIOR", "COLOUR_RECIPE", "COLOUR_LEVELS", "COLOUR_WEIGHTS", "TUNE_CROP", "build_colour_model",
           "train_colour_prior", "tune_weights", "tuning_noisy"]

COLOUR_PRIOR = "foe_colour_5x5x24"

#: The colour prior's recipe: the grey prior's (``experiments.restoration.RECIPE``: pixel-space RSM, lam 1e-5,
#: 64 patches of 24x24 per step, scale 20, LoG whitening sigma 0.5, free filter norms) with 3-channel filters
#: behind the colour transform ``colour``, trained as the bundled grey model was (Adam lr 0.05 cosine, 12000
#: steps). The transform and the steps were chosen on the tuning crops (see the model card).
COLOUR_RECIPE = FoERecipe(colour="opponent", lr=0.05, steps=12000)

#: Noise levels (1/256 units) whose prior weight is tuned.
COLOUR_LEVELS = (5, 15, 25)
#: Prior weights searched (a :func:`~scorematch_paper.experiments.restoration.tuning.climb` from the middle).
COLOUR_WEIGHTS = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0)
#: Side of the central crops of the tuning images.
TUNE_CROP = 128


def tuning_noisy(x: Tensor, level: int, name: str = "colour-tune") -> Tensor:
    """``x`` plus i.i.d. Gaussian noise of std ``level / 256`` per pixel and channel (seeded by name and level)."""
    return noise(x, level, noise_seed(name, level))


def tune_weights(prior: Energy, x: Tensor, levels=COLOUR_LEVELS, weights=COLOUR_WEIGHTS,
                 boundary: str = DEFAULT_BOUNDARY) -> dict[str, dict[str, float]]:
    """{level: {weight: mean PSNR}} over the images ``x`` (N, C, H, W) denoised at the weights a climb to the
    best one visits (one seeded noise draw per level)."""
    out = {}
    for lv in levels:
        y = tuning_noisy(x, lv)
        out[str(lv)] = climb(lambda w, y=y, lv=lv: mean_psnr(denoise(y, ImagePrior(prior, boundary=boundary),
                                                                     sigma=lv / 256, solver=MAP(weight=w)), x),
                             weights)
    return out


def train_colour_prior(recipe: FoERecipe = COLOUR_RECIPE, *, run_dir: str | os.PathLike | None = None,
                       progress: bool = False) -> tuple[Energy, float]:
    """Train ``recipe`` on the training images of the colour set; the prior and the training seconds."""
    t0 = time.perf_counter()
    images = load_images(colour_split(data_dir() / COLOUR_SET)["train"], colour=recipe.colour != "grey")
    prior = train_image_foe(images, recipe, holdout=None, run_dir=run_dir, progress=progress)
    return prior, time.perf_counter() - t0


def build_colour_model(path: str | os.PathLike, *, recipe: FoERecipe = COLOUR_RECIPE, progress: bool = False,
                       prior: Energy | None = None, train_seconds: float | None = None,
                       extra: dict[str, Any] | None = None) -> Path:
    """Train the colour prior (or take ``prior``), tune its weight per level on the tuning crops, save it."""
    if prior is None:
        prior, train_seconds = train_colour_prior(recipe, progress=progress)
    split = colour_split(data_dir() / COLOUR_SET)
    curves = tune_weights(frozen(prior), colour_crops(split["tune"], TUNE_CROP))
    best = {lv: float(max(c, key=c.get)) for lv, c in curves.items()}
    presets = Presets({int(lv) / 256: DenoisePreset(weight=w) for lv, w in best.items()},
                      source=f"MAP prior weights chosen on the colour split's tuning images ({TUNE_CROP}x{TUNE_CROP} "
                             "central crops, one noise draw per level)")
    meta = {"recipe": recipe.to_dict(), "train_seconds": train_seconds, "presets": presets.to_json(),
            "data": {"set": COLOUR_SET, "train": len(split["train"]), "heldout": [p.name for p in split["heldout"]],
                     "tune": [p.name for p in split["tune"]], "tune_indices": list(TUNE_INDICES)},
            "tuning": {"crop": TUNE_CROP, "boundary": DEFAULT_BOUNDARY, "psnr": curves}, **(extra or {})}
    return save(prior.float(), path, metadata=meta)
