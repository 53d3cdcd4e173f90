"""Restoration tasks: degradation operators, one MAP solver using a prior, Tweedie's estimate with a noise-conditional
prior, denoising as a prior's presets prescribe, and estimating an image's noise level."""

from . import lbfgs
from ..metrics import psnr
from .colour import opponent_denoise
from .denoise import denoise
from .noise_level import estimate_noise
from .operators import BLUR_BOUNDARIES, Blur, Denoising, Downsample, Inpaint, LinearOperator, upscale_start
from .restore import objective_and_grad, restore
from .solvers import MAP, PaperSteps, Solver, Tweedie
from .superres import superresolve
from .tweedie import tweedie

__all__ = ["BLUR_BOUNDARIES", "LinearOperator", "Denoising", "Downsample", "Blur", "Inpaint", "restore",
           "objective_and_grad", "denoise", "tweedie", "estimate_noise", "opponent_denoise", "superresolve", "upscale_start", "MAP",
           "PaperSteps", "Tweedie", "Solver", "psnr", "lbfgs"]
