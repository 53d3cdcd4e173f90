"""Estimators: how an energy is fit. Each takes the energy as an argument and returns a scalar loss."""

from .contrastive import contrastive_divergence_loss
from .denoising import denoising_score_matching_loss
from .noise_conditional import draw_levels, noise_conditional_loss
from .nce import GaussianNoise, LogNormalized, nce_loss
from .score_matching import score_matching_loss
from .sliced import sliced_score_matching_loss

__all__ = [
    "score_matching_loss",
    "sliced_score_matching_loss",
    "denoising_score_matching_loss",
    "contrastive_divergence_loss",
    "noise_conditional_loss",
    "draw_levels",
    "nce_loss",
    "GaussianNoise",
    "LogNormalized",
]
