"""Restoration tasks: degradation operators and MAP solvers using an energy as the prior."""

from ._objective import BOUNDARIES, DEFAULT_BOUNDARY
from .denoise import denoise, denoise_energy_grad, psnr
from .operators import Denoising, Downsample
from .superres import superresolve, upscale_start

__all__ = ["BOUNDARIES", "DEFAULT_BOUNDARY", "Denoising", "Downsample", "denoise", "denoise_energy_grad", "superresolve", "upscale_start", "psnr"]
