"""Denoising with a prior as its presets prescribe: Tweedie's posterior mean or MAP (Kingma & LeCun 2010, eq. 10,
the identity case of :func:`~scorematch.tasks.restore`), a colour image with a grey prior on its opponent channels."""

from __future__ import annotations

import math

from torch import Tensor

from ..energies.base import Energy
from ..prior import ImagePrior, as_prior
from .colour import opponent_denoise
from .operators import Denoising
from .restore import restore
from .solvers import MAP, PaperSteps, Tweedie, resolve
from .tweedie import tweedie

__all__ = ["denoise"]


def denoise(y: Tensor, prior: ImagePrior | Energy, *, sigma: float, solver: MAP | PaperSteps | Tweedie | None = None,
            progress: bool = False) -> Tensor:
    """Remove Gaussian noise of std ``sigma`` from ``y`` with ``prior``.

    .. math::

        \\nabla_x \\log p(x \\mid y) = -w \\nabla_x E(x) + (y - x) / \\sigma^2      \\quad\\text{(eq. 10)}

    Parameters
    ----------
    y : Tensor, shape (B, C, H, W), range about [0, 1]
        Noisy images (not clipped or quantized). A colour image (C = 3) with a grey prior is denoised on its
        luminance and two opponent-colour channels, each at its own noise level
        (:func:`~scorematch.tasks.colour.opponent_denoise`); a colour prior takes it whole.
    prior : ImagePrior or Energy
        The prior (an energy gets the default rules of :class:`~scorematch.prior.ImagePrior` and no presets).
    sigma : float
        Noise standard deviation on the [0, 1] scale (e.g. ``5/256``).
    solver : MAP, PaperSteps or Tweedie, optional
        How; what it leaves unset comes from the prior's denoising preset at ``sigma`` (the weight, the field's level,
        the iterations and start a noise-conditional prior's MAP needs), then the defaults. Default: the preset's
        solver; without presets, :class:`Tweedie` for a noise-conditional prior, else :class:`MAP`.
    progress : bool
        Show a progress bar of the objective evaluations on stderr.

    Returns
    -------
    Tensor, shaped and typed like ``y``

    Examples
    --------
    >>> import torch
    >>> from scorematch.energies import ImageFoE
    >>> from scorematch.tasks import MAP
    >>> prior = ImageFoE(4, 3, scale=255.0, whitening_size=3)
    >>> denoise(torch.rand(1, 1, 16, 16), prior, sigma=5 / 256, solver=MAP(iterations=5)).shape
    torch.Size([1, 1, 16, 16])
    """
    prior = as_prior(prior)
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    if isinstance(y, Tensor) and y.dim() == 4 and y.shape[1] == 3 and prior.in_channels == 1:
        return opponent_denoise(y, sigma, lambda z, s: _denoise(z, prior, s, solver, progress))
    return _denoise(y, prior, sigma, solver, progress)


def _denoise(y: Tensor, prior: ImagePrior, sigma: float, solver, progress: bool) -> Tensor:
    solver = resolve(prior, "denoise", sigma, solver)
    if isinstance(solver, Tweedie):
        return tweedie(y, prior, sigma=sigma)
    return restore(y, Denoising(sigma), prior, sigma=sigma, solver=solver, progress=progress)
