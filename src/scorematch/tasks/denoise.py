"""MAP denoising with an energy prior (Kingma & LeCun 2010, eq. 10)."""

from __future__ import annotations

import logging
import math
from typing import Literal

import torch
from torch import Tensor

from ..energies.base import Energy
from ._objective import DEFAULT_BOUNDARY, check_image_size, energy_and_grad

__all__ = ["denoise", "denoise_energy_grad", "psnr", "annealed_steps", "PAPER_ETA"]

log = logging.getLogger(__name__)

#: The paper's step-size annealing, first and last step (geometric in between).
PAPER_ETA = (2e-2, 5e-4)


def psnr(x: Tensor, reference: Tensor, *, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(range^2 / MSE)``, over all elements."""
    if x.shape != reference.shape:
        raise ValueError(f"shapes differ: {tuple(x.shape)} and {tuple(reference.shape)}")
    mse = torch.mean((x.double() - reference.double()) ** 2).item()
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def annealed_steps(n: int, eta: tuple[float, float] = PAPER_ETA) -> list[float]:
    """``n`` step sizes decaying geometrically from ``eta[0]`` to ``eta[1]``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    a, b = eta
    if not (a > 0 and b > 0):
        raise ValueError(f"step sizes must be positive, got {eta}")
    return [a * (b / a) ** (t / max(n - 1, 1)) for t in range(n)]


def denoise_energy_grad(
    x: Tensor, y: Tensor, energy: Energy, *, sigma: float, weight: float = 1.0, tile: int | None = None,
    boundary: str = DEFAULT_BOUNDARY,
) -> tuple[Tensor, Tensor]:
    """The scaled MAP objective ``F(x) = sigma^2 (w E(x) + |x - y|^2 / (2 sigma^2))`` and its gradient.

    ``tile`` and ``boundary``: see :func:`~scorematch.tasks._objective.energy_and_grad`.

    Returns
    -------
    value : Tensor, scalar (summed over the batch)
    grad : Tensor, shaped like ``x``
    """
    e, g = energy_and_grad(energy, x, tile=tile, boundary=boundary)
    r = x - y
    s2 = sigma * sigma
    value = s2 * weight * e.sum() + 0.5 * (r * r).sum()
    return value, s2 * weight * g + r


def _check(y: Tensor, energy: Energy, sigma: float, weight: float) -> None:
    if not isinstance(y, Tensor) or not y.is_floating_point():
        raise TypeError("y must be a floating-point tensor")
    if y.dim() != 4 or y.shape[1] != 1:
        raise ValueError(f"y must have shape (B, 1, H, W), got {tuple(y.shape)}")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma}")
    if not weight >= 0:
        raise ValueError(f"weight must be >= 0, got {weight}")
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    check_image_size(energy, y.shape[-2:])


def denoise(
    y: Tensor,
    energy: Energy,
    *,
    sigma: float,
    method: Literal["lbfgs", "paper"] = "lbfgs",
    weight: float = 1.0,
    n_iter: int | None = None,
    history: int = 10,
    tol: float = 1e-6,
    eta: tuple[float, float] = PAPER_ETA,
    step_scale: float | None = None,
    tile: int | None = None,
    boundary: str = DEFAULT_BOUNDARY,
) -> Tensor:
    """MAP estimate ``argmin_x  w E(x) + |x - y|^2 / (2 sigma^2)`` of a clean image under Gaussian noise.

    .. math::

        \\nabla_x \\log p(x \\mid y) = -w \\nabla_x E(x) + (y - x) / \\sigma^2      \\quad\\text{(eq. 10)}

    Parameters
    ----------
    y : Tensor, shape (B, 1, H, W), range about [0, 1]
        Noisy images (not clipped or quantized).
    energy : Energy
        The prior on [0, 1] images, e.g. :class:`~scorematch.energies.ImageFoE`.
    sigma : float
        Noise standard deviation on the [0, 1] scale (e.g. ``5/256``).
    method : {"lbfgs", "paper"}
        ``"lbfgs"`` (default): L-BFGS with a strong-Wolfe line search on the objective scaled by
        ``sigma^2`` (well conditioned: the data term's curvature becomes 1), starting from ``y``; stops
        after ``n_iter`` iterations (default 150) or when the largest gradient entry falls below
        ``tol``. ``"paper"``: the paper's schedule, ``n_iter`` (default 300) steps
        ``x <- x - eta_t * step_scale * grad`` from ``x = y``, ``eta_t`` geometric from ``eta[0]`` to
        ``eta[1]``.
    weight : float
        Prior weight ``w`` (1: the plain MAP estimate).
    n_iter : int, optional
    history : int
        L-BFGS memory (vectors kept).
    tol : float
        L-BFGS stopping threshold on the scaled gradient's largest entry.
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
    _check(y, energy, sigma, weight)
    y = y.detach()
    if method == "paper":
        return _paper(y, energy, sigma=sigma, weight=weight, n_iter=n_iter or 300, eta=eta,
                      step_scale=sigma * sigma if step_scale is None else step_scale, tile=tile, boundary=boundary)
    if method != "lbfgs":
        raise ValueError(f'method must be "lbfgs" or "paper", got {method!r}')
    return _lbfgs(y, energy, sigma=sigma, weight=weight, n_iter=n_iter or 150, history=history, tol=tol, tile=tile,
                  boundary=boundary)


def _paper(y: Tensor, energy: Energy, *, sigma, weight, n_iter, eta, step_scale, tile, boundary) -> Tensor:
    x = y.clone()
    s2 = sigma * sigma
    for step in annealed_steps(n_iter, eta):
        _, g = denoise_energy_grad(x, y, energy, sigma=sigma, weight=weight, tile=tile, boundary=boundary)
        x = x - (step * step_scale / s2) * g
        if not torch.isfinite(x).all():
            raise FloatingPointError(
                f"the paper's gradient steps diverged (eta={step:.3g}, step_scale={step_scale:.3g}, "
                f"sigma={sigma:.4g}); use a smaller step_scale or method='lbfgs'"
            )
    return x


def _lbfgs(y: Tensor, energy: Energy, *, sigma, weight, n_iter, history, tol, tile, boundary) -> Tensor:
    x = torch.nn.Parameter(y.clone())
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=n_iter, max_eval=int(n_iter * 1.25) + 1,
                            history_size=history, tolerance_grad=tol, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")
    n_eval = 0

    def closure() -> Tensor:
        nonlocal n_eval
        n_eval += 1
        with torch.no_grad():
            value, g = denoise_energy_grad(x.data, y, energy, sigma=sigma, weight=weight, tile=tile,
                                           boundary=boundary)
        x.grad = g
        return value

    opt.step(closure)
    log.info("L-BFGS denoising: %d evaluations", n_eval)
    return x.detach()
