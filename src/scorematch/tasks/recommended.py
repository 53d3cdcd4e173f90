"""Denoising as a model file recommends it: the weight, or the noise-conditional field and solver settings, that
were chosen on tuning images and stored in the file (:mod:`scorematch.pretrained`)."""

from __future__ import annotations

import os
from typing import Any, Literal

from torch import Tensor

from ..energies.base import Energy
from ..pretrained import recommended_denoiser, recommended_weight
from ._objective import DEFAULT_BOUNDARY, channels_of
from .colour import opponent_denoise
from .denoise import denoise, denoising_method, field_denoise

__all__ = ["recommended_denoise"]


def recommended_denoise(
    y: Tensor,
    energy: Energy,
    model: str | os.PathLike,
    *,
    sigma: float,
    method: Literal["auto", "lbfgs", "paper", "tweedie"] = "auto",
    weight: float | None = None,
    n_iter: int | None = None,
    tile: int | None = None,
    boundary: str = DEFAULT_BOUNDARY,
    progress: bool = False,
) -> tuple[Tensor, dict[str, Any]]:
    """``y`` denoised with the prior ``energy`` loaded from the file ``model``, as that file recommends: what
    ``scorematch denoise`` runs.

    With ``method="auto"`` a noise-conditional model whose file recommends a MAP denoiser
    (:func:`~scorematch.pretrained.recommended_denoiser`) runs :func:`field_denoise` with its level, weight,
    iterations and start; otherwise :func:`denoise` with ``method`` at the file's recommended weight
    (:func:`~scorematch.pretrained.recommended_weight`). A colour image and a grey prior: each decorrelated channel
    at its own noise level (:func:`~scorematch.tasks.colour.opponent_denoise`); a colour prior takes the colour
    image whole.

    Parameters
    ----------
    y : Tensor, shape (B, C, H, W)
        Noisy images on [0, 1].
    energy : Energy
        The prior, loaded from ``model`` (on the device and in the dtype to compute in).
    model : str or path
        A bundled model's name or a model file: where the recommendations are read.
    sigma : float
        The noise std on the [0, 1] scale.
    method, weight, n_iter
        As for :func:`denoise`; ``weight`` and ``n_iter`` override the file's (None: the file's).
    tile, boundary, progress
        As for :func:`denoise`.

    Returns
    -------
    x : Tensor, shaped like ``y``
    settings : dict
        What ran: ``method``, ``weight`` (not for Tweedie), ``level`` and ``start`` (a field); for a colour image
        with a grey prior ``{"colour": "opponent", "channels": [settings of each channel]}``.
    """
    solver = {"tile": tile, "boundary": boundary, "progress": progress}
    if y.dim() == 4 and y.shape[1] == 3 and channels_of(energy) == 1:
        channels: list[dict[str, Any]] = []

        def one(z: Tensor, s: float) -> Tensor:
            x, settings = _whole(z, energy, model, s, method, weight, n_iter, solver)
            channels.append(settings)
            return x

        return opponent_denoise(y, sigma, one), {"colour": "opponent", "channels": channels}
    return _whole(y, energy, model, sigma, method, weight, n_iter, solver)


def _whole(y: Tensor, energy: Energy, model, sigma: float, method: str, weight: float | None, n_iter: int | None,
          solver: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
    """:func:`recommended_denoise` of the image as it is (grey, or colour with a colour prior)."""
    resolved = denoising_method(method, energy)
    field = recommended_denoiser(model, sigma) if method == "auto" and resolved == "tweedie" else None
    if field is not None:
        w = field.weight if weight is None else weight
        x = field_denoise(y, energy, sigma=sigma, level=field.level, weight=w, n_iter=n_iter or field.n_iter,
                          start=field.start, **solver)
        return x, {"method": "lbfgs", "weight": w, "level": field.level, "start": field.start}
    w = recommended_weight(model, sigma) if weight is None else weight
    x = denoise(y, energy, sigma=sigma, method=resolved, weight=w, n_iter=n_iter, **solver)
    return x, {"method": resolved, **({} if resolved == "tweedie" else {"weight": w})}
