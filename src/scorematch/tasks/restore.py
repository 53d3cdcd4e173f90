"""One MAP solver for every linear inverse problem ``y = A x + n`` with an energy prior.

With noise (``sigma > 0``) it minimizes ``w E(x) + |A x - y|^2 / (2 sigma^2)``; without (``sigma = 0``, an
operator with an exact constraint) it minimizes ``E(x)`` subject to ``A x = y``. Denoising
(:func:`~scorematch.tasks.denoise`) and super-resolution (:func:`~scorematch.tasks.superresolve`) are two cases.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import Tensor

from ..energies.base import Energy
from ..prior import ImagePrior, as_prior
from . import lbfgs
from .operators import Downsample, LinearOperator, as_operator, upscale_start
from .solvers import (DEFAULT_ITERATIONS, DENOISE_RTOL, MAP, PAPER_ETA, PAPER_ITERATIONS, PAPER_STEP_SCALE,
                      PaperSteps, Tweedie, resolve)
from .tweedie import tweedie

__all__ = ["restore", "objective_and_grad", "annealed_steps", "CONSTRAINED_SCALE"]

log = logging.getLogger(__name__)

#: Scale of the constrained objective ``E(P z)`` for L-BFGS (the prior's curvature in 0..255 units is order 1).
CONSTRAINED_SCALE = 1 / 255**2


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
    prior: ImagePrior | Energy,
    *,
    sigma: float,
    solver: MAP | PaperSteps | None = None,
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
    prior : ImagePrior or Energy
        The prior on [0, 1] images of ``operator.image_size(h, w)`` (an energy gets the default rules of
        :class:`~scorematch.prior.ImagePrior`); a grey prior acts on each of the ``C`` channels.
    sigma : float
        Noise standard deviation; ``0`` solves ``min E(x)`` subject to ``A x = y`` (operators with
        ``exact = True``).
    solver : MAP or PaperSteps, optional
        The solver and its settings; what it leaves unset comes from the prior's presets for the operator's task
        (:attr:`~scorematch.tasks.operators.LinearOperator.task`), then the defaults. Default :class:`MAP`. With
        noise the L-BFGS objective is scaled by ``sigma^2`` (the data term's curvature becomes ``A^T A``, of order
        1); without, L-BFGS runs on ``z -> E(P z)``, ``P`` the projection onto ``A x = y``, scaled by
        :data:`CONSTRAINED_SCALE`, and returns ``P z``.
    progress : bool
        Show a progress bar of the objective evaluations on stderr.

    Returns
    -------
    Tensor, shape (B, C, H, W) with ``(H, W) = operator.image_size(h, w)``

    Examples
    --------
    >>> import torch
    >>> from scorematch.energies import ImageFoE
    >>> from scorematch.tasks import Blur, MAP
    >>> op = Blur(torch.ones(3, 3) / 9)
    >>> y = op.observe(torch.rand(1, 1, 16, 16), sigma=0.01, generator=torch.Generator().manual_seed(0))
    >>> restore(y, op, ImageFoE(4, 3, whitening_size=3), sigma=0.01, solver=MAP(iterations=5)).shape
    torch.Size([1, 1, 16, 16])
    """
    operator, prior = as_operator(operator), as_prior(prior)
    _check(y, operator, sigma)
    solver = resolve(prior, operator.task, sigma, solver)
    if isinstance(solver, Tweedie):
        raise TypeError("Tweedie's estimate is a denoiser: use scorematch.tasks.denoise (restore takes MAP or "
                        "PaperSteps)")
    level = solver.level if isinstance(solver, MAP) else None
    if prior.noise_conditional and not level:
        log.warning("%s is noise-conditional and no level of it is given for this task (no preset, no MAP(level=...)):"
                    " its energy at its lowest level %.3g is the prior", prior.name, prior.energy.sigma_min)
    field = prior.at(level) if prior.noise_conditional and level else prior.field()
    y = y.detach()
    kind = _problem(operator, sigma)
    x0 = _start(y, operator, prior, sigma, solver, kind).detach()
    field.check(y.shape[1], tuple(x0.shape[-2:]))
    weight = 1.0 if solver.weight is None else solver.weight
    if isinstance(solver, PaperSteps):
        n_iter = solver.iterations or PAPER_ITERATIONS[kind]
        step_scale = solver.step_scale or (PAPER_STEP_SCALE if kind == "superres" else None)
        if sigma == 0 and step_scale is None:
            raise ValueError("the paper's steps without noise need a step_scale (e.g. PaperSteps(step_scale=1e-2))")
        with _Progress(n_iter, progress) as bar:
            if sigma == 0:
                return _paper_constrained(y, operator, field, operator.project(x0, y), n_iter=n_iter, eta=solver.eta,
                                          step_scale=step_scale, bar=bar)
            return _paper(y, operator, field, x0, sigma=sigma, weight=weight, n_iter=n_iter, eta=solver.eta,
                          step_scale=sigma * sigma if step_scale is None else step_scale, bar=bar)
    n_iter = solver.iterations or DEFAULT_ITERATIONS[kind]
    rtol = solver.rtol if solver.rtol is not None else (DENOISE_RTOL if kind == "denoise" else 0.0)
    with _Progress(lbfgs.max_evaluations(n_iter), progress) as bar:
        if sigma == 0:
            return _lbfgs_constrained(y, operator, field, operator.project(x0, y), n_iter=n_iter,
                                      history=solver.history, tol=1e-7 if solver.tol is None else solver.tol,
                                      rtol=rtol, bar=bar)
        return _lbfgs(y, operator, field, x0, sigma=sigma, weight=weight, n_iter=n_iter, history=solver.history,
                      tol=1e-6 if solver.tol is None else solver.tol, rtol=rtol, bar=bar)


def _problem(operator: LinearOperator, sigma: float) -> str:
    """The kind of problem whose defaults apply: ``denoise``, ``superres``, ``noisy`` or ``exact``."""
    if operator.task == "denoise":
        return "denoise"
    if isinstance(operator, Downsample):
        return "superres"
    return "exact" if sigma == 0 else "noisy"


def _start(y: Tensor, operator: LinearOperator, prior: ImagePrior, sigma: float, solver, kind: str) -> Tensor:
    """The solver's first estimate (see :class:`~scorematch.tasks.solvers.MAP`'s ``start``)."""
    start = solver.start
    if isinstance(start, Tensor):
        return start.to(y)
    if start is None and isinstance(solver, PaperSteps):
        start = {"denoise": "noisy", "superres": "lowpass"}.get(kind, "operator")
    if start == "noisy":
        return y.clone()
    if start in ("lowpass", "bicubic"):
        if kind != "superres":
            raise ValueError(f"start={start!r} is a super-resolution's upscale; this is not a super-resolution")
        return upscale_start(y, factor=operator.factor, kind=start)
    if start == "tweedie":
        if kind != "denoise" or not prior.noise_conditional:
            raise ValueError("start='tweedie' needs denoising with a noise-conditional prior")
        with torch.no_grad():
            return tweedie(y, prior, sigma=sigma)
    return operator.start(y)


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


def _check(y: Tensor, operator: LinearOperator, sigma: float) -> None:
    if not isinstance(y, Tensor) or not y.is_floating_point() or y.dim() != 4:
        raise ValueError(f"y must be a floating-point tensor of shape (B, C, h, w), got "
                         f"{tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__}")
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a number >= 0, got {sigma}")
    if sigma == 0 and not operator.exact:
        raise ValueError(f"{type(operator).__name__} has no exact constraint: give the noise level sigma > 0")


def objective_and_grad(x: Tensor, y: Tensor, operator: LinearOperator, prior: ImagePrior, *, sigma: float,
                       weight: float = 1.0) -> tuple[Tensor, Tensor]:
    """The scaled MAP objective ``F(x) = sigma^2 (w E(x) + |A x - y|^2 / (2 sigma^2))`` and its gradient.

    Parameters
    ----------
    x : Tensor, shape (B, C, H, W)
        The estimate.
    y : Tensor
        The observation.
    operator : LinearOperator
    prior : ImagePrior
    sigma : float
    weight : float

    Returns
    -------
    value : Tensor, scalar (summed over the batch)
    grad : Tensor, shaped like ``x``
    """
    e, g = prior.energy_and_grad(x)
    r = operator.A(x) - y
    s2 = sigma * sigma
    value = s2 * weight * e.sum() + 0.5 * (r * r).sum()
    return value, s2 * weight * g + operator.A_adjoint(r)


def _paper(y, operator, prior, x, *, sigma, weight, n_iter, eta, step_scale, bar) -> Tensor:
    s2 = sigma * sigma
    for step in annealed_steps(n_iter, eta):
        bar.update()
        _, g = objective_and_grad(x, y, operator, prior, sigma=sigma, weight=weight)
        x = x - (step * step_scale / s2) * g
        _check_finite(x, step, step_scale, f", sigma={sigma:.4g}")
    return x


def _paper_constrained(y, operator, prior, x, *, n_iter, eta, step_scale, bar) -> Tensor:
    for step in annealed_steps(n_iter, eta):
        bar.update()
        _, g = prior.energy_and_grad(x)
        x = operator.project(x - step * step_scale * g, y)
        _check_finite(x, step, step_scale, "")
    return x


def _check_finite(x: Tensor, step: float, step_scale: float, extra: str) -> None:
    if not torch.isfinite(x).all():
        raise FloatingPointError(f"the paper's gradient steps diverged (eta={step:.3g}, step_scale={step_scale:.3g}"
                                 f"{extra}); use a smaller step_scale or method='lbfgs'")


def _lbfgs(y, operator, prior, x0, *, sigma, weight, n_iter, history, tol, rtol, bar) -> Tensor:
    def fun(x: Tensor) -> tuple[Tensor, Tensor]:
        bar.update()
        return objective_and_grad(x, y, operator, prior, sigma=sigma, weight=weight)

    result = lbfgs.minimize(fun, x0, max_iter=n_iter, history=history, tol_grad=tol,
                            tol_change=1e-12, rtol=rtol)
    log.info("L-BFGS restoration: %d iterations, %d evaluations", result.n_iter, result.n_eval)
    return result.x


def _lbfgs_constrained(y, operator, prior, x0, *, n_iter, history, tol, rtol, bar) -> Tensor:
    zero = torch.zeros_like(y)

    def fun(z: Tensor) -> tuple[Tensor, Tensor]:
        bar.update()
        e, g = prior.energy_and_grad(operator.project(z, y))
        return CONSTRAINED_SCALE * e.sum(), CONSTRAINED_SCALE * operator.project(g, zero)  # P^T g: P is symmetric

    result = lbfgs.minimize(fun, x0, max_iter=n_iter, history=history, tol_grad=tol,
                            tol_change=1e-14, rtol=rtol)
    return operator.project(result.x, y)
