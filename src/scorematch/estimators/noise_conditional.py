"""Training a noise-conditional energy across noise levels with any score-matching estimator."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from ..draws import gaussian
from ..energies.base import NoiseConditionalEnergy
from ..validation import check_tensor
from .denoising import denoising_score_matching_loss

__all__ = ["noise_conditional_loss", "draw_levels"]


def draw_levels(n: int, sigma_min: float, sigma_max: float, *, like: Tensor,
                generator: torch.Generator | None = None) -> Tensor:
    """``n`` noise levels drawn log-uniformly in ``[sigma_min, sigma_max]``, shape (n,), dtype/device of ``like``."""
    u = torch.rand(n, generator=generator, dtype=torch.float64).to(device=like.device)
    lo, hi = torch.tensor([sigma_min, sigma_max], dtype=torch.float64).log()
    return (lo + (hi - lo) * u).exp().to(like.dtype)


def noise_conditional_loss(
    energy: Any,
    x: Tensor,
    *,
    estimator: Callable[..., Tensor] | None = None,
    generator: torch.Generator | None = None,
    **options: Any,
) -> Tensor:
    """``estimator`` on every noise level at once, for an energy conditioned on the noise std.

    Each sample ``x_b`` gets its own level ``sigma_b`` (log-uniform in the energy's
    ``[sigma_min, sigma_max]``, :func:`draw_levels`); the loss is computed in units of the noise,
    ``u_b = x_b / sigma_b``, on the energy ``F(u) = E_sigma(sigma u)`` (``energy.scaled(sigma)``), which weights
    each sample by ``sigma_b^2`` and puts the levels on one scale. The loss covers the patches' interior, the
    pixels at least ``support - 1`` from the border (``margin``), where the field's score is whole: fitting the
    incomplete border scores too biases the interior (a model trained on whole patches overshoots the noise
    inside them and falls short at the border: ``paper/benchmarks/deep_energy_noise_scale.py``).

    - :func:`~scorematch.estimators.denoising_score_matching_loss` (the default, ``estimator=None``) gets the clean ``u`` and adds
      the unit noise itself: ``1/2 |sigma grad E_sigma(x + sigma eps) - eps|^2``, Tweedie's target;
    - any other estimator (``score_matching_loss``, ``sliced_score_matching_loss``, ...) gets the noisy
      ``u + eps``: it fits the score of the noisy images, the same target, from their samples alone.

    Parameters
    ----------
    energy : NoiseConditionalEnergy
        E.g. a :class:`~scorematch.energies.DeepEnergy` or :class:`~scorematch.energies.UNetEnergy`.
    x : Tensor, shape (B, 1, H, W)
        Clean images (patches) on the energy's scale.
    estimator : callable, optional
        ``estimator(energy, x, *, generator, **options) -> scalar``; None: denoising score matching.
    generator : torch.Generator, optional
    **options
        Passed to ``estimator`` (e.g. ``lam``, ``method``); ``margin`` defaults to ``energy.support - 1`` for a
        window field (0 for an energy without a support, such as the padded :class:`~scorematch.energies.UNetEnergy`).

    Returns
    -------
    Tensor, scalar
    """
    if not isinstance(energy, NoiseConditionalEnergy):
        raise TypeError(f"energy must be a NoiseConditionalEnergy (with .scaled(sigma)), got {type(energy).__name__}")
    check_tensor("x", x, min_dim=2)
    sigma = draw_levels(x.shape[0], energy.sigma_min, energy.sigma_max, like=x, generator=generator)
    u = x / sigma.view(-1, *(1,) * (x.dim() - 1))
    field = energy.scaled(sigma)
    if "margin" not in options:  # a window field's incomplete border windows; none for other energies
        options["margin"] = 0 if energy.support is None else energy.support - 1
    if estimator is None or estimator is denoising_score_matching_loss:
        return denoising_score_matching_loss(field, u, sigma=1.0, generator=generator, **options)
    return estimator(field, u + gaussian(tuple(u.shape), like=u, generator=generator), generator=generator, **options)
