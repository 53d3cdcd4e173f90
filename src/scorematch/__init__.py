"""scorematch: regularized score matching for energy-based image models (Kingma & LeCun, NIPS 2010), and image
restoration with them as priors.

>>> import scorematch as sm
>>> callable(sm.denoise) and callable(sm.restore) and callable(sm.load_prior)
True
"""

from . import datasets, energies, estimators
from .config import TrainConfig
from .derivatives import input_derivatives
from .energies import (
    DeepEnergy,
    Energy,
    FieldOfExperts,
    GaussianEnergy,
    LayeredEnergy,
    NoiseConditionalEnergy,
    ProductOfExperts,
    TwoLayerEnergy,
    UNetEnergy,
    laplacian_whitening_kernel,
)
from .estimators import (denoising_score_matching_loss, noise_conditional_loss, score_matching_loss,
                         sliced_score_matching_loss)
from .prior import ImagePrior, Presets, load_prior
from .restoration import denoise, estimate_noise, restore
from .pretrained import load_pretrained as load
from .serialization import ModelFileError, load_info, save
from .tasks import MAP, Blur, Denoising, Downsample, Inpaint, PaperSteps, Tweedie
from .train import DivergenceError, FitResult, fit
from .train import TrainingInterrupted

__version__ = "0.1.0"

__all__ = [
    "denoise",
    "restore",
    "estimate_noise",
    "load_prior",
    "ImagePrior",
    "Presets",
    "Blur",
    "Inpaint",
    "Downsample",
    "Denoising",
    "MAP",
    "Tweedie",
    "PaperSteps",
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
    "UNetEnergy",
    "NoiseConditionalEnergy",
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
