"""Restoration tasks: degradation operators, one MAP solver using an energy as the prior, Tweedie denoising
with a noise-conditional energy, and estimating an image's noise level."""

from . import lbfgs
from ._objective import BOUNDARIES, DEFAULT_BOUNDARY
from ..metrics import psnr
from .colour import opponent_denoise
from .denoise import denoise, denoising_method, field_denoise, is_noise_conditional, tweedie_denoise
from .noise_level import estimate_noise
from .operators import BLUR_BOUNDARIES, Blur, Denoising, Downsample, Inpaint, LinearOperator
from .restore import objective_and_grad, restore
from .superres import superresolve, upscale_start

__all__ = ["BOUNDARIES", "BLUR_BOUNDARIES", "DEFAULT_BOUNDARY", "LinearOperator", "Denoising", "Downsample", "Blur",
           "Inpaint", "restore", "objective_and_grad", "denoise", "tweedie_denoise", "field_denoise", "opponent_denoise", "is_noise_conditional",
           "denoising_method", "estimate_noise", "superresolve", "upscale_start", "psnr", "lbfgs"]
