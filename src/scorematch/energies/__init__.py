"""Energies: what the model is. ``Energy.energy(x) -> (B,)``."""

from .base import Energy, LayeredEnergy, NoiseConditionalEnergy, PaddedImageEnergy
from .colour_prior import ColourFoE
from .deep import ConditionedField, DeepEnergy
from .foe import FieldOfExperts, laplacian_whitening_kernel
from .gaussian import GaussianEnergy
from .image_prior import ImageFoE
from .layers import (Affine, Conv2d, CurvatureLayer, Elementwise, Linear, Log1p, Softplus, Square, StudentT,
                     WeightedSum)
from .experts import DEFAULT_C, StudentTExperts
from .poe import ProductOfExperts
from .twolayer import TwoLayerEnergy
from .unet import UNetEnergy, UNetField

__all__ = [
    "Energy",
    "LayeredEnergy",
    "NoiseConditionalEnergy",
    "PaddedImageEnergy",
    "ProductOfExperts",
    "FieldOfExperts",
    "TwoLayerEnergy",
    "GaussianEnergy",
    "ImageFoE",
    "ColourFoE",
    "DeepEnergy",
    "ConditionedField",
    "UNetEnergy",
    "UNetField",
    "laplacian_whitening_kernel",
    "DEFAULT_C",
    "StudentTExperts",
    "CurvatureLayer",
    "Linear",
    "Conv2d",
    "Elementwise",
    "StudentT",
    "Square",
    "Log1p",
    "Softplus",
    "Affine",
    "WeightedSum",
]
