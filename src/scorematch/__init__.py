"""scorematch: regularized score matching for energy-based image models (Kingma & LeCun, NIPS 2010)."""

from . import datasets, energies, estimators
from .config import TrainConfig
from .derivatives import input_derivatives
from .energies import (
    DeepEnergy,
    Energy,
    FieldOfExperts,
    GaussianEnergy,
    LayeredEnergy,
    ProductOfExperts,
    TwoLayerEnergy,
    laplacian_whitening_kernel,
)
from .estimators import (denoising_score_matching_loss, noise_conditional_loss, score_matching_loss,
                         sliced_score_matching_loss)
from .serialization import ModelFileError, load, load_info, save
from .train import DivergenceError, FitResult, fit
from .train import TrainingInterrupted

__version__ = "0.1.0"

__all__ = [
    "datasets",
    "energies",
    "estimators",
    "Energy",
    "LayeredEnergy",
    "ProductOfExperts",
    "FieldOfExperts",
    "TwoLayerEnergy",
    "GaussianEnergy",
    "DeepEnergy",
    "laplacian_whitening_kernel",
    "input_derivatives",
    "score_matching_loss",
    "sliced_score_matching_loss",
    "denoising_score_matching_loss",
    "noise_conditional_loss",
    "fit",
    "FitResult",
    "DivergenceError",
    "TrainingInterrupted",
    "TrainConfig",
    "save",
    "load",
    "load_info",
    "ModelFileError",
    "__version__",
]
