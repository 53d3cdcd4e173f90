"""Restoration tasks: degradation operators and one MAP solver using an energy as the prior."""

from . import lbfgs
from ._objective import BOUNDARIES, DEFAULT_BOUNDARY
from ..metrics import psnr
from .denoise import denoise
from .operators import BLUR_BOUNDARIES, Blur, Denoising, Downsample, Inpaint, LinearOperator
from .restore import objective_and_grad, restore
from .superres import superresolve, upscale_start
from .tweedie import tweedie_denoise

__all__ = ["BOUNDARIES", "BLUR_BOUNDARIES", "DEFAULT_BOUNDARY", "LinearOperator", "Denoising", "Downsample", "Blur",
           "Inpaint", "restore", "objective_and_grad", "denoise", "tweedie_denoise", "superresolve", "upscale_start", "psnr", "lbfgs"]
