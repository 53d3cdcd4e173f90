"""One MAP solver for every linear inverse problem ``y = A x + n`` with an energy prior.

With noise (``sigma > 0``) it minimizes ``w E(x) + |A x - y|^2 / (2 sigma^2)``; without (``sigma = 0``, an
operator with an exact constraint) it minimizes ``E(x)`` subject to ``A x = y``. Denoising
(:func:`~scorematch.tasks.denoise`) and super-resolution (:func:`~scorematch.tasks.superresolve`) are two cases.
"""

from __future__ import annotations

import logging
import math
from typing import Literal

import torch
from torch import Tensor

from ..energies.base import Energy
from ._objective import DEFAULT_BOUNDARY, check_channels, check_image_size, image_energy_and_grad
from . import lbfgs
from .operators import LinearOperator, as_operator

__all__ = ["restore", "objective_and_grad", "annealed_steps", "PAPER_ETA", "CONSTRAINED_SCALE", "EXACT_ITERS"]

log = logging.getLogger(__name__)

#: The paper's step-size annealing, first and last step (geometric in between).
PAPER_ETA = (2e-2, 5e-4)
#: Scale of the constrained objective ``E(P z)`` for L-BFGS (the prior's curvature in 0..255 units is order 1).
CONSTRAINED_SCALE = 1 / 255**2
#: L-BFGS iterations without noise (an exact constraint such as inpainting): chosen for the bundled FoE's inpainting
#: on the tuning crops by ``scorematch reproduce beyond`` (the largest of its grid 80, 200, 500).
EXACT_ITERS = 500


def annealed_steps(n: int, eta: tuple[float, float] = PAPER_ETA) -> list[float]:
    """``n`` step sizes decaying geometrically from ``eta[0]`` to ``eta[1]``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    a, b = eta
    if not (a > 0 and b > 0):
        raise ValueError(f"step sizes must be positive, got {eta}")
    return [a * (b / a) ** (t / max(n - 1, 1)) for t in range(n)]


def restore(
    y: Tensor,
    operator: LinearOperator,
    energy: Energy,
    *,
    sigma: float,
    weight: float = 1.0,
    method: Literal["lbfgs", "paper"] = "lbfgs",
    start: Tensor | None = None,
    n_iter: int | None = None,
    history: int = 10,
    tol: float | None = None,
    rtol: float = 0.0,
    eta: tuple[float, float] = PAPER_ETA,
    step_scale: float | None = None,
    tile: int | None = None,
    boundary: str = DEFAULT_BOUNDARY,
    progress: bool = False,
) -> Tensor:
    """MAP estimate of the image ``x`` behind ``y = A x + n``, ``n ~ N(0, sigma^2 I)``, under the prior ``E``.

    Parameters
    ----------
    y : Tensor, shape (B, C, h, w)
        The observation, on the [0, 1] scale (not clipped or quantized).
    operator : LinearOperator
        ``A`` (:mod:`~scorematch.tasks.operators`: :class:`Denoising`, :class:`Downsample`, :class:`Blur`,
        :class:`Inpaint`), or any object with ``A`` and ``A_adjoint`` methods such as a deepinv ``LinearPhysics``
        (:class:`~scorematch.tasks.operators.PhysicsOperator`).
    energy : Energy
        The prior on [0, 1] images of ``operator.image_size(h, w)``, with ``C`` channels.
    sigma : float
        Noise standard deviation; ``0`` solves ``min E(x)`` subject to ``A x = y`` (operators with
        ``exact = True``).
    weight : float
        Prior weight ``w`` (1: the plain MAP estimate; with ``sigma = 0`` it does not matter).
    method : {"lbfgs", "paper"}
        ``"lbfgs"`` (default): L-BFGS with a strong-Wolfe line search (:mod:`scorematch.tasks.lbfgs`), from
        ``start``, at most ``n_iter`` iterations (default 150 with noise, :data:`EXACT_ITERS` without) or until the
        largest gradient entry falls below ``tol`` (default 1e-6 with noise, 1e-7 without) or the objective stalls
        (``rtol``). With noise the objective is scaled by ``sigma^2`` (the data
        term's curvature becomes ``A^T A``, of order 1); without, L-BFGS runs on ``z -> E(P z)``, ``P`` the
        projection onto ``A x = y``, scaled by :data:`CONSTRAINED_SCALE`, and returns ``P z``.
        ``"paper"``: the paper's schedule, ``n_iter`` (default 300 with noise, 200 without) steps
        ``x <- x - eta_t * step_scale * grad`` (``eta_t`` geometric from ``eta[0]`` to ``eta[1]``; without noise
        each step is followed by the projection).
    start : Tensor, optional
        First estimate, shape of the image (default: ``operator.start(y)``, projected when ``sigma = 0``).
    n_iter, history, tol, rtol
        Iteration budget, L-BFGS memory, L-BFGS gradient tolerance, L-BFGS relative-decrease tolerance
        (:func:`scorematch.tasks.lbfgs.minimize`; 0: run to the budget or to ``tol``).
    eta : (float, float)
        First and last step of the paper's schedule.
    step_scale : float, optional
        Multiplies the raw gradient in the paper's steps: default ``sigma^2`` with noise (steps preconditioned by
        the data term's curvature, see :func:`~scorematch.tasks.denoise`); required without noise.
    tile, boundary
        How the prior's gradient is evaluated (:func:`~scorematch.tasks._objective.image_energy_and_grad`).
    progress : bool
        Show a progress bar of the objective evaluations on stderr.

    Returns
    -------
    Tensor, shape (B, C, H, W) with ``(H, W) = operator.image_size(h, w)``

    Examples
    --------
    >>> import torch
    >>> from scorematch.energies import ImageFoE
    >>> from scorematch.tasks import Blur
    >>> op = Blur(torch.ones(3, 3) / 9)
    >>> y = op.observe(torch.rand(1, 1, 16, 16), sigma=0.01, generator=torch.Generator().manual_seed(0))
    >>> restore(y, op, ImageFoE(4, 3, whitening_size=3), sigma=0.01, n_iter=5).shape
    torch.Size([1, 1, 16, 16])
    """
    operator = as_operator(operator)
    _check(y, operator, energy, sigma, weight, method)
    y = y.detach()
    x0 = (operator.start(y) if start is None else start.to(y)).detach()
    check_image_size(energy, x0.shape[-2:])
    if method == "paper" and sigma == 0 and step_scale is None:
        raise ValueError("the paper's steps without noise need a step_scale (e.g. superres.PAPER_STEP_SCALE)")
    defaults = {("paper", True): 200, ("paper", False): 300, ("lbfgs", True): EXACT_ITERS, ("lbfgs", False): 150}
    n_iter = n_iter or defaults[(method, sigma == 0)]
    with _Progress(n_iter if method == "paper" else lbfgs.max_evaluations(n_iter), progress) as bar:
        if sigma == 0:
            x0 = operator.project(x0, y)
            if method == "paper":
                return _paper_constrained(y, operator, energy, x0, n_iter=n_iter, eta=eta, step_scale=step_scale,
                                          tile=tile, boundary=boundary, bar=bar)
            return _lbfgs_constrained(y, operator, energy, x0, n_iter=n_iter, history=history,
                                      tol=1e-7 if tol is None else tol, rtol=rtol, tile=tile, boundary=boundary, bar=bar)
        if method == "paper":
            return _paper(y, operator, energy, x0, sigma=sigma, weight=weight, n_iter=n_iter, eta=eta,
                          step_scale=sigma * sigma if step_scale is None else step_scale, tile=tile,
                          boundary=boundary, bar=bar)
        return _lbfgs(y, operator, energy, x0, sigma=sigma, weight=weight, n_iter=n_iter, history=history,
                      tol=1e-6 if tol is None else tol, rtol=rtol, tile=tile, boundary=boundary, bar=bar)


class _Progress:
    """A tqdm bar of ``total`` objective evaluations on stderr when ``enabled``, else nothing (a context manager)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.bar = total, enabled, None

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc="restore", unit="eval", leave=False)
        return self

    def update(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


def _check(y: Tensor, operator: LinearOperator, energy: Energy, sigma: float, weight: float, method: str) -> None:
    if not isinstance(y, Tensor) or not y.is_floating_point() or y.dim() != 4:
        raise ValueError(f"y must be a floating-point tensor of shape (B, C, h, w), got "
                         f"{tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__}")
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    check_channels(energy, y.shape[1])
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a number >= 0, got {sigma}")
    if sigma == 0 and not operator.exact:
        raise ValueError(f"{type(operator).__name__} has no exact constraint: give the noise level sigma > 0")
    if not weight >= 0:
        raise ValueError(f"weight must be >= 0, got {weight}")
    if method not in ("lbfgs", "paper"):
        raise ValueError(f'method must be "lbfgs" or "paper", got {method!r}')


def objective_and_grad(x: Tensor, y: Tensor, operator: LinearOperator, energy: Energy, *, sigma: float,
                       weight: float = 1.0, tile: int | None = None,
                       boundary: str = DEFAULT_BOUNDARY) -> tuple[Tensor, Tensor]:
    """The scaled MAP objective ``F(x) = sigma^2 (w E(x) + |A x - y|^2 / (2 sigma^2))`` and its gradient.

    Returns
    -------
    value : Tensor, scalar (summed over the batch)
    grad : Tensor, shaped like ``x``
    """
    e, g = image_energy_and_grad(energy, x, tile=tile, boundary=boundary)
    r = operator.A(x) - y
    s2 = sigma * sigma
    value = s2 * weight * e.sum() + 0.5 * (r * r).sum()
    return value, s2 * weight * g + operator.A_adjoint(r)


def _paper(y, operator, energy, x, *, sigma, weight, n_iter, eta, step_scale, tile, boundary, bar) -> Tensor:
    s2 = sigma * sigma
    for step in annealed_steps(n_iter, eta):
        bar.update()
        _, g = objective_and_grad(x, y, operator, energy, sigma=sigma, weight=weight, tile=tile, boundary=boundary)
        x = x - (step * step_scale / s2) * g
        _check_finite(x, step, step_scale, f", sigma={sigma:.4g}")
    return x


def _paper_constrained(y, operator, energy, x, *, n_iter, eta, step_scale, tile, boundary, bar) -> Tensor:
    for step in annealed_steps(n_iter, eta):
        bar.update()
        _, g = image_energy_and_grad(energy, x, tile=tile, boundary=boundary)
        x = operator.project(x - step * step_scale * g, y)
        _check_finite(x, step, step_scale, "")
    return x


def _check_finite(x: Tensor, step: float, step_scale: float, extra: str) -> None:
    if not torch.isfinite(x).all():
        raise FloatingPointError(f"the paper's gradient steps diverged (eta={step:.3g}, step_scale={step_scale:.3g}"
                                 f"{extra}); use a smaller step_scale or method='lbfgs'")


def _lbfgs(y, operator, energy, x0, *, sigma, weight, n_iter, history, tol, rtol, tile, boundary, bar) -> Tensor:
    def fun(x: Tensor) -> tuple[Tensor, Tensor]:
        bar.update()
        return objective_and_grad(x, y, operator, energy, sigma=sigma, weight=weight, tile=tile, boundary=boundary)

    result = lbfgs.minimize(fun, x0, max_iter=n_iter, history=history, tol_grad=tol,
                            tol_change=1e-12, rtol=rtol)
    log.info("L-BFGS restoration: %d iterations, %d evaluations", result.n_iter, result.n_eval)
    return result.x


def _lbfgs_constrained(y, operator, energy, x0, *, n_iter, history, tol, rtol, tile, boundary, bar) -> Tensor:
    zero = torch.zeros_like(y)

    def fun(z: Tensor) -> tuple[Tensor, Tensor]:
        bar.update()
        e, g = image_energy_and_grad(energy, operator.project(z, y), tile=tile, boundary=boundary)
        return CONSTRAINED_SCALE * e.sum(), CONSTRAINED_SCALE * operator.project(g, zero)  # P^T g: P is symmetric

    result = lbfgs.minimize(fun, x0, max_iter=n_iter, history=history, tol_grad=tol,
                            tol_change=1e-14, rtol=rtol)
    return operator.project(result.x, y)
