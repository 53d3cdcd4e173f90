"""MCMC samplers for energies: Metropolis-adjusted Langevin (MALA) and Hamiltonian Monte Carlo (HMC).

Both take the energy as an argument and treat every batch element as an independent chain with its own
accept/reject decision, so ``x0`` of shape (B, ...) runs B chains of the density ``exp(-E(x)) / Z``.
Each transition leaves that density invariant (detailed balance), whatever the step size; the step
size only changes the acceptance rate and the mixing speed.

They are used as the negative phase of contrastive divergence
(:func:`scorematch.estimators.contrastive_divergence_loss`) and to draw samples from trained models.
"""

from __future__ import annotations

import logging
import math
from typing import NamedTuple

import torch
from torch import Tensor

from .draws import gaussian, uniform
from .energies.base import Energy

__all__ = ["ChainResult", "langevin", "hmc", "StepSizeController", "draw_samples"]

logger = logging.getLogger(__name__)


class ChainResult(NamedTuple):
    """Output of a sampler.

    Attributes
    ----------
    samples : Tensor, shape like ``x0``
        The chains' states after the last transition (detached).
    acceptance : Tensor, shape (B,)
        Fraction of accepted proposals per chain, over all transitions.
    """

    samples: Tensor
    acceptance: Tensor


def _check(x0: Tensor, step_size: float, n_steps: int) -> None:
    if not isinstance(x0, Tensor) or not x0.is_floating_point() or x0.dim() < 1 or x0.shape[0] == 0:
        raise ValueError("x0 must be a non-empty floating-point tensor of shape (B, ...)")
    if not (step_size > 0 and math.isfinite(step_size)):
        raise ValueError(f"step_size must be a positive finite number, got {step_size}")
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")


def _sum_rest(t: Tensor) -> Tensor:
    return t.flatten(1).sum(1)  # (B, ...) -> (B,)


def _accept(log_ratio: Tensor, generator: torch.Generator | None) -> Tensor:
    """Metropolis test per chain: ``u < exp(log_ratio)``; NaN ratios are rejected."""
    u = uniform(tuple(log_ratio.shape), like=log_ratio, generator=generator)
    return torch.log(u) < torch.nan_to_num(log_ratio, nan=-math.inf)


def _select(mask: Tensor, new: Tensor, old: Tensor) -> Tensor:
    return torch.where(mask.view(-1, *([1] * (new.dim() - 1))), new, old)


def langevin(
    energy: Energy,
    x0: Tensor,
    *,
    step_size: float,
    n_steps: int = 1,
    metropolis: bool = True,
    generator: torch.Generator | None = None,
) -> ChainResult:
    """Metropolis-adjusted Langevin transitions (MALA; unadjusted Langevin if ``metropolis=False``).

    Proposal, with ``eps = step_size``:

    .. math:: x' = x - \\frac{\\epsilon^2}{2} \\nabla E(x) + \\epsilon \\xi, \\quad \\xi \\sim N(0, I),

    accepted with probability :math:`\\min(1, e^{E(x) - E(x')} q(x | x') / q(x' | x))`, where
    :math:`q(x'|x) \\propto \\exp(-|x' - x + \\frac{\\epsilon^2}{2}\\nabla E(x)|^2 / 2\\epsilon^2)`.

    Parameters
    ----------
    energy : Energy
        ``energy(x) -> (B,)``.
    x0 : Tensor, shape (B, ...)
        Initial states, one chain per batch element.
    step_size : float
        ``eps`` (the noise std of a proposal).
    n_steps : int
        Transitions per chain.
    metropolis : bool
        Accept/reject (exact invariance); False gives the biased unadjusted Langevin algorithm.
    generator : torch.Generator, optional

    Returns
    -------
    ChainResult
        ``samples`` shaped like ``x0`` and per-chain ``acceptance`` of shape (B,).

    Examples
    --------
    >>> import torch, scorematch
    >>> from scorematch.samplers import langevin
    >>> g = torch.Generator().manual_seed(0)
    >>> out = langevin(scorematch.GaussianEnergy(2), torch.zeros(5, 2), step_size=0.5, generator=g)
    >>> out.samples.shape, out.acceptance.shape
    (torch.Size([5, 2]), torch.Size([5]))
    """
    _check(x0, step_size, n_steps)
    eps2 = step_size * step_size
    x = x0.detach().clone()
    e, g = energy.energy_and_grad(x)
    accepted = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for _ in range(n_steps):
        noise = gaussian(tuple(x.shape), like=x, generator=generator)
        prop = x - 0.5 * eps2 * g + step_size * noise
        if not metropolis:
            x = prop
            e, g = energy.energy_and_grad(x)
            accepted += 1
            continue
        e_new, g_new = energy.energy_and_grad(prop)
        fwd = _sum_rest(noise * noise)  # |x' - x + eps^2/2 g(x)|^2 / eps^2
        back = _sum_rest((x - prop + 0.5 * eps2 * g_new) ** 2) / eps2
        log_ratio = e - e_new - 0.5 * back + 0.5 * fwd
        ok = _accept(log_ratio, generator)
        x = _select(ok, prop, x)
        e = torch.where(ok, e_new, e)
        g = _select(ok, g_new, g)
        accepted += ok.to(x.dtype)
    return ChainResult(x, accepted / n_steps)


def hmc(
    energy: Energy,
    x0: Tensor,
    *,
    step_size: float,
    n_leapfrog: int = 10,
    n_steps: int = 1,
    generator: torch.Generator | None = None,
) -> ChainResult:
    """Hamiltonian (hybrid) Monte Carlo transitions with unit mass and leapfrog integration.

    Each transition draws a momentum ``p ~ N(0, I)``, integrates the dynamics of
    :math:`H(x, p) = E(x) + |p|^2 / 2` with ``n_leapfrog`` leapfrog steps of size ``step_size`` and
    accepts the end point with probability :math:`\\min(1, e^{H(x, p) - H(x', p')})`.
    Roth & Black (2005) trained their FoE by contrastive divergence with one such transition.

    Parameters
    ----------
    energy : Energy
    x0 : Tensor, shape (B, ...)
        Initial states, one chain per batch element.
    step_size : float
        Leapfrog step.
    n_leapfrog : int
        Leapfrog steps per transition.
    n_steps : int
        Transitions per chain.
    generator : torch.Generator, optional

    Returns
    -------
    ChainResult

    Examples
    --------
    >>> import torch, scorematch
    >>> from scorematch.samplers import hmc
    >>> g = torch.Generator().manual_seed(0)
    >>> hmc(scorematch.GaussianEnergy(3), torch.zeros(4, 3), step_size=0.3, generator=g).samples.shape
    torch.Size([4, 3])
    """
    _check(x0, step_size, n_steps)
    if n_leapfrog < 1:
        raise ValueError(f"n_leapfrog must be >= 1, got {n_leapfrog}")
    x = x0.detach().clone()
    e, g = energy.energy_and_grad(x)
    accepted = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for _ in range(n_steps):
        p = gaussian(tuple(x.shape), like=x, generator=generator)
        h0 = e + 0.5 * _sum_rest(p * p)
        xn, gn = x, g
        pn = p - 0.5 * step_size * gn
        for i in range(n_leapfrog):
            xn = xn + step_size * pn
            en, gn = energy.energy_and_grad(xn)
            if i < n_leapfrog - 1:
                pn = pn - step_size * gn
        pn = pn - 0.5 * step_size * gn
        h1 = en + 0.5 * _sum_rest(pn * pn)
        ok = _accept(h0 - h1, generator)
        x = _select(ok, xn, x)
        e = torch.where(ok, en, e)
        g = _select(ok, gn, g)
        accepted += ok.to(x.dtype)
    return ChainResult(x, accepted / n_steps)


class StepSizeController:
    """Adapts a sampler's step size between calls towards a target acceptance rate.

    After each call, ``step_size *= exp(rate * (acceptance - target))``. Adapting *between* chains
    keeps every single transition exactly invariant; use it for the negative phase of contrastive
    divergence (Roth & Black tuned the HMC step to keep the acceptance rate near 90 %), not for
    long-run sampling where the adaptation should stop.

    Parameters
    ----------
    initial : float
        Starting step size.
    target : float
        Target mean acceptance rate in (0, 1).
    rate : float
        Adaptation speed.
    bounds : (float, float)
        The step size is clipped to this range.
    """

    def __init__(
        self, initial: float, *, target: float = 0.9, rate: float = 0.5, bounds: tuple[float, float] = (1e-8, 1e8)
    ) -> None:
        if not initial > 0:
            raise ValueError(f"initial step size must be > 0, got {initial}")
        if not 0 < target < 1:
            raise ValueError(f"target acceptance must be in (0, 1), got {target}")
        self.value, self.target, self.rate, self.bounds = float(initial), float(target), float(rate), bounds
        self.last_acceptance = math.nan

    def update(self, acceptance: float) -> float:
        """Record a mean acceptance rate and return the new step size."""
        self.last_acceptance = float(acceptance)
        self.value *= math.exp(self.rate * (self.last_acceptance - self.target))
        self.value = min(max(self.value, self.bounds[0]), self.bounds[1])
        return self.value

    def __repr__(self) -> str:
        return f"StepSizeController(value={self.value:.4g}, target={self.target}, last={self.last_acceptance:.3f})"


def draw_samples(energy: Energy, x0: Tensor, *, kernel: str = "langevin", steps: int = 500,
                 burn_in: int | None = None, step_size: float = 0.05,
                 generator: torch.Generator | None = None) -> tuple[ChainResult, float]:
    """Samples of ``exp(-E)`` from chains started at ``x0`` (B, ...): ``burn_in`` transitions (default
    ``steps // 2``) that adapt the step size towards the kernel's usual acceptance (MALA 0.6, HMC with 10
    leapfrog steps 0.8), then the remaining ``steps - burn_in`` at the final step size, which keep the density
    exactly invariant.

    Returns
    -------
    result : ChainResult
        The samples and the acceptance rate of the last call.
    step_size : float
        The adapted step size.
    """
    if kernel not in ("langevin", "hmc"):
        raise ValueError(f"kernel must be 'langevin' or 'hmc', got {kernel!r}")
    burn = steps // 2 if burn_in is None else burn_in
    ctrl = StepSizeController(step_size, target=0.6 if kernel == "langevin" else 0.8)

    def run(x: Tensor, n: int) -> ChainResult:
        if kernel == "langevin":
            return langevin(energy, x, step_size=ctrl.value, n_steps=n, generator=generator)
        return hmc(energy, x, step_size=ctrl.value, n_leapfrog=10, n_steps=n, generator=generator)

    out = ChainResult(x0, torch.full(x0.shape[:1], math.nan, dtype=x0.dtype))
    for _ in range(burn):
        out = run(out.samples, 1)
        ctrl.update(float(out.acceptance.mean()))
    if steps - burn > 0:
        out = run(out.samples, steps - burn)
    return out, ctrl.value
