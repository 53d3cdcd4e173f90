"""The bundled default prior (``pretrained/foe_5x5x24``): trained with a recipe (:data:`~.settings.RECIPE` by
default), its prior weight per noise level chosen on the tuning crops."""

from __future__ import annotations

import os
import time
from pathlib import Path

from scorematch.energies.image_prior import ImageFoE
from scorematch.prior import DEFAULT_BOUNDARY, DenoisePreset, Presets
from scorematch.priors import FoERecipe, train_image_foe
from scorematch.serialization import save
from scorematch_paper.experiments.restoration.data import frozen, tune_set
from scorematch_paper.experiments.restoration.settings import LEVELS, RECIPE, TUNE_IMAGES, WEIGHTS
from scorematch_paper.experiments.restoration.tuning import weight_curve
from scorematch_paper.paths import data_dir


def build_default_model(path: str | os.PathLike, *, recipe: FoERecipe = RECIPE, progress: bool = False,
                        weights: tuple[float, ...] = WEIGHTS, levels: tuple[int, ...] = LEVELS,
                        prior: ImageFoE | None = None, train_seconds: float | None = None) -> Path:
    """Train an RSM FoE with ``recipe``, tune its prior weight per noise level, save it to ``path``.

    The prior weights (the file's denoising presets, :class:`~scorematch.prior.Presets`) are chosen on the central
    128x128 crops of :data:`TUNE_IMAGES` (one noise draw per level); ``scorematch denoise`` uses the entry
    nearest to its ``--sigma``. This is how ``scorematch/pretrained/foe_5x5x24.safetensors`` (``recipe=RECIPE.replace(lr=0.05,
    steps=12000)``, the recipe before 2026-12-07) and ``foe_8x8x64.safetensors`` (``recipe=RECIPE_8X8X64``) were
    made.
    """
    t0 = time.perf_counter()
    if prior is None:  # (``prior``: a model already trained by ``train_image_foe("train400", recipe)``)
        prior = train_image_foe(data_dir() / "train400", recipe, progress=progress)
        train_seconds = time.perf_counter() - t0
    seconds = train_seconds
    x = tune_set(128)
    curves = {str(lv): weight_curve(frozen(prior), x, lv, weights, None) for lv in levels}
    best = {lv: float(max(c, key=c.get)) for lv, c in curves.items()}
    presets = Presets({int(lv) / 256: DenoisePreset(weight=w) for lv, w in best.items()},
                      source="MAP prior weights chosen on the tuning crops (Set12 " + ", ".join(TUNE_IMAGES)
                      + ", 128x128, one noise draw per level)")
    meta = {"recipe": recipe.to_dict(), "holdout": 0.1, "train_seconds": seconds, "presets": presets.to_json(),
            "tuning": {"images": list(TUNE_IMAGES), "crop": 128, "boundary": DEFAULT_BOUNDARY, "psnr": curves}}
    return save(prior, path, metadata=meta)
