"""The library's front door for restoring images: :func:`denoise`, :func:`restore` and :func:`estimate_noise`,
NumPy (or torch) in and out, the prior's presets as the defaults. ``scorematch denoise`` and the other restoration
commands call exactly these functions."""

from __future__ import annotations

import logging
import os
from typing import Union

import numpy as np
import torch
from torch import Tensor

from .energies.base import Energy
from .prior import ImagePrior, as_prior, default_prior, load_prior
from .tasks import MAP, LinearOperator, PaperSteps, Tweedie
from .tasks import denoise as _denoise
from .tasks import restore as _restore
from .tasks import superresolve as _superresolve
from .tasks.noise_level import estimate_noise as _estimate_noise
from .tasks.operators import Downsample

__all__ = ["denoise", "restore", "estimate_noise", "PriorLike"]

log = logging.getLogger(__name__)

#: What a ``prior`` argument may be: an image prior, an energy (default rules, no presets), a bundled model's name or
#: a model file's path; None takes the default prior for the image's channels.
PriorLike = Union[ImagePrior, Energy, str, os.PathLike, None]
Image = Union[np.ndarray, Tensor]


def denoise(image: Image, sigma: float | None = None, prior: PriorLike = None, *, channel_axis: int | None = None,
            solver: MAP | PaperSteps | Tweedie | None = None, device: str | torch.device | None = None,
            progress: bool = False) -> Image:
    """Remove additive white Gaussian noise from an image.

    Parameters
    ----------
    image : ndarray or Tensor
        A NumPy image (H, W), or (H, W, C) / (C, H, W) with ``channel_axis`` naming the channels (C = 3: RGB);
        float values on [0, 1] (noise may leave it), or uint8 / uint16 (divided by 255 / 65535). Or a torch tensor
        (B, C, H, W) on [0, 1].
    sigma : float, optional
        The noise std on the [0, 1] scale (e.g. ``15 / 255``); None: estimated with the prior
        (:func:`estimate_noise`).
    prior : ImagePrior, Energy, str or path, optional
        Default: the bundled default prior for the image's channels (:func:`scorematch.prior.default_prior`).
    channel_axis : int, optional
        The axis of a NumPy image's channels (None: a grey image).
    solver : MAP, PaperSteps or Tweedie, optional
        Default: the prior's preset at ``sigma`` (:func:`scorematch.tasks.denoise`).
    device : str or torch.device, optional
        Where to compute (default: the tensor's device, the CPU for NumPy).
    progress : bool
        Show a progress bar of the solver's evaluations on stderr.

    Returns
    -------
    ndarray or Tensor
        The denoised image, shaped like ``image``: a float64 array for a NumPy image (computed in float32), a
        tensor of ``image``'s dtype for a tensor.

    Examples
    --------
    >>> import numpy as np
    >>> import scorematch as sm
    >>> noisy = np.clip(0.5 + 0.1 * np.random.default_rng(0).standard_normal((32, 32)), 0, 1)
    >>> sm.denoise(noisy, sigma=0.1).shape
    (32, 32)
    """
    y, back = _as_batch(image, channel_axis, device)
    prior = _prior(prior, y)
    if sigma is None:
        sigma = float(estimate_noise(y, prior).max())
        log.info("estimated noise std %.4g (%.3g/255)", sigma, sigma * 255)
    prior.check_level(sigma)
    return back(_denoise(y, prior, sigma=float(sigma), solver=solver, progress=progress))


def restore(image: Image, operator: LinearOperator, prior: PriorLike = None, *, sigma: float,
            channel_axis: int | None = None, solver: MAP | PaperSteps | None = None,
            device: str | torch.device | None = None, progress: bool = False) -> Image:
    """Restore the image behind ``image = A x + noise`` (``A`` the operator) by MAP with a prior.

    Parameters
    ----------
    image : ndarray or Tensor
        The observation, as for :func:`denoise`.
    operator : LinearOperator
        ``A``: :class:`~scorematch.Blur`, :class:`~scorematch.Inpaint`, :class:`~scorematch.Downsample`,
        :class:`~scorematch.Denoising`, or a deepinv ``LinearPhysics`` (anything with ``A`` and ``A_adjoint``).
    prior : ImagePrior, Energy, str or path, optional
        Default: the bundled default prior for the image's channels.
    sigma : float
        The noise std on the [0, 1] scale; 0 for an exact constraint (inpainting without noise,
        super-resolution).
    channel_axis, device, progress
        As for :func:`denoise`.
    solver : MAP or PaperSteps, optional
        Default: MAP with the prior's preset for the operator's task (:func:`scorematch.tasks.restore`).

    Returns
    -------
    ndarray or Tensor
        The restored image (shaped like the image behind the observation), as :func:`denoise` returns.

    Examples
    --------
    >>> import numpy as np
    >>> import scorematch as sm
    >>> small = np.random.default_rng(0).random((16, 16))
    >>> sm.restore(small, sm.Downsample(2), sigma=0, solver=sm.MAP(iterations=3)).shape
    (32, 32)
    """
    y, back = _as_batch(image, channel_axis, device)
    prior = _prior(prior, y)
    if isinstance(operator, Downsample) and sigma == 0:
        return back(_superresolve(y, prior, factor=operator.factor, solver=solver, progress=progress))
    return back(_restore(y, operator, prior, sigma=sigma, solver=solver, progress=progress))


def estimate_noise(image: Image, prior: PriorLike = None, *, channel_axis: int | None = None) -> float | Tensor:
    """The std of an image's additive white Gaussian noise, on the [0, 1] scale: with a noise-conditional prior, the
    level at which its Tweedie residual is self-consistent; with another, the wavelet median-absolute-deviation
    estimate (:func:`scorematch.tasks.noise_level.estimate_noise`).

    Parameters
    ----------
    image : ndarray or Tensor
        As for :func:`denoise`.
    prior : ImagePrior, Energy, str or path, optional
        Default: the bundled default prior for the image's channels, as :func:`denoise` takes.
    channel_axis : int, optional

    Returns
    -------
    float for a NumPy image; Tensor (B,) for a batch.

    Examples
    --------
    >>> import numpy as np
    >>> import scorematch as sm
    >>> noisy = 0.5 + 0.05 * np.random.default_rng(0).standard_normal((256, 256))
    >>> round(sm.estimate_noise(noisy), 2)
    0.05
    """
    y, _ = _as_batch(image, channel_axis, None)
    prior = _prior(prior, y)
    sigma = _estimate_noise(y, energy=prior if prior.noise_conditional else None)
    return float(sigma[0]) if isinstance(image, np.ndarray) else sigma


def _prior(prior: PriorLike, y: Tensor) -> ImagePrior:
    """The prior a call names (or the default for ``y``'s channels), on ``y``'s device and in its dtype."""
    if prior is None:
        prior = default_prior(y.shape[1])
    elif isinstance(prior, (str, os.PathLike)):
        prior = load_prior(prior)
    return as_prior(prior).to(device=y.device, dtype=y.dtype)


def _as_batch(image: Image, channel_axis: int | None, device) -> tuple[Tensor, callable]:
    """``image`` as a (B, C, H, W) float tensor, and the function that turns a result back into ``image``'s form."""
    if isinstance(image, Tensor):
        if image.dim() != 4 or not image.is_floating_point():
            raise ValueError(f"a tensor image must be a float (B, C, H, W) batch, got {image.dtype} of shape "
                             f"{tuple(image.shape)}; for one image use x[None, None] or x[None]")
        moved = image.to(device) if device is not None else image
        return moved, lambda out: out.to(image.device)
    arr = np.asarray(image)
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(arr.dtype)
    if scale is None and not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"image must hold floats on [0, 1] or uint8/uint16 levels, got dtype {arr.dtype}")
    arr = arr.astype(np.float64) / (scale or 1.0)
    if channel_axis is None:
        if arr.ndim != 2:
            raise ValueError(f"a grey image must be 2-D (H, W), got shape {arr.shape}; for colour pass "
                             "channel_axis=-1 (H, W, C) or 0 (C, H, W)")
        chw, axis = arr[None], None
    else:
        if arr.ndim != 3:
            raise ValueError(f"with channel_axis the image must be 3-D, got shape {arr.shape}")
        axis = channel_axis % 3
        chw = np.moveaxis(arr, axis, 0)
    if not np.isfinite(chw).all():
        raise ValueError("the image contains NaN or inf values")
    y = torch.from_numpy(np.ascontiguousarray(chw)).float()[None]  # (1, C, H, W), computed in float32
    if device is not None:
        y = y.to(device)

    def back(out: Tensor) -> np.ndarray:
        res = out[0].detach().cpu().double().numpy()  # (C, H, W)
        return res[0] if axis is None else np.moveaxis(res, 0, axis)

    return y, back
