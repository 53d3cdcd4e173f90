"""Denoising with an energy prior: MAP (Kingma & LeCun 2010, eq. 10, the identity case of
:func:`~scorematch.tasks.restore`), or Tweedie's posterior mean with a noise-conditional energy."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from ..energies.base import Energy
from ._objective import DEFAULT_BOUNDARY, check_channels, check_image_size, context_grad
from .operators import Denoising
from .restore import PAPER_ETA, annealed_steps, restore

__all__ = ["denoise", "tweedie_denoise", "field_denoise", "FIELD_STARTS", "is_noise_conditional", "denoising_method", "annealed_steps", "PAPER_ETA", "DENOISE_ITERS", "DENOISE_RTOL"]

#: L-BFGS iterations of :func:`denoise` (from :meth:`Denoising.start`), chosen on the tuning crops: the estimate
#: no longer improves after 30 iterations at 5/256, 60 at 15/256, 50 at 25/256 (see
#: :data:`~scorematch.tasks.operators.START_SMOOTHING`).
DENOISE_ITERS = 60
#: L-BFGS relative-decrease tolerance of :func:`denoise` (:func:`scorematch.tasks.lbfgs.minimize`), chosen on the
#: tuning crops (``benchmarks/denoise_start.py``): at 5/256 it stops after about 25 iterations, where the estimate
#: has converged; at 15 and 25/256 it does not stop before :data:`DENOISE_ITERS`.
DENOISE_RTOL = 3e-5
#: First estimates of :func:`field_denoise`.
FIELD_STARTS = ("smooth", "tweedie")


def _check(y: Tensor, energy: Energy, sigma: float, weight: float) -> None:
    if not isinstance(y, Tensor) or not y.is_floating_point():
        raise TypeError("y must be a floating-point tensor")
    if y.dim() != 4:
        raise ValueError(f"y must have shape (B, C, H, W), got {tuple(y.shape)}")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma}")
    if not weight >= 0:
        raise ValueError(f"weight must be >= 0, got {weight}")
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    check_channels(energy, y.shape[1])
    check_image_size(energy, y.shape[-2:])


def is_noise_conditional(energy: Energy) -> bool:
    """Whether ``energy`` is trained across noise levels (has ``at(sigma)``, e.g. a
    :class:`~scorematch.energies.DeepEnergy`)."""
    return callable(getattr(energy, "at", None))


def denoising_method(method: str, energy: Energy) -> str:
    """``method`` with ``"auto"`` resolved: ``"tweedie"`` for a noise-conditional energy, else ``"lbfgs"``."""
    if method != "auto":
        return method
    return "tweedie" if is_noise_conditional(energy) else "lbfgs"


def tweedie_denoise(y: Tensor, energy, *, sigma: float, boundary: str = DEFAULT_BOUNDARY,
                    tile: int | None = None) -> Tensor:
    """The posterior mean ``E[x | y] = y - sigma^2 dE_sigma/dy`` for ``y = x + sigma eps`` (Tweedie's formula).

    ``E_sigma`` is the energy of noisy images at level ``sigma`` (``energy.at(sigma)``, e.g. a
    :class:`~scorematch.energies.DeepEnergy` trained across noise levels), so where it fits that density the
    estimate is the minimum-mean-squared-error denoiser; it needs one gradient evaluation.

    Parameters
    ----------
    y : Tensor, shape (B, C, H, W)
        Noisy images on [0, 1]; a grey energy acts on each of the ``C`` channels.
    energy : DeepEnergy
        A noise-conditional energy (:func:`is_noise_conditional`).
    sigma : float
        The noise std on the [0, 1] scale.
    boundary, tile
        As for :func:`denoise`: the image is extended by the rule as context, so that the score at a border
        pixel sums the same windows as in the interior (:func:`~scorematch.tasks._objective.context_grad`; the
        gradient of the extended image's energy folded back, as MAP's objective has it, would count an edge
        pixel's copies as observations of it: ``benchmarks/tweedie_boundary.py``).

    Returns
    -------
    Tensor, shaped like ``y``
    """
    if not is_noise_conditional(energy):
        raise TypeError(f"Tweedie denoising needs a noise-conditional energy (with .at(sigma)), "
                        f"got {type(energy).__name__}")
    field = energy.at(float(sigma))
    _check(y, field, sigma, 1.0)  # also the image size against the field's support
    return y - sigma * sigma * context_grad(field, y, boundary=boundary, tile=tile)


def denoise(
    y: Tensor,
    energy: Energy,
    *,
    sigma: float,
    method: Literal["auto", "lbfgs", "paper", "tweedie"] = "auto",
    weight: float = 1.0,
    n_iter: int | None = None,
    history: int = 10,
    tol: float = 1e-6,
    rtol: float = DENOISE_RTOL,
    eta: tuple[float, float] = PAPER_ETA,
    step_scale: float | None = None,
    tile: int | None = None,
    boundary: str = DEFAULT_BOUNDARY,
    start: Tensor | None = None,
    progress: bool = False,
) -> Tensor:
    """MAP estimate ``argmin_x  w E(x) + |x - y|^2 / (2 sigma^2)`` of a clean image under Gaussian noise.

    .. math::

        \\nabla_x \\log p(x \\mid y) = -w \\nabla_x E(x) + (y - x) / \\sigma^2      \\quad\\text{(eq. 10)}

    Parameters
    ----------
    y : Tensor, shape (B, C, H, W), range about [0, 1]
        Noisy images (not clipped or quantized); a grey prior acts on each of the ``C`` channels.
    energy : Energy
        The prior on [0, 1] images, e.g. :class:`~scorematch.energies.ImageFoE`.
    sigma : float
        Noise standard deviation on the [0, 1] scale (e.g. ``5/256``).
    method : {"auto", "lbfgs", "paper", "tweedie"}
        ``"auto"`` (default): ``"tweedie"`` for a noise-conditional energy (:func:`is_noise_conditional`), else
        ``"lbfgs"``. ``"tweedie"``: :func:`tweedie_denoise`, one gradient evaluation of ``E_sigma`` (``weight``
        and the solver's settings do not apply). ``"lbfgs"``: L-BFGS with a strong-Wolfe line search on the objective scaled by
        ``sigma^2`` (well conditioned: the data term's curvature becomes 1), starting from ``y`` smoothed
        a little (:meth:`~scorematch.tasks.Denoising.start`); stops after ``n_iter`` iterations (default
        :data:`DENOISE_ITERS`), when the largest gradient entry falls below ``tol`` or when the objective
        stalls (``rtol``). ``"paper"``: the
        paper's schedule, ``n_iter`` (default 300) steps ``x <- x - eta_t * step_scale * grad`` from
        ``x = y`` (as in the paper), ``eta_t`` geometric from ``eta[0]`` to ``eta[1]``.
    weight : float
        Prior weight ``w`` (1: the plain MAP estimate).
    n_iter : int, optional
    history : int
        L-BFGS memory (vectors kept).
    tol : float
        L-BFGS stopping threshold on the scaled gradient's largest entry.
    rtol : float
        L-BFGS stops when the objective's decrease over the last iterations falls below this fraction of it
        per iteration (:func:`scorematch.tasks.lbfgs.minimize`; 0: run all ``n_iter``).
    eta : (float, float)
        First and last step of the paper's schedule.
    step_scale : float, optional
        Multiplies the raw gradient of ``w E(x) + |x - y|^2 / (2 sigma^2)`` in the paper's steps. Default
        ``sigma**2``: steps preconditioned by the data term's curvature ``1 / sigma^2``, the reading of the
        paper's schedule that is stable on the [0, 1] scale (SPEC section 6); ``scorematch reproduce
        restoration`` reports it beside L-BFGS. ``1 / 255**2`` takes the steps in 0..255 pixel units, which
        barely moves the estimate at small ``sigma``; raw steps (``step_scale=1``) diverge for small
        ``sigma``: they must stay below ``2 sigma^2``.
    tile : int, optional
        Evaluate the prior's gradient in tiles of this many window positions (bounded memory for large
        images; equal to the untiled result up to rounding).
    boundary : {"replicate", "symmetric", "reflect", "valid"}
        How the prior treats the image border. ``"valid"``: the energy's own sum over the windows inside
        the image, which constrains the pixels near the border less. The others extend the image by the
        prior's support minus one (edge pixels repeated; mirrored with or without the edge pixel), so
        every pixel lies in as many windows as an interior one. Default ``"replicate"``: best on the
        tuning crops (RSM FoE 5x5x24 of 6,000 steps at 5 / 15 / 25 (/256), each at its best weight: 36.79 / 29.73 /
        26.66 dB against 36.52 / 28.99 / 25.70 for ``"valid"``; symmetric 36.76 / 29.66 / 26.59,
        reflect 36.76 / 29.64 / 26.59).
    start : Tensor, optional
        The first estimate, shaped like ``y`` (default: ``y`` smoothed a little with ``"lbfgs"``, ``y`` with
        ``"paper"``).
    progress : bool
        Show a progress bar of the objective evaluations on stderr.

    Returns
    -------
    Tensor, shaped and typed like ``y``

    Examples
    --------
    >>> import torch
    >>> from scorematch.energies import ImageFoE
    >>> prior = ImageFoE(4, 3, scale=255.0, whitening_size=3)
    >>> y = torch.rand(1, 1, 16, 16)
    >>> denoise(y, prior, sigma=5 / 256, n_iter=5).shape
    torch.Size([1, 1, 16, 16])
    """
    method = denoising_method(method, energy)
    if method == "tweedie":
        return tweedie_denoise(y, energy, sigma=sigma, boundary=boundary, tile=tile)
    _check(y, energy, sigma, weight)
    if n_iter is None and method == "lbfgs":
        n_iter = DENOISE_ITERS
    if start is None and method == "paper":
        start = y
    return restore(y, Denoising(sigma), energy, sigma=sigma, weight=weight, method=method, start=start, n_iter=n_iter,
                   history=history, tol=tol, rtol=rtol, eta=eta, step_scale=step_scale, tile=tile, boundary=boundary,
                   progress=progress)


def field_denoise(y: Tensor, energy, *, sigma: float, level: float, weight: float = 1.0, n_iter: int | None = None,
                  start: Literal["smooth", "tweedie"] = "smooth", tile: int | None = None,
                  boundary: str = DEFAULT_BOUNDARY, progress: bool = False) -> Tensor:
    """MAP denoising with the field of a noise-conditional energy as the prior: ``argmin_x w E_level(x) +
    |x - y|^2 / (2 sigma^2)`` by :func:`denoise` (L-BFGS).

    The field ``E_level`` (``energy.at(level)``, ``level`` usually a fraction of ``sigma``) is sharper than
    ``E_sigma``, whose one-gradient estimate :func:`tweedie_denoise` is; the weight ``w`` and the level are what
    :func:`scorematch.pretrained.recommended_denoiser` gives for a bundled model.

    Parameters
    ----------
    y : Tensor, shape (B, C, H, W)
        Noisy images on [0, 1]; a grey energy acts on each of the ``C`` channels.
    energy : DeepEnergy
        A noise-conditional energy (:func:`is_noise_conditional`).
    sigma : float
        The noise std on the [0, 1] scale.
    level : float
        The level of the field used as the prior, on the [0, 1] scale.
    weight : float
        Prior weight ``w``.
    n_iter : int, optional
        L-BFGS iterations at most (default :data:`DENOISE_ITERS`); stopped early as :func:`denoise` stops.
    start : {"smooth", "tweedie"}
        The first estimate: ``"smooth"``, ``y`` smoothed a little (:meth:`~scorematch.tasks.Denoising.start`);
        ``"tweedie"``, Tweedie's estimate at ``sigma`` (one gradient evaluation more), already close to the MAP
        estimate, so few iterations serve.
    tile, boundary, progress
        As for :func:`denoise`.

    Returns
    -------
    Tensor, shaped like ``y``

    Examples
    --------
    >>> import torch
    >>> from scorematch.energies import DeepEnergy
    >>> y = torch.rand(1, 1, 16, 16)
    >>> field_denoise(y, DeepEnergy(4, 2), sigma=0.1, level=0.02, start="tweedie", n_iter=3).shape
    torch.Size([1, 1, 16, 16])
    """
    if not is_noise_conditional(energy):
        raise TypeError(f"field_denoise needs a noise-conditional energy (with .at(sigma)), got {type(energy).__name__}")
    if start not in FIELD_STARTS:
        raise ValueError(f"start must be one of {FIELD_STARTS}, got {start!r}")
    if not (math.isfinite(level) and level > 0):
        raise ValueError(f"level must be a positive number, got {level}")
    x0 = None
    if start == "tweedie":
        with torch.no_grad():
            x0 = tweedie_denoise(y, energy, sigma=sigma, boundary=boundary, tile=tile)
    return denoise(y, energy.at(level), sigma=sigma, method="lbfgs", weight=weight, n_iter=n_iter, tile=tile,
                   boundary=boundary, start=x0, progress=progress)
