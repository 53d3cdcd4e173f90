"""Contrastive divergence (Hinton 2002), with a real MCMC sampler for the negative phase."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Union

import torch
from torch import Tensor

from ..energies.base import Energy
from ..samplers import ChainResult, StepSizeController, hmc, langevin

__all__ = ["contrastive_divergence_loss"]

SamplerFn = Callable[..., Union[ChainResult, Tensor]]


def contrastive_divergence_loss(
    energy: Energy,
    x: Tensor,
    *,
    sampler: Literal["hmc", "langevin"] | SamplerFn = "hmc",
    steps: int = 1,
    step_size: float | StepSizeController = 0.1,
    n_leapfrog: int = 30,
    generator: torch.Generator | None = None,
) -> Tensor:
    """CD-k surrogate loss: ``mean E(x) - mean E(x_k)``, with ``x_k`` k MCMC transitions from the data.

    .. math::

        J = \\frac1B \\sum_b E(x_b) - \\frac1B \\sum_b E(\\tilde x_b), \\qquad
        \\tilde x \\sim T^k(\\cdot \\mid x)

    The negative samples are detached, so the gradient w.r.t. the parameters is the CD-k estimate of
    the log-likelihood gradient, :math:`\\langle \\partial E / \\partial w\\rangle_{data} -
    \\langle \\partial E / \\partial w\\rangle_{T^k}`. The loss *value* is not a likelihood and can be
    negative; its sign says whether the chains moved to higher (positive loss) or lower energy.

    Parameters
    ----------
    energy : Energy
    x : Tensor, shape (B, ...)
        Data batch; also the chains' starting points.
    sampler : {"hmc", "langevin"} or callable
        The transition kernel: Hamiltonian Monte Carlo (:func:`scorematch.samplers.hmc`, as Roth &
        Black 2005 did), Metropolis-adjusted Langevin (:func:`scorematch.samplers.langevin`), or a
        callable ``sampler(energy, x, *, generator) -> Tensor or ChainResult``.
    steps : int
        k, the transitions per chain (CD-1: 1).
    step_size : float or StepSizeController
        The sampler's step size; a :class:`~scorematch.samplers.StepSizeController` is updated with
        the measured acceptance rate after each call.
    n_leapfrog : int
        Leapfrog steps per HMC transition.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import torch, scorematch
    >>> from scorematch.estimators import contrastive_divergence_loss
    >>> g = torch.Generator().manual_seed(0)
    >>> loss = contrastive_divergence_loss(scorematch.GaussianEnergy(2), torch.randn(16, 2),
    ...                                    sampler="langevin", step_size=0.5, generator=g)
    >>> loss.shape
    torch.Size([])
    """
    if x.dim() < 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch of shape (B, ...), got {tuple(x.shape)}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    controller = step_size if isinstance(step_size, StepSizeController) else None
    eps = controller.value if controller is not None else float(step_size)
    x = x.detach()
    if sampler == "hmc":
        out: ChainResult | Tensor = hmc(energy, x, step_size=eps, n_leapfrog=n_leapfrog, n_steps=steps,
                                        generator=generator)
    elif sampler == "langevin":
        out = langevin(energy, x, step_size=eps, n_steps=steps, generator=generator)
    elif callable(sampler):
        out = sampler(energy, x, generator=generator)
    else:
        raise ValueError(f'sampler must be "hmc", "langevin" or a callable, got {sampler!r}')
    if isinstance(out, ChainResult):
        negatives = out.samples
        if controller is not None:
            controller.update(float(out.acceptance.mean()))
    else:
        negatives = out
    negatives = negatives.detach()
    return energy.energy(x).mean() - energy.energy(negatives).mean()
