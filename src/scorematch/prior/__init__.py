"""Image priors: an energy with its boundary rule, tiling, channel policy, noise levels and presets
(:class:`ImagePrior`, :func:`load_prior`), and how it is evaluated on whole images (:mod:`.evaluation`)."""

from .evaluation import BOUNDARIES, extend, fold
from .image_prior import (AUTO_TILE, AUTO_TILE_PIXELS, DEFAULT_BOUNDARY, DEFAULT_PRIORS, PADDED_BOUNDARY, ImagePrior,
                          as_prior, default_prior, load_prior)
from .presets import PRESETS_VERSION, TASKS, DenoisePreset, Presets, PresetsError, TaskPreset

__all__ = ["ImagePrior", "load_prior", "as_prior", "default_prior", "DEFAULT_PRIORS", "Presets", "DenoisePreset", "TaskPreset", "PresetsError",
           "PRESETS_VERSION", "TASKS", "BOUNDARIES", "DEFAULT_BOUNDARY", "PADDED_BOUNDARY", "AUTO_TILE", "AUTO_TILE_PIXELS", "extend",
           "fold"]
